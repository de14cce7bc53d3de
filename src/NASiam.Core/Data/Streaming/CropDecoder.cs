using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Advanced;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace NASiam.Core.Data.Streaming;

/// <summary>
/// Decodes one image file and cuts square crops from the ORIGINAL pixels, crop before resize as
/// torchvision does: the file is first checked strictly by <see cref="ImageDecoder.Check"/> (a
/// truncated or corrupt file is an <see cref="InvalidDataException"/> naming it, never filled in),
/// then decoded by SixLabors.ImageSharp 2.1.13 (JPEG, PNG, BMP; binary PPM/PGM by <see cref="ImageDecoder"/>),
/// chosen by measurement among NetVips, SkiaSharp, ImageSharp and StbImageSharp
/// (bench/data-vs-torchvision/DecoderBench: lowest CPU time per decode + crop + resize of ~500×375
/// JPEGs). Resampling is ImageSharp's triangle filter (bilinear with an antialiasing support when
/// downscaling, like PIL's BILINEAR in torchvision). EXIF orientation is not applied (PIL does not
/// either). Thread-safe; each call uses one thread.
/// </summary>
public static class CropDecoder
{
    /// <summary>One decode per worker thread: ImageSharp's own parallelism would oversubscribe the decode workers.</summary>
    static readonly Configuration SingleThreaded = CreateConfiguration();

    static Configuration CreateConfiguration()
    {
        var c = Configuration.Default.Clone();
        c.MaxDegreeOfParallelism = 1;
        c.PreferContiguousImageBuffers = true;
        // ImageSharp's default pool may retain a large share of the host's memory; a streamed epoch needs
        // only a few images' worth (a 500x375 RGB image is 0.56 MB), so RSS stays flat over the data set.
        c.MemoryAllocator = SixLabors.ImageSharp.Memory.MemoryAllocator.Create(new SixLabors.ImageSharp.Memory.MemoryAllocatorOptions { MaximumPoolSizeMegabytes = 64 });
        return c;
    }

    /// <summary>
    /// Decodes <paramref name="file"/> and writes one <paramref name="size"/>² RGB crop per entry of
    /// <paramref name="boxes"/> into <paramref name="destination"/>, HWC uint8, consecutive
    /// (crop k at offset k·size²·3). <paramref name="boxes"/> receives the image's width and height
    /// and returns the crop rectangles in its pixel coordinates. Returns the image's (width, height).
    /// Throws <see cref="InvalidDataException"/> naming the file when it is truncated, corrupt or not decodable.
    /// </summary>
    public static (int Width, int Height) DecodeCrops(string file, int size, Func<int, int, IReadOnlyList<CropBox>> boxes, Span<byte> destination)
    {
        var bytes = File.ReadAllBytes(file);
        using var image = Load(bytes, file);
        var list = boxes(image.Width, image.Height);
        var one = size * size * 3;
        if (destination.Length < list.Count * one) throw new ArgumentException($"Destination holds {destination.Length} bytes; {list.Count} crops of {size} px need {list.Count * one}.");
        for (int k = 0; k < list.Count; k++)
            Crop(image, list[k], size, destination.Slice(k * one, one), file);
        return (image.Width, image.Height);
    }

    /// <summary>Checks <paramref name="bytes"/> strictly and decodes them to RGB; <paramref name="source"/> names the file in errors.</summary>
    public static Image<Rgb24> Load(byte[] bytes, string source)
    {
        var format = ImageDecoder.Check(bytes, source);
        if (format == ImageFormat.Pnm)
        {
            var pnm = ImageDecoder.Decode(bytes, source);
            return Image.LoadPixelData<Rgb24>(SingleThreaded, pnm.Rgb, pnm.Width, pnm.Height);
        }
        try
        {
            return Image.Load<Rgb24>(SingleThreaded, bytes);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"Image '{source}' is a corrupt {format} ({e.Message}).", e);
        }
    }

    /// <summary>
    /// Resamples <paramref name="box"/> of <paramref name="image"/> to size×size RGB (HWC) into
    /// <paramref name="destination"/>. Integer boxes crop then resize; fractional ones (the evaluation
    /// crop) resize the whole image to the scale the box implies, then crop, as Resize + CenterCrop does.
    /// </summary>
    public static void Crop(Image<Rgb24> image, CropBox box, int size, Span<byte> destination, string source = "image")
    {
        if (box.Width <= 0 || box.Height <= 0 || box.Left < -1e-6 || box.Top < -1e-6
            || box.Left + box.Width > image.Width + 1e-6 || box.Top + box.Height > image.Height + 1e-6)
            throw new ArgumentException($"Crop {box} lies outside the {image.Width}x{image.Height} image '{source}'.");
        Image<Rgb24> view;
        if (IsInteger(box))
        {
            var rect = new Rectangle((int)box.Left, (int)box.Top, (int)box.Width, (int)box.Height);
            view = image.Clone(c =>
            {
                if (rect.Width != image.Width || rect.Height != image.Height) c.Crop(rect);
                if (rect.Width != size || rect.Height != size) c.Resize(size, size, KnownResamplers.Triangle);
            });
        }
        else
        {
            // Resize the whole image so the box becomes size×size, then cut it (torchvision's two steps).
            int rw = (int)Math.Round(image.Width * size / box.Width), rh = (int)Math.Round(image.Height * size / box.Height);
            int left = Math.Clamp((int)Math.Round(box.Left * size / box.Width), 0, rw - size);
            int top = Math.Clamp((int)Math.Round(box.Top * size / box.Height), 0, rh - size);
            view = image.Clone(c =>
            {
                if (rw != image.Width || rh != image.Height) c.Resize(rw, rh, KnownResamplers.Triangle);
                c.Crop(new Rectangle(left, top, size, size));
            });
        }
        using (view)
        {
            if (!view.DangerousTryGetSinglePixelMemory(out var memory))
                throw new InvalidOperationException("ImageSharp returned a non-contiguous image despite PreferContiguousImageBuffers.");
            System.Runtime.InteropServices.MemoryMarshal.AsBytes(memory.Span).CopyTo(destination);
        }
    }

    static bool IsInteger(CropBox b) =>
        b.Left == Math.Floor(b.Left) && b.Top == Math.Floor(b.Top) && b.Width == Math.Floor(b.Width) && b.Height == Math.Floor(b.Height);
}

using StbImageSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Data;

/// <summary>
/// An ImageNet-style folder: <c>root/train/CLASS/*.png|jpg</c> and <c>root/val/CLASS/...</c>. Only
/// the file list is held in memory; <see cref="ReadTrain"/>/<see cref="ReadTest"/> decode the
/// requested files (StbImageSharp), resize the shorter side to <see cref="ImageSize"/> (bilinear,
/// antialiased) and centre-crop to a square, in parallel. Labels are the sorted train class folders.
/// </summary>
public sealed class ImageFolderDataSet : IImageDataSet
{
    /// <summary>File extensions read as images (case-insensitive).</summary>
    public static IReadOnlySet<string> ImageExtensions { get; } =
        new HashSet<string>(StringComparer.OrdinalIgnoreCase) { ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tga" };

    readonly (string File, long Label)[] _train;
    readonly (string File, long Label)[] _test;

    public string Name => "folder";
    public string Root { get; }
    public int ImageSize { get; }
    public int ClassCount => ClassNames.Count;
    public IReadOnlyList<string> ClassNames { get; }
    public ChannelNormalization Normalization => ChannelNormalization.ImageNet;
    public long TrainCount => _train.Length;
    public long TestCount => _test.Length;

    ImageFolderDataSet(string root, int imageSize, IReadOnlyList<string> classes, (string, long)[] train, (string, long)[] test)
    {
        (Root, ImageSize, ClassNames, _train, _test) = (root, imageSize, classes, train, test);
    }

    /// <summary>
    /// Lists the folder. Throws when root, train/ or val/ is missing, a class folder is empty, a
    /// val class is not a train class, or a non-image file sits in a class folder (hidden files are skipped).
    /// </summary>
    public static ImageFolderDataSet Open(string root, int imageSize)
    {
        if (imageSize < 8 || imageSize > 1024) throw new ArgumentException($"Image-folder image size must be in [8, 1024] px; got {imageSize}.");
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"Image folder '{root}' does not exist.");
        var trainDir = Path.Combine(root, "train");
        var valDir = Path.Combine(root, "val");
        foreach (var d in new[] { trainDir, valDir })
            if (!Directory.Exists(d)) throw new DirectoryNotFoundException($"Image folder '{root}' has no '{Path.GetFileName(d)}/' sub-folder; expected train/ and val/ with one sub-folder per class.");
        var classes = Directory.GetDirectories(trainDir).Select(Path.GetFileName).OfType<string>()
            .Where(n => !n.StartsWith('.')).Order(StringComparer.Ordinal).ToList();
        if (classes.Count < 2) throw new InvalidDataException($"Image folder '{trainDir}' has {classes.Count} class folder(s); expected at least 2.");
        var labelOf = classes.Select((c, i) => (c, i)).ToDictionary(x => x.c, x => (long)x.i, StringComparer.Ordinal);
        var train = List(trainDir, labelOf, requireAll: true);
        var test = List(valDir, labelOf, requireAll: false);
        return new ImageFolderDataSet(root, imageSize, classes, train, test);
    }

    static (string, long)[] List(string splitDir, Dictionary<string, long> labelOf, bool requireAll)
    {
        var items = new List<(string, long)>();
        var dirs = Directory.GetDirectories(splitDir).Where(d => !Path.GetFileName(d).StartsWith('.')).Order(StringComparer.Ordinal);
        foreach (var dir in dirs)
        {
            var name = Path.GetFileName(dir);
            if (!labelOf.TryGetValue(name, out var label))
                throw new InvalidDataException($"Class folder '{dir}' has no counterpart in train/; classes are taken from train/.");
            var files = Directory.GetFiles(dir).Where(f => !Path.GetFileName(f).StartsWith('.')).Order(StringComparer.Ordinal).ToList();
            var stray = files.FirstOrDefault(f => !ImageExtensions.Contains(Path.GetExtension(f)));
            if (stray is not null)
                throw new InvalidDataException($"'{stray}' is not an image file; expected only {string.Join("/", ImageExtensions)} files in class folders.");
            if (files.Count == 0) throw new InvalidDataException($"Class folder '{dir}' is empty; expected at least one image.");
            items.AddRange(files.Select(f => (f, label)));
        }
        if (requireAll && items.Count == 0) throw new InvalidDataException($"'{splitDir}' holds no images.");
        return items.ToArray();
    }

    public ImageBatch ReadTrain(long[] indices) => Read(_train, indices, "train");
    public ImageBatch ReadTest(long[] indices) => Read(_test, indices, "val");

    ImageBatch Read((string File, long Label)[] items, long[] indices, string split)
    {
        foreach (var i in indices)
            if (i < 0 || i >= items.Length) throw new ArgumentOutOfRangeException(nameof(indices), $"{split} index {i} is outside [0, {items.Length}).");
        var pixels = new byte[indices.Length * 3L * ImageSize * ImageSize];
        var stride = 3 * ImageSize * ImageSize;
        // Decoding dominates; torch ops inside run single-threaded per image, one image per worker.
        try
        {
            Parallel.For(0, indices.Length, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, b =>
            {
                var chw = DecodeSquare(items[indices[b]].File, ImageSize);
                Array.Copy(chw, 0, pixels, (long)b * stride, stride);
            });
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            // Surface the first file's own error (it names the file) rather than a wrapper.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerExceptions[0]);
        }
        var labels = indices.Select(i => items[i].Label).ToArray();
        return new ImageBatch(tensor(pixels, new long[] { indices.Length, 3, ImageSize, ImageSize }), tensor(labels));
    }

    /// <summary>Decodes one file to CHW uint8 bytes of size 3·S·S (shorter side resized to S, centre crop).</summary>
    public static byte[] DecodeSquare(string file, int size)
    {
        ImageResult image;
        try
        {
            image = ImageResult.FromMemory(File.ReadAllBytes(file), ColorComponents.RedGreenBlue);
        }
        catch (Exception e) when (e is not IOException and not UnauthorizedAccessException)
        {
            throw new InvalidDataException($"Image '{file}' could not be decoded ({e.Message}); expected a PNG/JPEG/BMP/GIF/TGA image.", e);
        }
        if (image is null || image.Width < 1 || image.Height < 1)
            throw new InvalidDataException($"Image '{file}' could not be decoded; expected a PNG/JPEG/BMP/GIF/TGA image.");
        using var scope = NewDisposeScope();
        var hwc = tensor(image.Data, new long[] { image.Height, image.Width, 3 });
        var x = hwc.permute(2, 0, 1).unsqueeze(0).to_type(ScalarType.Float32);
        var scale = (double)size / Math.Min(image.Width, image.Height);
        var h = Math.Max(size, (int)Math.Round(image.Height * scale));
        var w = Math.Max(size, (int)Math.Round(image.Width * scale));
        if (h != image.Height || w != image.Width)
            x = nn.functional.interpolate(x, new long[] { h, w }, mode: InterpolationMode.Bilinear, align_corners: false, antialias: true);
        var top = (h - size) / 2;
        var left = (w - size) / 2;
        var crop = x[.., .., TensorIndex.Slice(top, top + size), TensorIndex.Slice(left, left + size)];
        var bytes = crop.round().clamp(0, 255).to_type(ScalarType.Byte).contiguous();
        return bytes.data<byte>().ToArray();
    }

    public void Dispose() { }
}

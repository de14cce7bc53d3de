using System.Buffers.Binary;
using StbImageSharp;

namespace NASiam.Core.Data;

/// <summary>An image file format, as recognised from the file's first bytes (not its extension).</summary>
public enum ImageFormat { Unknown, Jpeg, Png, Bmp, Pnm, Tiff, WebP, Gif }

/// <summary>A decoded image: RGB bytes in HWC order, <see cref="Width"/>·<see cref="Height"/>·3 of them.</summary>
public sealed record DecodedImage(byte[] Rgb, int Width, int Height, ImageFormat Format);

/// <summary>
/// Decodes the image files of an image folder strictly: the format comes from the file's signature,
/// the file's structure is walked before decoding so that a truncated or corrupt file is refused by
/// name instead of being decoded with its missing part filled in (StbImageSharp, like stb_image,
/// returns a truncated JPEG with the missing rows grey). Checked: JPEG markers from SOI through the
/// entropy-coded scans to the end-of-image marker FFD9; every PNG chunk's length and CRC-32 up to
/// IEND; a BMP's pixel array against the file size; a binary PPM/PGM's pixel count. JPEG, PNG and
/// BMP are decoded by StbImageSharp; binary PPM (P6) and PGM (P5) with maxval up to 65535 here.
/// TIFF and WebP, which torchvision counts as images, are recognised and refused with a message
/// that says to convert them.
/// </summary>
public static class ImageDecoder
{
    /// <summary>The format named by the signature of <paramref name="bytes"/>.</summary>
    public static ImageFormat Sniff(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF) return ImageFormat.Jpeg;
        if (bytes.Length >= 8 && bytes[..8].SequenceEqual(PngSignature)) return ImageFormat.Png;
        if (bytes.Length >= 2 && bytes[0] == (byte)'B' && bytes[1] == (byte)'M') return ImageFormat.Bmp;
        if (bytes.Length >= 2 && bytes[0] == (byte)'P' && bytes[1] is (byte)'5' or (byte)'6') return ImageFormat.Pnm;
        if (bytes.Length >= 4 && (bytes[..4].SequenceEqual("II*\0"u8) || bytes[..4].SequenceEqual("MM\0*"u8))) return ImageFormat.Tiff;
        if (bytes.Length >= 12 && bytes[..4].SequenceEqual("RIFF"u8) && bytes[8..12].SequenceEqual("WEBP"u8)) return ImageFormat.WebP;
        if (bytes.Length >= 4 && bytes[..4].SequenceEqual("GIF8"u8)) return ImageFormat.Gif;
        return ImageFormat.Unknown;
    }

    static ReadOnlySpan<byte> PngSignature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>
    /// Reads and decodes <paramref name="file"/> to RGB. Throws <see cref="InvalidDataException"/>
    /// naming the file when it is empty, truncated, corrupt, of an unknown format or of a format this
    /// decoder cannot read (TIFF, WebP); <see cref="IOException"/> when it cannot be read at all.
    /// </summary>
    public static DecodedImage Decode(string file) => Decode(File.ReadAllBytes(file), file);

    /// <summary>
    /// The structural check alone (no pixel decoding), for decoders that fill in missing data
    /// themselves (<see cref="Streaming.CropDecoder"/>): returns the format (JPEG, PNG, BMP or PNM)
    /// or throws <see cref="InvalidDataException"/> naming <paramref name="source"/> exactly as
    /// <see cref="Decode(byte[], string)"/> does for empty, truncated, corrupt, unknown, TIFF, WebP and GIF files.
    /// </summary>
    public static ImageFormat Check(byte[] bytes, string source) => Inspect(bytes, source).Format;

    /// <summary>As <see cref="Decode(string)"/> on the file's bytes; <paramref name="source"/> names it in errors.</summary>
    public static DecodedImage Decode(byte[] bytes, string source)
    {
        var (format, pnm) = Inspect(bytes, source);
        if (pnm is not null) return pnm;
        InvalidDataException Bad(string why) => new($"Image '{source}' {why}.");
        ImageResult image;
        try
        {
            image = ImageResult.FromMemory(bytes, ColorComponents.RedGreenBlue);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw Bad($"is a corrupt {format} ({e.Message})");
        }
        if (image is null || image.Width < 1 || image.Height < 1 || image.Data is null || image.Data.Length < (long)image.Width * image.Height * 3)
            throw Bad($"is a corrupt {format} (the decoder returned no pixels)");
        return new DecodedImage(image.Data, image.Width, image.Height, format);
    }

    /// <summary>
    /// The one structural check behind <see cref="Check"/> and <see cref="Decode(byte[], string)"/>:
    /// the format, and for PNM (whose check is its decoder) the decoded image, so it is decoded once.
    /// </summary>
    static (ImageFormat Format, DecodedImage? Pnm) Inspect(byte[] bytes, string source)
    {
        InvalidDataException Bad(string why) => new($"Image '{source}' {why}.");
        if (bytes.Length == 0) throw Bad("is empty (0 bytes)");
        var format = Sniff(bytes);
        switch (format)
        {
            case ImageFormat.Jpeg: CheckJpeg(bytes, Bad); break;
            case ImageFormat.Png: CheckPng(bytes, Bad); break;
            case ImageFormat.Bmp: CheckBmp(bytes, Bad); break;
            case ImageFormat.Pnm: return (format, DecodePnm(bytes, Bad));
            case ImageFormat.Tiff:
            case ImageFormat.WebP:
                throw Bad($"is a {format} image, which this build cannot decode (JPEG, PNG, BMP, PPM and PGM only); convert it to PNG or JPEG");
            case ImageFormat.Gif:
                throw Bad("is a GIF image under an image extension; torchvision's folders hold JPEG/PNG/BMP/PPM/PGM/TIFF/WebP; convert it to PNG");
            default:
                throw Bad($"is not a JPEG, PNG, BMP, PPM, PGM, TIFF or WebP image (its first bytes are {Convert.ToHexString(bytes.AsSpan(0, Math.Min(8, bytes.Length)))})");
        }
        return (format, null);
    }

    /// <summary>Walks JPEG segments and entropy-coded data to the EOI marker (FFD9); bytes after EOI are allowed.</summary>
    static void CheckJpeg(byte[] b, Func<string, InvalidDataException> bad)
    {
        Exception Truncated() => bad($"is truncated: its {b.Length} bytes end before the JPEG end-of-image marker (FFD9)");
        int pos = 2;
        bool frame = false, scan = false;
        while (true)
        {
            if (pos >= b.Length) throw Truncated();
            if (b[pos] != 0xFF) throw bad($"is a corrupt JPEG: byte {pos} should start a marker (FF), found {b[pos]:X2}");
            while (pos < b.Length && b[pos] == 0xFF) pos++;          // fill bytes
            if (pos >= b.Length) throw Truncated();
            var marker = b[pos++];
            if (marker == 0xD9)
            {
                if (!frame || !scan) throw bad("is a corrupt JPEG: it ends (FFD9) before any frame or scan");
                return;
            }
            if (marker is 0x01 or (>= 0xD0 and <= 0xD8)) continue;  // TEM, RSTn, SOI: no length
            if (pos + 2 > b.Length) throw Truncated();
            int length = BinaryPrimitives.ReadUInt16BigEndian(b.AsSpan(pos));
            if (length < 2) throw bad($"is a corrupt JPEG: marker FF{marker:X2} at byte {pos - 2} has length {length}");
            pos += length;
            if (pos > b.Length) throw Truncated();
            if (marker is >= 0xC0 and <= 0xCF and not 0xC4 and not 0xC8 and not 0xCC) frame = true;
            if (marker != 0xDA) continue;
            scan = true;
            // Entropy-coded data: FF00 is a stuffed byte, FFD0-FFD7 restart markers, FFFF fill; any other FFxx ends the scan.
            while (true)
            {
                var next = Array.IndexOf(b, (byte)0xFF, pos);
                if (next < 0 || next + 1 >= b.Length) throw Truncated();
                var m = b[next + 1];
                if (m == 0x00 || m is >= 0xD0 and <= 0xD7) { pos = next + 2; continue; }
                if (m == 0xFF) { pos = next + 1; continue; }
                pos = next;
                break;
            }
        }
    }

    /// <summary>Walks PNG chunks to IEND, checking each chunk's CRC-32.</summary>
    static void CheckPng(byte[] b, Func<string, InvalidDataException> bad)
    {
        int pos = 8;
        bool first = true, data = false;
        while (true)
        {
            if (pos + 8 > b.Length) throw bad($"is truncated: its {b.Length} bytes end before the PNG end chunk (IEND)");
            var length = BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(pos));
            var type = System.Text.Encoding.ASCII.GetString(b, pos + 4, 4);
            if (first && type != "IHDR") throw bad($"is a corrupt PNG: its first chunk is '{type}', not IHDR");
            first = false;
            if (length > int.MaxValue || pos + 12L + length > b.Length)
                throw bad($"is truncated: its {b.Length} bytes end inside the PNG chunk '{type}' at byte {pos} (before IEND)");
            var stored = BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(pos + 8 + (int)length));
            if (Crc32(b.AsSpan(pos + 4, 4 + (int)length)) != stored)
                throw bad($"is a corrupt PNG: chunk '{type}' at byte {pos} fails its CRC-32 check");
            if (type == "IDAT") data = true;
            if (type == "IEND")
            {
                if (!data) throw bad("is a corrupt PNG: it has no image data (IDAT)");
                return;
            }
            pos += 12 + (int)length;
        }
    }

    static readonly uint[] CrcTable = Enumerable.Range(0, 256).Select(n =>
    {
        var c = (uint)n;
        for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        return c;
    }).ToArray();

    /// <summary>CRC-32 (ISO-HDLC, as PNG and zlib use it).</summary>
    public static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint c = 0xFFFFFFFF;
        foreach (var d in data) c = CrcTable[(c ^ d) & 0xFF] ^ (c >> 8);
        return ~c;
    }

    /// <summary>Checks an uncompressed BMP's pixel array (or the size its header states) against the file size.</summary>
    static void CheckBmp(byte[] b, Func<string, InvalidDataException> bad)
    {
        if (b.Length < 30) throw bad($"is truncated: {b.Length} bytes cannot hold a BMP header");
        var declared = BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(2));
        var offset = BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(10));
        var headerSize = BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(14));
        long needed = declared;
        if (headerSize >= 40 && b.Length >= 34)
        {
            long width = BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(18));
            long height = Math.Abs((long)BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(22)));
            int bpp = BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(28));
            var compression = BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(30));
            if (compression is 0 or 3 or 6)
                needed = Math.Max(needed, offset + (width * bpp + 31) / 32 * 4 * height);
        }
        if (needed > b.Length) throw bad($"is truncated: the BMP needs {needed} bytes, the file has {b.Length}");
    }

    /// <summary>The PNM checks of <see cref="DecodePnm"/> without keeping the pixels.</summary>
    /// <summary>Binary PPM (P6) / PGM (P5), maxval 1..65535 (16-bit samples big-endian), scaled to 0..255.</summary>
    static DecodedImage DecodePnm(byte[] b, Func<string, InvalidDataException> bad)
    {
        int pos = 2;
        long Next(string what)
        {
            while (pos < b.Length)
            {
                if (b[pos] == (byte)'#') { while (pos < b.Length && b[pos] != (byte)'\n') pos++; }
                else if (char.IsWhiteSpace((char)b[pos])) pos++;
                else break;
            }
            long v = 0;
            int start = pos;
            while (pos < b.Length && b[pos] is >= (byte)'0' and <= (byte)'9' && v < int.MaxValue) v = v * 10 + (b[pos++] - '0');
            if (pos == start) throw bad($"is a corrupt {(b[1] == '6' ? "PPM" : "PGM")}: its header has no {what}");
            return v;
        }
        var channels = b[1] == (byte)'6' ? 3 : 1;
        var width = Next("width");
        var height = Next("height");
        var max = Next("maxval");
        if (width < 1 || height < 1 || max < 1 || max > 65535 || width * height > 1L << 28)
            throw bad($"is a corrupt PNM: width {width}, height {height}, maxval {max}");
        pos++; // the single whitespace before the samples
        var sampleBytes = max > 255 ? 2 : 1;
        var needed = pos + width * height * channels * sampleBytes;
        if (needed > b.Length) throw bad($"is truncated: the {(channels == 3 ? "PPM" : "PGM")} needs {needed} bytes, the file has {b.Length}");
        var rgb = new byte[width * height * 3];
        for (long i = 0; i < width * height; i++)
            for (int c = 0; c < 3; c++)
            {
                var s = pos + (i * channels + (channels == 3 ? c : 0)) * sampleBytes;
                long v = sampleBytes == 2 ? (b[s] << 8) | b[s + 1] : b[s];
                rgb[i * 3 + c] = (byte)((v * 255 + max / 2) / max);
            }
        return new DecodedImage(rgb, (int)width, (int)height, ImageFormat.Pnm);
    }
}

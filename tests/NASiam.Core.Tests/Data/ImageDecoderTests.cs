using NASiam.Core.Data;

namespace NASiam.Core.Tests.Data;

public class ImageDecoderTests
{
    static (byte, byte, byte) Quadrants(int x, int y) => (x < 8, y < 8) switch
    {
        (true, true) => (250, 0, 0),
        (false, true) => (0, 250, 0),
        (true, false) => (0, 0, 250),
        _ => (120, 120, 120),
    };

    static (int R, int G, int B) Pixel(DecodedImage image, int x, int y)
    {
        var i = (y * image.Width + x) * 3;
        return (image.Rgb[i], image.Rgb[i + 1], image.Rgb[i + 2]);
    }

    [Fact]
    public void Decode_ReadsJpegPngAndPnm_BySignatureNotExtension()
    {
        foreach (var (bytes, format) in new[]
                 {
                     (TestImages.Jpeg(16, 16, Quadrants), ImageFormat.Jpeg),
                     (TestImages.Png(16, 16, Quadrants), ImageFormat.Png),
                     (TestImages.Pnm(16, 16, false, Quadrants), ImageFormat.Pnm),
                 })
        {
            var image = ImageDecoder.Decode(bytes, "x.png");
            Assert.Equal((16, 16, format), (image.Width, image.Height, image.Format));
            int tolerance = format == ImageFormat.Jpeg ? 4 : 0;
            foreach (var (x, y) in new[] { (2, 2), (13, 2), (2, 13), (13, 13) })
            {
                var expected = Quadrants(x, y);
                var actual = Pixel(image, x, y);
                Assert.InRange(actual.R, expected.Item1 - tolerance, expected.Item1 + tolerance);
                Assert.InRange(actual.G, expected.Item2 - tolerance, expected.Item2 + tolerance);
                Assert.InRange(actual.B, expected.Item3 - tolerance, expected.Item3 + tolerance);
            }
        }
        var grey = ImageDecoder.Decode(TestImages.Pnm(4, 2, true, (x, y) => ((byte)(x * 60 + y), 0, 0)), "g.pgm");
        Assert.Equal((181, 181, 181), Pixel(grey, 3, 1));
    }

    [Fact]
    public void Decode_NamesATruncatedJpeg_WhereverItIsCut()
    {
        var jpeg = TestImages.Jpeg(32, 32, Quadrants);
        Assert.Equal(new byte[] { 0xFF, 0xD9 }, jpeg[^2..]);
        foreach (var length in new[] { 3, 20, 200, jpeg.Length / 2, jpeg.Length - 2, jpeg.Length - 1 })
        {
            var e = Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(jpeg[..length], "cut.jpg"));
            Assert.Contains("Image 'cut.jpg' is truncated", e.Message);
        }
        // Bytes after the end-of-image marker (phone cameras append data there) are allowed.
        var trailing = ImageDecoder.Decode([.. jpeg, .. "trailer"u8], "t.jpg");
        Assert.Equal(32, trailing.Width);
        var notAMarker = jpeg.ToArray();
        notAMarker[71] = 0x12; // after SOI (2 bytes) and the quantisation table segment (2 + 67)
        Assert.Contains("is a corrupt JPEG: byte 71 should start a marker", Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(notAMarker, "c.jpg")).Message);
    }

    [Fact]
    public void Decode_NamesATruncatedOrCorruptPng()
    {
        var png = TestImages.Png(16, 16, Quadrants);
        foreach (var length in new[] { 10, 40, png.Length - 12, png.Length - 1 })
            Assert.Contains("Image 'p.png' is truncated", Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(png[..length], "p.png")).Message);
        var flipped = png.ToArray();
        flipped[50] ^= 0x01; // inside IDAT
        Assert.Contains("is a corrupt PNG: chunk 'IDAT' at byte 33 fails its CRC-32 check",
            Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(flipped, "p.png")).Message);
    }

    [Fact]
    public void Decode_NamesTruncatedBmpAndPnm_EmptyFiles_AndOtherFormats()
    {
        // A 4×4 24-bit BMP: 54-byte header, rows padded to 12 bytes.
        var bmp = new byte[54 + 4 * 12];
        "BM"u8.CopyTo(bmp);
        BitConverter.GetBytes(bmp.Length).CopyTo(bmp, 2);
        BitConverter.GetBytes(54).CopyTo(bmp, 10);
        BitConverter.GetBytes(40).CopyTo(bmp, 14);
        BitConverter.GetBytes(4).CopyTo(bmp, 18);
        BitConverter.GetBytes(4).CopyTo(bmp, 22);
        BitConverter.GetBytes((short)1).CopyTo(bmp, 26);
        BitConverter.GetBytes((short)24).CopyTo(bmp, 28);
        Array.Fill(bmp, (byte)77, 54, 48);
        Assert.Equal((77, 77, 77), Pixel(ImageDecoder.Decode(bmp, "b.bmp"), 1, 1));
        Assert.Contains("is truncated: the BMP needs 102 bytes, the file has 80", Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(bmp[..80], "b.bmp")).Message);
        var ppm = TestImages.Pnm(8, 8, false, Quadrants);
        Assert.Contains("is truncated: the PPM needs", Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(ppm[..^1], "p.ppm")).Message);
        Assert.Contains("'e.jpg' is empty", Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode([], "e.jpg")).Message);
        Assert.Contains("is a GIF image", Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode("GIF89a...."u8.ToArray(), "g.png")).Message);
        Assert.Contains("is a WebP image, which this build cannot decode", Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode("RIFF\0\0\0\0WEBPVP8 "u8.ToArray(), "w.webp")).Message);
        Assert.Contains("first bytes are 3C68746D6C3E", Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode("<html>"u8.ToArray(), "h.jpg")).Message);
    }

    [Fact]
    public void FolderCheck_DecodesEverything_OrASamplePerClass_AndListsEveryFailure()
    {
        using var dir = new TempDir();
        void Write(string rel, byte[] bytes)
        {
            var path = Path.Combine(dir.Path, rel);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, bytes);
        }
        var jpeg = TestImages.Jpeg(16, 16, Quadrants);
        for (int i = 0; i < 10; i++) { Write($"train/a/{i}.jpg", jpeg); Write($"train/b/{i}.jpg", jpeg); }
        Write("val/a/v.jpg", jpeg);
        Write("val/b/v.jpg", jpeg[..100]);
        Write("train/b/9.jpg", jpeg[..^2]);
        using var ds = ImageFolderDataSet.Open(dir.Path, 16);
        var all = ImageFolderCheck.Run(ds);
        Assert.Equal((20L, 2L), (all.TrainChecked, all.TestChecked));
        Assert.Equal((19L, 1L), (all.TrainDecoded, all.TestDecoded)); // it counted attempts, beside the failures
        Assert.Equal((16, 16), (all.MinSide, all.MaxSide));
        Assert.False(all.Ok);
        Assert.Equal(["train/b/9.jpg", "val/b/v.jpg"], all.Unreadable.Select(u => u.Path));
        Assert.All(all.Unreadable, u => Assert.Contains("is truncated", u.Error));
        var sample = ImageFolderCheck.Run(ds, samplePerClass: 3);
        Assert.Equal((6L, 2L), (sample.TrainChecked, sample.TestChecked));
        Assert.Equal((5L, 1L), (sample.TrainDecoded, sample.TestDecoded));
        Assert.Equal(["train/b/9.jpg", "val/b/v.jpg"], sample.Unreadable.Select(u => u.Path)); // the last of each class is always sampled
        Assert.Throws<ArgumentException>(() => ImageFolderCheck.Run(ds, -1));
    }
}

using System.Buffers.Binary;
using System.IO.Compression;
using NASiam.Core.Data;
using TorchSharp;

namespace NASiam.Core.Tests.Data;

public class ImageFolderDataSetTests
{
    /// <summary>Writes an 8-bit RGB PNG (filter 0 rows, zlib, CRC-32) of a solid colour.</summary>
    static void WritePng(string file, int width, int height, byte r, byte g, byte b)
    {
        var raw = new MemoryStream();
        for (int y = 0; y < height; y++) { raw.WriteByte(0); for (int x = 0; x < width; x++) { raw.WriteByte(r); raw.WriteByte(g); raw.WriteByte(b); } }
        var z = new MemoryStream();
        using (var zs = new ZLibStream(z, CompressionLevel.Fastest, leaveOpen: true)) zs.Write(raw.ToArray());
        var png = new MemoryStream();
        png.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8; ihdr[9] = 2;
        Chunk(png, "IHDR", ihdr);
        Chunk(png, "IDAT", z.ToArray());
        Chunk(png, "IEND", []);
        File.WriteAllBytes(file, png.ToArray());
    }

    static void Chunk(Stream s, string type, byte[] data)
    {
        var len = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(len, data.Length);
        s.Write(len);
        var body = System.Text.Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        s.Write(body);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(body));
        s.Write(crc);
    }

    static uint Crc32(byte[] data)
    {
        uint c = 0xFFFFFFFF;
        foreach (var d in data)
        {
            c ^= d;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
        }
        return ~c;
    }

    static string MakeFolder(TempDir dir)
    {
        foreach (var (split, n) in new[] { ("train", 3), ("val", 1) })
        {
            Directory.CreateDirectory(Path.Combine(dir.Path, split, "cats"));
            Directory.CreateDirectory(Path.Combine(dir.Path, split, "dogs"));
            for (int i = 0; i < n; i++)
            {
                WritePng(Path.Combine(dir.Path, split, "cats", $"c{i}.png"), 40, 20, 200, 10, 10);
                WritePng(Path.Combine(dir.Path, split, "dogs", $"d{i}.PNG"), 12, 30, 10, 10, 250);
            }
        }
        return dir.Path;
    }

    [Fact]
    public void Open_LabelsClassFolders_AndResizesToSquares()
    {
        using var dir = new TempDir();
        using var ds = DataSets.Open("folder", MakeFolder(dir), new DataSetOpenOptions { ImageSize = 16 });
        Assert.Equal(["cats", "dogs"], ds.ClassNames);
        Assert.Equal(6, ds.TrainCount);
        Assert.Equal(2, ds.TestCount);
        using var batch = ds.ReadTrain([0, 3, 5]);
        Assert.Equal(new long[] { 3, 3, 16, 16 }, batch.Images.shape);
        Assert.Equal(new long[] { 0, 1, 1 }, batch.Labels.data<long>().ToArray());
        Assert.Equal(200, batch.Images[0, 0, 8, 8].item<byte>());
        Assert.Equal(250, batch.Images[1, 2, 3, 3].item<byte>());
        using var test = ds.ReadTest([1]);
        Assert.Equal(1, test.Labels[0].item<long>());
        Assert.Equal(ChannelNormalization.ImageNet, ds.Normalization);
    }

    [Fact]
    public void Open_ReportsANonImageFile()
    {
        using var dir = new TempDir();
        MakeFolder(dir);
        var stray = Path.Combine(dir.Path, "train", "dogs", "notes.txt");
        File.WriteAllText(stray, "hello");
        var e = Assert.Throws<InvalidDataException>(() => DataSets.Open("folder", dir.Path));
        Assert.Contains(stray, e.Message);
    }

    [Fact]
    public void ReadTrain_NamesAnUnreadableImage()
    {
        using var dir = new TempDir();
        MakeFolder(dir);
        var bad = Path.Combine(dir.Path, "train", "cats", "c1.png");
        File.WriteAllText(bad, "not a png");
        using var ds = DataSets.Open("folder", dir.Path, new DataSetOpenOptions { ImageSize = 8 });
        var e = Assert.Throws<InvalidDataException>(() => ds.ReadTrain([0, 1]));
        Assert.Contains(bad, e.Message);
    }

    [Fact]
    public void Open_RejectsEmptyClassFolders_AndMissingSplits()
    {
        using var dir = new TempDir();
        MakeFolder(dir);
        var empty = Path.Combine(dir.Path, "train", "zebras");
        Directory.CreateDirectory(empty);
        var e = Assert.Throws<InvalidDataException>(() => DataSets.Open("folder", dir.Path));
        Assert.Contains(empty, e.Message);
        Directory.Delete(empty);
        Directory.Delete(Path.Combine(dir.Path, "val"), true);
        var missing = Assert.Throws<DirectoryNotFoundException>(() => DataSets.Open("folder", dir.Path));
        Assert.Contains("val/", missing.Message);
    }
}

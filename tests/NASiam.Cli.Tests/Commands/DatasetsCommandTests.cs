using System.Text.Json;
using NASiam.Cli;

namespace NASiam.Cli.Tests.Commands;

public class DatasetsCommandTests
{
    static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        var code = NasiamCli.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    [Fact]
    public void Check_PrintsOneLineJsonSummary_ForSynthetic()
    {
        var (code, output, err) = Run("datasets", "check", "--dataset", "synthetic", "--synthetic-size", "200", "--seed", "4");
        Assert.True(code == 0, err);
        var line = Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        using var json = JsonDocument.Parse(line);
        var root = json.RootElement;
        Assert.Equal("synthetic", root.GetProperty("dataset").GetString());
        Assert.Equal(200, root.GetProperty("train").GetInt64());
        Assert.Equal(40, root.GetProperty("test").GetInt64());
        Assert.Equal(10, root.GetProperty("classes").GetInt32());
        Assert.Equal(32, root.GetProperty("imageSize").GetInt32());
        Assert.Equal(3, root.GetProperty("mean").GetArrayLength());
        Assert.All(root.GetProperty("std").EnumerateArray(), s => Assert.InRange(s.GetDouble(), 0.05, 0.5));
    }

    [Fact]
    public void Check_MeasuresCifarBinaryFiles()
    {
        var root = Directory.CreateTempSubdirectory("nasiam-cli-data-").FullName;
        try
        {
            var folder = Path.Combine(root, "cifar-10-batches-bin");
            Directory.CreateDirectory(folder);
            // Every pixel 51 (0.2) in R, 102 in G, 204 in B: the mean is exact, the std zero.
            var record = new byte[3073];
            record[0] = 3;
            Array.Fill(record, (byte)51, 1, 1024);
            Array.Fill(record, (byte)102, 1025, 1024);
            Array.Fill(record, (byte)204, 2049, 1024);
            foreach (var f in new[] { "data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch" })
                File.WriteAllBytes(Path.Combine(folder, f + ".bin"), [.. record, .. record]);
            var (code, output, err) = Run("datasets", "check", "--dataset", "cifar10", "--data", root);
            Assert.True(code == 0, err);
            using var json = JsonDocument.Parse(output);
            Assert.Equal(10, json.RootElement.GetProperty("train").GetInt64());
            Assert.Equal([0.2, 0.4, 0.8], json.RootElement.GetProperty("mean").EnumerateArray().Select(e => e.GetDouble()));
            Assert.All(json.RootElement.GetProperty("std").EnumerateArray(), s => Assert.Equal(0, s.GetDouble(), 4));
        }
        finally { Directory.Delete(root, true); }
    }

    [Fact]
    public void Check_ReportsAMissingFolder_AsBadInput()
    {
        var missing = Path.Combine(Path.GetTempPath(), "nasiam-no-such-folder-" + Guid.NewGuid().ToString("N"));
        var (code, output, err) = Run("datasets", "check", "--dataset", "folder", "--data", missing);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Empty(output);
        Assert.Contains(missing, err);
    }

    [Fact]
    public void Check_RejectsAnUnknownDataSet_AndMissingOptions()
    {
        var (code, _, err) = Run("datasets", "check", "--dataset", "mnist");
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("Unknown data set 'mnist'", err);
        (code, _, err) = Run("datasets", "check");
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("Option '--dataset' is required", err);
        (code, _, err) = Run("datasets", "check", "--dataset", "cifar10");
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("--data DIR", err);
    }

    /// <summary>An image folder of solid-colour PNGs: train 3 per class, val 1 per class, in two classes.</summary>
    static string ImageFolder()
    {
        var root = Directory.CreateTempSubdirectory("nasiam-cli-folder-").FullName;
        foreach (var (split, n) in new[] { ("train", 3), ("val", 1) })
            foreach (var cls in new[] { "cats", "dogs" })
            {
                var dir = Path.Combine(root, split, cls);
                Directory.CreateDirectory(dir);
                for (int i = 0; i < n; i++) File.WriteAllBytes(Path.Combine(dir, $"{i}.png"), Png(cls == "cats" ? (byte)255 : (byte)0));
            }
        return root;
    }

    /// <summary>A valid 8×8 RGB PNG of one grey level.</summary>
    static byte[] Png(byte level)
    {
        var raw = new MemoryStream();
        for (int y = 0; y < 8; y++) { raw.WriteByte(0); for (int x = 0; x < 24; x++) raw.WriteByte(level); }
        var z = new MemoryStream();
        using (var zs = new System.IO.Compression.ZLibStream(z, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true)) zs.Write(raw.ToArray());
        var png = new MemoryStream();
        png.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        void Chunk(string type, byte[] data)
        {
            var len = new byte[4];
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(len, data.Length);
            png.Write(len);
            var body = System.Text.Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
            png.Write(body);
            uint c = 0xFFFFFFFF;
            foreach (var d in body) { c ^= d; for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1; }
            var crc = new byte[4];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(crc, ~c);
            png.Write(crc);
        }
        Chunk("IHDR", [0, 0, 0, 8, 0, 0, 0, 8, 8, 2, 0, 0, 0]);
        Chunk("IDAT", z.ToArray());
        Chunk("IEND", []);
        return png.ToArray();
    }

    [Fact]
    public void Check_DecodesAFolder_AndReportsWhatItIgnored()
    {
        var root = ImageFolder();
        try
        {
            File.WriteAllText(Path.Combine(root, "train", "cats", "Thumbs.db"), "x");
            File.WriteAllText(Path.Combine(root, "train", "dogs", "desktop.ini"), "x");
            File.WriteAllText(Path.Combine(root, "val", "dogs", ".DS_Store"), "x");
            var (code, output, err) = Run("datasets", "check", "--dataset", "folder", "--data", root, "--image-size", "8");
            Assert.True(code == 0, err);
            using var json = JsonDocument.Parse(output);
            var r = json.RootElement;
            Assert.Equal(6, r.GetProperty("train").GetInt64());
            Assert.Equal(6, r.GetProperty("decoded").GetProperty("train").GetInt64());
            Assert.Equal(2, r.GetProperty("decoded").GetProperty("test").GetInt64());
            Assert.Equal(2, r.GetProperty("skipped").GetProperty("not an image extension").GetInt32());
            Assert.Equal(1, r.GetProperty("skipped").GetProperty("hidden").GetInt32());
            Assert.Equal(2, r.GetProperty("notices").GetArrayLength());
            Assert.Equal(0, r.GetProperty("unreadable").GetArrayLength());
            Assert.Equal(0.5, r.GetProperty("mean")[0].GetDouble(), 5); // half the images white, half black
            Assert.Contains("notice: train/: ignored 2 file(s)", err);
            Assert.Contains("train/cats/Thumbs.db", err);
            // The files' own size beside the batches' (imageSize): 8-px files at the default 224 px are said to be enlarged 28x.
            Assert.Equal(8, r.GetProperty("sourceShorterSide").GetProperty("max").GetInt32());
            Assert.DoesNotContain("enlarged", err);
            (code, output, err) = Run("datasets", "check", "--dataset", "folder", "--data", root);
            Assert.True(code == 0, err);
            using var large = JsonDocument.Parse(output);
            Assert.Equal(224, large.RootElement.GetProperty("imageSize").GetInt32());
            Assert.Contains("notice: the images' shorter side is 8-8 px, and batches are 224 px (data.imageSize, --image-size): every image is enlarged at least 28x", err);
            Assert.Equal(3, large.RootElement.GetProperty("notices").GetArrayLength());
        }
        finally { Directory.Delete(root, true); }
    }

    [Fact]
    public void Check_ExitsBadInput_NamingEveryTruncatedImage()
    {
        var root = ImageFolder();
        try
        {
            foreach (var f in new[] { "train/cats/1.png", "val/dogs/0.png" })
            {
                var path = Path.Combine(root, f);
                var bytes = File.ReadAllBytes(path);
                File.WriteAllBytes(path, bytes[..(bytes.Length - 20)]);
            }
            var (code, output, err) = Run("datasets", "check", "--dataset", "folder", "--data", root, "--image-size", "8");
            Assert.Equal(ExitCodes.BadInput, code);
            using var json = JsonDocument.Parse(output);
            var unreadable = json.RootElement.GetProperty("unreadable").EnumerateArray().Select(u => u.GetProperty("path").GetString()).ToList();
            Assert.Equal(["train/cats/1.png", "val/dogs/0.png"], unreadable);
            // Decoded counts what decoded, beside what was checked (it counted attempts).
            Assert.Equal((6, 2), (json.RootElement.GetProperty("checked").GetProperty("train").GetInt64(), json.RootElement.GetProperty("checked").GetProperty("test").GetInt64()));
            Assert.Equal((5, 1), (json.RootElement.GetProperty("decoded").GetProperty("train").GetInt64(), json.RootElement.GetProperty("decoded").GetProperty("test").GetInt64()));
            Assert.False(json.RootElement.TryGetProperty("mean", out _));
            Assert.Contains($"unreadable: Image '{Path.Combine(root, "train", "cats", "1.png")}' is truncated", err);
            Assert.Contains("2 image(s) could not be decoded", err);
            // One image per class and split: the first of each, so train/cats/1.png is not checked, val/dogs/0.png (its only image) is.
            (code, output, _) = Run("datasets", "check", "--dataset", "folder", "--data", root, "--image-size", "8", "--sample", "1");
            Assert.Equal(ExitCodes.BadInput, code);
            using var sampled = JsonDocument.Parse(output);
            Assert.Equal(2, sampled.RootElement.GetProperty("decoded").GetProperty("train").GetInt64());
            Assert.Equal("val/dogs/0.png", Assert.Single(sampled.RootElement.GetProperty("unreadable").EnumerateArray()).GetProperty("path").GetString());
        }
        finally { Directory.Delete(root, true); }
    }

    [Fact]
    public void Check_ExitsBadInput_OnASplitWithoutClassFolders_OrAnEmptyClass()
    {
        var root = ImageFolder();
        try
        {
            var empty = Path.Combine(root, "train", "birds");
            Directory.CreateDirectory(empty);
            var (code, output, err) = Run("datasets", "check", "--dataset", "folder", "--data", root);
            Assert.Equal(ExitCodes.BadInput, code);
            Assert.Empty(output);
            Assert.Contains($"Class folder '{empty}' holds no image", err);
            Directory.Delete(empty);
            foreach (var d in Directory.GetDirectories(Path.Combine(root, "val"))) Directory.Delete(d, true);
            (code, _, err) = Run("datasets", "check", "--dataset", "folder", "--data", root);
            Assert.Equal(ExitCodes.BadInput, code);
            Assert.Contains("val' has no class folders", err);
            (code, _, err) = Run("datasets", "check", "--dataset", "synthetic", "--sample", "3");
            Assert.Equal(ExitCodes.BadInput, code);
            Assert.Contains("--sample applies only to image folders", err);
        }
        finally { Directory.Delete(root, true); }
    }
}

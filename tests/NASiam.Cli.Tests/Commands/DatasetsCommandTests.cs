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
}

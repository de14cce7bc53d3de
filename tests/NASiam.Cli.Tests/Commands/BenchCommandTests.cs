using System.Text.Json;

namespace NASiam.Cli.Tests.Commands;

public sealed class BenchCommandTests
{
    static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = NasiamCli.Run(args, stdout, stderr, default);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void Bench_Json_ReportsTheHost_AndEveryPhaseOfTheStep()
    {
        var (code, stdout, stderr) = Cli("bench", "--framework", "moco", "--backbone", "resnet-tiny", "--batch-size", "4", "--steps", "1", "--warmup", "0",
            "--dim", "32", "--threads", "1", "--only", "search", "--json");
        Assert.True(code == ExitCodes.Ok, stderr);
        using var doc = JsonDocument.Parse(stdout.Trim());
        var root = doc.RootElement;
        Assert.True(root.GetProperty("search_step_s").GetDouble() > 0);
        var host = root.GetProperty("host");
        Assert.False(string.IsNullOrWhiteSpace(host.GetProperty("cpu_model").GetString()));
        Assert.Equal(1, host.GetProperty("threads").GetInt32());
        Assert.StartsWith("2.", host.GetProperty("libtorch").GetString());
        var phases = root.GetProperty("search_weight_phases_s");
        foreach (var key in new[] { "forward", "backward", "optimizer", "data" })
            Assert.True(phases.GetProperty(key).GetDouble() > 0, key);
    }

    [Fact]
    public void Bench_ConvSetting_ForcesTheTrunkSetting_AndTheJsonSaysWhichRan()
    {
        var (code, stdout, stderr) = Cli("bench", "--backbone", "resnet-tiny", "--batch-size", "4", "--steps", "1", "--warmup", "0",
            "--dim", "32", "--pred-dim", "16", "--threads", "1", "--only", "pretrain", "--conv-setting", "nchw+s1x1", "--json");
        Assert.True(code == ExitCodes.Ok, stderr);
        using var doc = JsonDocument.Parse(stdout.Trim());
        Assert.Equal("nchw+s1x1", doc.RootElement.GetProperty("conv_setting").GetString());
        Assert.True(doc.RootElement.GetProperty("pretrain_step_s").GetDouble() > 0);
        Assert.Equal(JsonValueKind.String, doc.RootElement.GetProperty("host").GetProperty("gomp_spincount").ValueKind);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Bench_PerViewHeads_SwitchesTheHeadsCallPattern_AndSaysWhichRan(bool perView)
    {
        string[] args = ["bench", "--backbone", "resnet-tiny", "--batch-size", "4", "--steps", "1", "--warmup", "0",
            "--dim", "32", "--pred-dim", "16", "--threads", "1", "--only", "pretrain"];
        if (perView) args = [.. args, "--per-view-heads"];
        var (code, stdout, stderr) = Cli([.. args, "--json"]);
        Assert.True(code == ExitCodes.Ok, stderr);
        using var doc = JsonDocument.Parse(stdout.Trim());
        Assert.Equal(!perView, doc.RootElement.GetProperty("view_batched_heads").GetBoolean());
        (code, stdout, stderr) = Cli(args);
        Assert.True(code == ExitCodes.Ok, stderr);
        Assert.Contains(perView ? "heads once per view" : "heads once on both views", stdout);
    }

    [Fact]
    public void Bench_OnlyTrunk_TimesTheTrunkAlone_AndCountsItsConvolutionFlops()
    {
        string[] args = ["bench", "--backbone", "resnet-tiny", "--batch-size", "4", "--steps", "2", "--warmup", "0", "--threads", "1", "--only", "trunk"];
        var (code, stdout, stderr) = Cli([.. args, "--json"]);
        Assert.True(code == ExitCodes.Ok, stderr);
        using var doc = JsonDocument.Parse(stdout.Trim());
        var root = doc.RootElement;
        Assert.True(root.GetProperty("trunk_step_s").GetDouble() > 0);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("pretrain_step_s").ValueKind);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("search_step_s").ValueKind);
        // Two views of 4 images: forward, grad-weight and (all but the stem's) grad-input, 2 FLOP per MAC.
        var (macs, stem) = NASiam.Core.Engine.Numerics.BackboneConvShapes.Macs("resnet-tiny", cifarStem: true, 32);
        Assert.Equal(2.0 * 2 * 4 * (3.0 * macs - stem) / 1e9, root.GetProperty("trunk_gflop").GetDouble(), 9);
        // The forward without autograd is part of the forward + backward; SimSiam's search floor adds one of it.
        var forward = root.GetProperty("trunk_forward_s").GetDouble();
        Assert.InRange(forward, 1e-6, root.GetProperty("trunk_step_s").GetDouble());
        Assert.Equal(root.GetProperty("trunk_step_s").GetDouble() + forward, root.GetProperty("search_floor_s").GetDouble(), 9);
        // The host's fp32 ceiling is measured with the trunk: a positive rate any CPU reaches (1 GFLOP/s is a 7 s product).
        Assert.InRange(root.GetProperty("sgemm_gflop_per_s").GetDouble(), 1, 1e6);
        (code, stdout, stderr) = Cli(args);
        Assert.True(code == ExitCodes.Ok, stderr);
        // Parts left out and a GC that did not fall within two steps are said to be, not printed as NaN.
        string[] lines = ["trunk alone", "GFLOP/s", "fp32 sgemm", "of it)", "search-step floor = trunk alone + 1 × this", "search step      not measured (--only)",
            "pretrain step    not measured (--only)", "GC every 50 steps, none within the measured steps"];
        Assert.All(lines, line => Assert.Contains(line, stdout));
        Assert.DoesNotContain("NaN", stdout);
    }

    // Every part under bf16 autocast: the trunk's forward without autograd returns bf16 features,
    // which the benchmark once read as fp32 and died ("Single is not compatible with BFloat16").
    [Fact]
    public void Bench_Bf16Backbone_MeasuresEveryPart()
    {
        var (code, stdout, stderr) = Cli(["bench", "--backbone", "resnet-tiny", "--batch-size", "4", "--steps", "1", "--warmup", "0",
            "--dim", "32", "--pred-dim", "16", "--threads", "1", "--backbone-precision", "bf16", "--json"]);
        Assert.True(code == ExitCodes.Ok, stderr);
        using var doc = JsonDocument.Parse(stdout.Trim());
        var root = doc.RootElement;
        Assert.Equal("bf16", root.GetProperty("backbone_precision").GetString());
        foreach (var key in new[] { "search_step_s", "pretrain_step_s", "trunk_step_s", "trunk_forward_s" })
            Assert.True(root.GetProperty(key).GetDouble() > 0, key);
    }

    // MoCo's search step also runs the key encoder forward in each of its two steps (method doc 4.2, 5.4).
    [Fact]
    public void Bench_OnlyTrunk_Moco_CountsTheKeyEncodersForwardsInTheSearchFloor()
    {
        var (code, stdout, stderr) = Cli(["bench", "--framework", "moco", "--backbone", "resnet-tiny", "--batch-size", "4", "--steps", "1", "--warmup", "0",
            "--threads", "1", "--only", "trunk", "--json"]);
        Assert.True(code == ExitCodes.Ok, stderr);
        using var doc = JsonDocument.Parse(stdout.Trim());
        var root = doc.RootElement;
        Assert.Equal(root.GetProperty("trunk_step_s").GetDouble() + 3 * root.GetProperty("trunk_forward_s").GetDouble(), root.GetProperty("search_floor_s").GetDouble(), 9);
    }

    [Fact]
    public void Bench_RejectsAnUnknownConvSetting()
    {
        var (code, _, stderr) = Cli("bench", "--conv-setting", "nhwc");
        Assert.NotEqual(ExitCodes.Ok, code);
        Assert.Contains("nhwc", stderr);
    }

    [Fact]
    public void BenchMemory_Json_PrintsOneRssPointPerInterval_AndTheChange()
    {
        var (code, stdout, stderr) = Cli("bench", "memory", "--backbone", "resnet-tiny", "--batch-size", "4", "--steps", "4", "--every", "2",
            "--gc-every", "3", "--threads", "1", "--json");
        Assert.True(code == ExitCodes.Ok, stderr);
        using var doc = JsonDocument.Parse(stdout.Trim());
        var series = doc.RootElement.GetProperty("rss_mib").EnumerateArray().Select(p => (Step: p[0].GetDouble(), Rss: p[1].GetDouble())).ToList();
        Assert.Equal([2.0, 4.0], series.Select(p => p.Step));
        Assert.All(series, p => Assert.True(p.Rss > 0));
        Assert.Equal(JsonValueKind.Number, doc.RootElement.GetProperty("rss_change_percent").ValueKind);
    }

    [Fact]
    public void BenchMemory_Synthetic_FeedsTheDataSetThroughTheAugmentation_AndSaysSo()
    {
        var (code, stdout, stderr) = Cli("bench", "memory", "--backbone", "resnet-tiny", "--batch-size", "4", "--steps", "2", "--every", "1",
            "--gc-every", "0", "--threads", "1", "--synthetic", "40");
        Assert.True(code == ExitCodes.Ok, stderr);
        Assert.Contains("synthetic data set of 40 images through the SSL augmentation", stdout);
        Assert.Equal(2, stdout.Split('\n').Count(l => l.TrimStart().StartsWith("step ")));
        var (bad, _, badErr) = Cli("bench", "memory", "--synthetic", "-1");
        Assert.Equal(ExitCodes.BadInput, bad);
        Assert.Contains("--synthetic must be >= 0 (got -1)", badErr);
    }

    [Fact]
    public void BenchMemory_RejectsAZeroInterval()
    {
        var (code, _, stderr) = Cli("bench", "memory", "--every", "0");
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("--every", stderr);
    }

    [Theory]
    [InlineData("--steps", "0", "--steps must be >= 1 (got 0)")]
    [InlineData("--batch-size", "1", "--batch-size must be >= 2 (got 1)")]
    [InlineData("--gc-every", "-1", "--gc-every must be >= 0 (got -1)")]
    public void Bench_ABadNumber_NamesOnlyItsFlag(string flag, string value, string expected)
    {
        var (code, _, err) = CliRunner.Run("bench", flag, value);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains(expected, err);
        Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.Contains("must be"));
    }
}

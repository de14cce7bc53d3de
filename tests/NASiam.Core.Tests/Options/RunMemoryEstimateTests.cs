using NASiam.Core.Options;
using Xunit.Abstractions;

namespace NASiam.Core.Tests.Options;

public class RunMemoryEstimateTests(ITestOutputHelper output)
{
    static RunOptions Run(RunKind kind, Framework framework, string backbone, int batch, int imageSize = 32, int synthetic = 1024,
        bool imageNetStem = false, bool knn = false)
    {
        var o = RunPresets.ForFramework(framework);
        return o with
        {
            Kind = kind, Backbone = backbone, Dataset = "synthetic", SyntheticTrainSize = synthetic,
            Data = o.Data with { ImageSize = imageSize == 32 ? null : imageSize },
            Search = o.Search with { BatchSize = batch },
            Pretrain = o.Pretrain with { BatchSize = batch, KnnEveryEpochs = knn ? 1 : 0 },
            Linear = o.Linear with { BatchSize = batch },
            Compat = o.Compat with { ResNet50ImageNetStemOnCifar = imageNetStem },
        };
    }

    /// <summary>
    /// Peak RSS (MiB) measured by real runs of the CLI on this repository's CPU build (bench/engine/memory-estimate.sh,
    /// 4 steps each, the kNN monitor off; AMD EPYC Zen 5, 2 cores, 2026-12-02, re-measured after the synthetic set's
    /// generation stopped peaking above the runs' own working set; docs/memory.md).
    /// </summary>
    public static TheoryData<string, RunOptions, double> Measured => new()
    {
        { "r18-32-pre-b32", Run(RunKind.Pretrain, Framework.SimSiam, "resnet18", 32), 1071 },
        { "r18-32-pre-b128", Run(RunKind.Pretrain, Framework.SimSiam, "resnet18", 128), 2140 },
        { "r18-64-pre-b32", Run(RunKind.Pretrain, Framework.SimSiam, "resnet18", 32, imageSize: 64), 2146 },
        { "tiny-32-pre-b32", Run(RunKind.Pretrain, Framework.SimSiam, "resnet-tiny", 32), 460 },
        { "r18-32-srch-b32", Run(RunKind.Search, Framework.SimSiam, "resnet18", 32, synthetic: 2048), 1316 },
        { "r18-32-srch-b128", Run(RunKind.Search, Framework.SimSiam, "resnet18", 128, synthetic: 2048), 2786 },
        { "moco-r18-srch-b64", Run(RunKind.Search, Framework.MoCo, "resnet18", 64, synthetic: 2048), 2045 },
        { "clr-r18-pre-b128", Run(RunKind.Pretrain, Framework.SimClr, "resnet18", 128), 2143 },
        { "r50-32-pre-b32", Run(RunKind.Pretrain, Framework.SimSiam, "resnet50", 32), 3198 },
        { "r50-224-pre-b8", Run(RunKind.Pretrain, Framework.SimSiam, "resnet50", 8, imageSize: 224, synthetic: 256, imageNetStem: true), 3106 },
        { "r50-224-pre-b24", Run(RunKind.Pretrain, Framework.SimSiam, "resnet50", 24, imageSize: 224, synthetic: 256, imageNetStem: true), 6380 },
        { "r18-32-lin-b256", Run(RunKind.LinCls, Framework.SimSiam, "resnet18", 256), 1538 },
    };

    [Theory]
    [MemberData(nameof(Measured))]
    public void TheEstimate_IsWithinAQuarterOfTheMeasuredPeak(string name, RunOptions options, double measuredMib)
    {
        var peak = RunMemoryEstimate.For(options).Peak;
        double mib = peak.PeakBytes / 1048576.0;
        output.WriteLine($"{name}: estimated {mib:F0} MiB, measured {measuredMib:F0} MiB ({mib / measuredMib:F2}x); {peak.Basis}");
        Assert.InRange(mib / measuredMib, 0.75, 1.25);
    }
}

public class RunMemoryNoticeTests
{
    const long GiB = 1L << 30;

    /// <summary>The check that went wrong: a ResNet-50 SimSiam pre-training at batch 512 and 224 px queued on a 24 GiB CPU host was OOM-killed.</summary>
    static RunRequest BigPretrain(string device = "cpu") => new()
    {
        Preset = "simsiam-cifar10", Kind = RunKind.Pretrain,
        Overrides = System.Text.Json.Nodes.JsonNode.Parse(
            """{"backbone":"resnet50","dataset":"synthetic","device":"DEVICE","data":{"imageSize":224},"compat":{"resNet50ImageNetStemOnCifar":true}}""".Replace("DEVICE", device))!.AsObject(),
    };

    static RunResolution Resolve(RunRequest r, long? host) => RunRequestResolver.Resolve(r, RunRequestPolicy.Cli with { CheckDataFolders = false, HostMemoryBytes = host });

    [Fact]
    public void ARunTooLargeForTheHost_IsSaidBeforeItIsQueued_WithABatchThatFits()
    {
        var resolution = Resolve(BigPretrain(), 24 * GiB);
        Assert.True(resolution.Ok);
        var notice = Assert.Single(resolution.Notices, n => n.StartsWith(RunMemoryEstimate.NoticePrefix, StringComparison.Ordinal));
        Assert.Contains("the pre-training is estimated to peak near", notice);
        Assert.Contains("batch 512 × 2 views at 224 px on resnet50", notice);
        Assert.Contains("this host's 24.0 GiB", notice);
        var fits = int.Parse(System.Text.RegularExpressions.Regex.Match(notice, @"pretrain\.batchSize (\d+) or less is estimated to fit").Groups[1].Value);
        // The batch it names is the largest whose estimate fits 90 % of the host.
        long budget = (long)(24 * GiB * RunMemoryEstimate.HostShare);
        var o = resolution.Options!;
        Assert.True(RunMemoryEstimate.For(o with { Pretrain = o.Pretrain with { BatchSize = fits } }).Peak.PeakBytes <= budget);
        Assert.True(RunMemoryEstimate.For(o with { Pretrain = o.Pretrain with { BatchSize = fits + 1 } }).Peak.PeakBytes > budget);
        Assert.InRange(fits, 16, 511);
    }

    [Fact]
    public void NoNotice_WhereTheRunFits_OnACudaDevice_OrWhereRunsExecuteElsewhere()
    {
        Assert.DoesNotContain(Resolve(BigPretrain(), 1024 * GiB).Notices, n => n.StartsWith(RunMemoryEstimate.NoticePrefix, StringComparison.Ordinal));
        Assert.DoesNotContain(Resolve(BigPretrain("cuda"), 24 * GiB).Notices, n => n.StartsWith(RunMemoryEstimate.NoticePrefix, StringComparison.Ordinal));
        Assert.DoesNotContain(Resolve(BigPretrain(), null).Notices, n => n.StartsWith(RunMemoryEstimate.NoticePrefix, StringComparison.Ordinal));
    }

    [Fact]
    public void APipeline_IsEstimatedStageByStage_AndTheKnnBankCounts()
    {
        var o = RunPresets.ForFramework(Framework.SimSiam) with { Kind = RunKind.Pipeline, Dataset = "cifar10" };
        var estimate = RunMemoryEstimate.For(o);
        Assert.Equal(["search", "pretrain", "lincls"], estimate.Stages.Select(s => s.Stage));
        // The search's seven-op heads hold more than the standard heads the pre-training trains.
        Assert.True(estimate.Stages[0].ParameterBytes > estimate.Stages[1].ParameterBytes);
        // CIFAR's 50,000 train features of 512 floats, twice (raw and l2-normalised), and a chunk's similarities.
        Assert.Equal(50_000L * 512 * 4 * 2 + 1024L * 50_000 * 4, estimate.Stages[1].MonitorBytes);
        Assert.Equal(0, RunMemoryEstimate.For(o with { Pretrain = o.Pretrain with { KnnEveryEpochs = 0 } }).Stages[1].MonitorBytes);
        Assert.Equal("search " + RunMemoryEstimate.Gib(estimate.Stages[0].PeakBytes) + ", pre-training " + RunMemoryEstimate.Gib(estimate.Stages[1].PeakBytes)
            + ", linear evaluation " + RunMemoryEstimate.Gib(estimate.Stages[2].PeakBytes), estimate.Summary());
    }
}

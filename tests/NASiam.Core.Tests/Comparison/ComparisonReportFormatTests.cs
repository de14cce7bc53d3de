using System.Text.Json;
using NASiam.Core.Comparison;
using NASiam.Core.Reporting;

namespace NASiam.Core.Tests.Comparison;

/// <summary>What comparison.json and comparison.csv say (docs/comparison-report.md): arm names, epoch base, child order.</summary>
public class ComparisonReportFormatTests
{
    static ComparisonReport Report() => new ComparisonReport
    {
        Id = Guid.NewGuid(), Name = "t", Framework = "simclr", Backbone = "resnet-tiny", Dataset = "synthetic", Seeds = [0, 1], Status = "succeeded",
        Results =
        [
            new() { Seed = 1, Arm = ComparisonArms.Standard, LinclsTop1 = 60, KnnCurve = [new KnnPoint(0, 20)] },
            new() { Seed = 0, Arm = ComparisonArms.Genotype, LinclsTop1 = 62, KnnCurve = [new KnnPoint(0, 21), new KnnPoint(1, 30)] },
            new() { Seed = 0, Arm = ComparisonArms.Standard, LinclsTop1 = 61 },
            new() { Seed = 1, Arm = ComparisonArms.Genotype, LinclsTop1 = 63 },
        ],
    }.WithStatistics();

    static string[] CsvArms(string csv) => csv.Trim().Split('\n').Skip(1).Select(l => l.Split(',')[1]).ToArray();

    // The CSV named the standard arm 'baseline' where the page and comparison.json said 'standard'.
    [Fact]
    public void TheCsvAndTheJson_NameTheArmsAlike_GenotypeAndStandard()
    {
        var report = Report();
        Assert.Equal(["genotype", "standard"], ComparisonArms.All);
        var jsonArms = JsonDocument.Parse(report.ToJson()).RootElement.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("arm").GetString()).ToHashSet();
        Assert.Equal(["genotype", "standard"], jsonArms.Order());
        Assert.Equal(["genotype", "standard", "genotype", "standard"], CsvArms(report.ToCsv()));
        Assert.Equal("standard", JsonDocument.Parse(report.ToJson()).RootElement.GetProperty("baseline").GetString());
        Assert.DoesNotContain("baseline", report.ToCsv());
        Assert.DoesNotContain(report.Notices, n => n.Contains("baseline"));
    }

    // A comparison.json written before the rename reads (and writes back) with the one name.
    [Fact]
    public void AReportWrittenBeforeTheRename_ReadsTheStandardArm()
    {
        var legacy = Report().ToJson().Replace("\"arm\": \"standard\"", "\"arm\": \"baseline\"");
        Assert.Contains("\"arm\": \"baseline\"", legacy);
        var back = ComparisonReport.FromJson(legacy);
        Assert.Equal(2, back.Results.Count(r => r.Arm == ComparisonArms.Standard));
        Assert.Equal(["genotype", "standard", "genotype", "standard"], CsvArms(back.ToCsv()));
        Assert.Equal(ComparisonArms.Standard, ComparisonArms.Normalize("baseline"));
        Assert.Equal(ComparisonArms.Genotype, ComparisonArms.Normalize("genotype"));
        Assert.Equal("", ComparisonArms.Normalize(""));
    }

    // knnCurve's epoch is the run's own knn events' epoch, 0-based (docs/metrics-schema.md): the first epoch's monitor is
    // epoch 0 in the run's events and in comparison.json alike; the page plots both at epoch 1.
    [Fact]
    public void KnnCurveEpochs_AreTheRunsOwnZeroBasedKnnEventEpochs()
    {
        var at = DateTimeOffset.UtcNow;
        TrainingEvent Knn(int epoch, double top1, long seq) => new KnnLogged
        {
            RunId = Guid.Empty, Sequence = seq, At = at, Stage = "pretrain", Epoch = epoch, Top1 = top1, Top5 = 90, Protocol = "k=5", IsBest = false,
        };
        var measures = ChildMeasures.From([Knn(0, 20, 1), Knn(1, 25, 2), Knn(1, 26, 3)]); // epoch 1 reported twice (a resume): its last report
        Assert.Equal([new KnnPoint(0, 20), new KnnPoint(1, 26)], measures.KnnCurve);
        var json = JsonDocument.Parse((Report() with { Results = [new() { Seed = 0, Arm = ComparisonArms.Genotype, KnnCurve = measures.KnnCurve }] }).ToJson());
        var curve = json.RootElement.GetProperty("results")[0].GetProperty("knnCurve");
        Assert.Equal([0, 1], curve.EnumerateArray().Select(p => p.GetProperty("epoch").GetInt32()));
        // Documented where comparison.json is.
        var doc = File.ReadAllText(Path.Combine(RepoRoot(), "docs", "comparison-report.md"));
        Assert.Contains("`epoch` is the **0-based** epoch index", doc);
        Assert.Contains("`standard`", doc);
    }

    // The child-run table listed a seed's linear evaluation before its pre-training.
    [Fact]
    public void Children_OrderBySeedThenPipelineStageThenArm()
    {
        ComparisonChildKey[] keys =
        [
            new("lincls", "standard", 0), new("lincls", "genotype", 0), new("pretrain", "standard", 1), new("search", "", 1),
            new("pretrain", "standard", 0), new("pretrain", "genotype", 0), new("search", "", 0), new("lincls", "genotype", 1),
        ];
        Assert.Equal(
            ["search seed 0", "pretrain genotype seed 0", "pretrain standard seed 0", "lincls genotype seed 0", "lincls standard seed 0",
             "search seed 1", "pretrain standard seed 1", "lincls genotype seed 1"],
            ComparisonChildOrder.Sort(keys, k => k).Select(k => k.ToString()));
    }

    static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "NASiam.Web.sln"))) return d.FullName;
        throw new InvalidOperationException("repository root not found");
    }
}

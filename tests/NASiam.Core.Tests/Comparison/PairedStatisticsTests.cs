using NASiam.Core.Comparison;

namespace NASiam.Core.Tests.Comparison;

public class PairedStatisticsTests
{
    // Hand-computed: differences 1, 2, 3 -> mean 2, sd 1, t(0.975, 2) = 4.302652729911275 (tables),
    // half-width 4.3026527 / sqrt(3) = 2.4841377, CI [-0.4841377, 4.4841377].
    static readonly double[] Genotype = [60.0, 62.5, 61.0];
    static readonly double[] Baseline = [59.0, 60.5, 58.0];

    [Fact]
    public void ThreeSeeds_PairedT_MatchesHandComputedValues()
    {
        var d = PairedStatistics.Paired(Genotype, Baseline);
        Assert.Equal(3, d.N);
        Assert.Equal(2.0, d.Mean, 12);
        Assert.Equal(1.0, d.Std!.Value, 12);
        Assert.Equal(4.302652729911275, d.TCritical!.Value, 9);
        Assert.Equal(2.4841377, d.HalfWidth!.Value, 6);
        Assert.Equal(-0.4841377, d.Lower!.Value, 6);
        Assert.Equal(4.4841377, d.Upper!.Value, 6);
        Assert.Null(d.Note);
        Assert.Equal("+2.00 pt, 95 % CI [-0.48, 4.48], 3 seeds", PairedStatistics.Describe(d));
    }

    [Fact]
    public void TwoSeeds_UseOneDegreeOfFreedom()
    {
        // diffs 0.5, 1.5: mean 1, sd sqrt(0.5) = 0.70711; t(0.975, 1) = 12.7062047; half = 12.7062047 * 0.70711 / sqrt(2) = 6.3531024.
        var d = PairedStatistics.Paired([10.5, 21.5], [10.0, 20.0]);
        Assert.Equal(1.0, d.Mean, 12);
        Assert.Equal(12.706204736, d.TCritical!.Value, 6);
        Assert.Equal(6.3531024, d.HalfWidth!.Value, 5);
    }

    [Fact]
    public void Summary_IsMeanAndSampleStd()
    {
        // 60, 62.5, 61: mean 61.1667; squared deviations 1.36111 + 1.77778 + 0.02778 = 3.16667; /2 -> sd 1.25831.
        var s = PairedStatistics.Summarize(Genotype);
        Assert.Equal(61.1666667, s.Mean, 6);
        Assert.Equal(1.2583057, s.Std!.Value, 6);
    }

    [Fact]
    public void OneSeed_HasNoInterval_AndSaysSo()
    {
        var d = PairedStatistics.Paired([61.0], [60.2]);
        Assert.Equal(0.8, d.Mean, 12);
        Assert.Null(d.Std);
        Assert.Null(d.Lower);
        Assert.Null(d.Upper);
        Assert.Contains("no confidence interval", d.Note);
        Assert.Equal("+0.80 pt, 1 seed (no confidence interval: it needs at least 2 seeds)", PairedStatistics.Describe(d));
        Assert.Null(PairedStatistics.Summarize([61.0]).Std);
    }

    [Fact]
    public void BadInput_Throws()
    {
        Assert.Throws<ArgumentException>(() => PairedStatistics.Paired([1.0, 2.0], [1.0]));
        Assert.Throws<ArgumentException>(() => PairedStatistics.Paired([double.NaN], [1.0]));
        Assert.Throws<ArgumentException>(() => PairedStatistics.Summarize([]));
    }

    static ComparisonReport Report(params ComparisonSeedResult[] rows) => new()
    {
        Id = Guid.NewGuid(), Name = "t", Framework = "simclr", Backbone = "resnet-tiny", Dataset = "synthetic",
        Seeds = rows.Select(r => r.Seed).Distinct().ToArray(), Status = "succeeded", Results = rows,
    };

    // A set of 5 classes or fewer has no top-5 (the engine reports none: every label is among the top 5); the report
    // says so instead of a "Linear top-5" panel of 100 - 100 = +0.00 or of "no paired result".
    [Fact]
    public void Report_WithoutTop5_DropsItsMetric_AndSaysWhy()
    {
        var rows = new List<ComparisonSeedResult>();
        for (int i = 0; i < 2; i++)
        {
            rows.Add(new() { Seed = i, Arm = ComparisonArms.Genotype, LinclsTop1 = Genotype[i], KnnTop1 = 50 });
            rows.Add(new() { Seed = i, Arm = ComparisonArms.Standard, LinclsTop1 = Baseline[i], KnnTop1 = 50 });
        }
        var report = Report([.. rows]).WithStatistics();
        Assert.Equal(["lincls_top1", "knn_top1"], report.Metrics.Select(m => m.Name));
        Assert.Contains("lincls_top5: not reported; on a data set of 5 classes or fewer every label is among the top 5", report.Notices);
        // One seed with a top-5 (a set with more classes): the metric stays, with what it has.
        rows[0] = rows[0] with { LinclsTop5 = 90 };
        Assert.Contains(Report([.. rows]).WithStatistics().Metrics, m => m.Name == "lincls_top5");
    }

    [Fact]
    public void Report_PairsBySeed_ComputesEveryMetric_AndWritesFiles()
    {
        var rows = new List<ComparisonSeedResult>();
        for (int i = 0; i < 3; i++)
        {
            rows.Add(new() { Seed = i, Arm = ComparisonArms.Genotype, LinclsTop1 = Genotype[i], LinclsTop5 = 90, KnnTop1 = 50 + i, PretrainSeconds = 100, LinclsSeconds = 10, ImagesPerSecond = 300 });
            rows.Add(new() { Seed = i, Arm = ComparisonArms.Standard, LinclsTop1 = Baseline[i], LinclsTop5 = 89, KnnTop1 = 50, PretrainSeconds = 80, LinclsSeconds = 10, ImagesPerSecond = 400 });
        }
        var report = Report([.. rows]).WithStatistics();
        var top1 = report.Metrics.Single(m => m.Name == "lincls_top1");
        Assert.Equal(2.0, top1.Difference!.Mean, 12);
        Assert.Equal(61.1666667, top1.Genotype!.Mean, 6);
        Assert.Equal(59.1666667, top1.Baseline!.Mean, 6);
        Assert.Equal(report.Headline, top1.Words);
        Assert.Equal(1.0, report.Metrics.Single(m => m.Name == "lincls_top5").Difference!.Mean, 12);
        Assert.Equal(1.0, report.Metrics.Single(m => m.Name == "knn_top1").Difference!.Mean, 12);
        Assert.Equal(20.0, report.Cost.Single(m => m.Name == "pretrain_seconds").Difference!.Mean, 12);
        Assert.Empty(report.Notices);

        var dir = Directory.CreateTempSubdirectory("cmp").FullName;
        report.WriteFiles(dir);
        var back = ComparisonReport.FromJson(File.ReadAllText(Path.Combine(dir, ComparisonReport.JsonFile)));
        Assert.Equal(6, back.Results.Count);
        Assert.Equal(top1.Difference.Upper, back.Metrics.Single(m => m.Name == "lincls_top1").Difference!.Upper);
        var csv = File.ReadAllLines(Path.Combine(dir, ComparisonReport.CsvFile));
        Assert.Equal(7, csv.Length);
        Assert.StartsWith("0,genotype,60,90,50,100,10,300,", csv[1]);
        Assert.StartsWith("0,standard,59,89,50,80,10,400,", csv[2]);
    }

    [Fact]
    public void Report_ASeedMissingOneArm_IsLeftOutWithANotice()
    {
        var report = Report(
            new() { Seed = 0, Arm = ComparisonArms.Genotype, LinclsTop1 = 61 },
            new() { Seed = 0, Arm = ComparisonArms.Standard, LinclsTop1 = 60 },
            new() { Seed = 1, Arm = ComparisonArms.Genotype, LinclsTop1 = 70 },
            new() { Seed = 1, Arm = ComparisonArms.Standard }).WithStatistics();
        var top1 = report.Metrics.Single(m => m.Name == "lincls_top1");
        Assert.Equal(1, top1.Difference!.N);
        Assert.Equal(2, top1.Genotype!.N);
        Assert.Contains(report.Notices, n => n.Contains("seed 1") && n.Contains("lincls_top1"));
        Assert.Contains("no confidence interval", top1.Words);
        // Unmeasured values stay empty in the CSV, never 0.
        Assert.Contains("1,standard,,,,,,,,,", report.ToCsv());
    }
}

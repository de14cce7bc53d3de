using NASiam.Core.Comparison;

namespace NASiam.Cli.Tests.Commands;

public sealed class CompareCommandTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("nasiam-cmp-cli-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = NasiamCli.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Theory]
    [InlineData("--seeds", "0,x", "--seeds")]
    [InlineData("--seeds", "1,1", "--seeds")]
    [InlineData("--genotype", "standard", "--genotype")]
    public void BadInput_ExitsWithCode2_NamingTheFlag(string flag, string value, string named)
    {
        var (code, _, err) = Cli("compare", "--out", Path.Combine(_dir, "bad"), "--preset", "quick-demo", flag, value);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains(named, err);
    }

    [Fact]
    public void PrintOptions_PrintsThePlannedComparison_AndRunsNothing()
    {
        var (code, stdout, stderr) = Cli("compare", "--preset", ComparisonPresets.QuickCompare, "--framework", "simclr", "--print-options");
        Assert.True(code == ExitCodes.Ok, stderr);
        var plan = System.Text.Json.Nodes.JsonNode.Parse(stdout)!.AsObject();
        Assert.Equal("simclr", (string?)plan["framework"]);
        Assert.Equal("[0,1]", plan["seeds"]!.ToJsonString());
        Assert.Null(plan["genotype"]); // a fresh search finds it
        Assert.Equal("resnet-tiny", (string?)plan["recipe"]!["backbone"]);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir));

        // A run folder as the genotype: its genotype.txt, said in the notices (stderr and the plan's).
        var run = Path.Combine(_dir, "run");
        Directory.CreateDirectory(run);
        var published = NASiam.Core.Genotypes.GenotypePresets.Find("simsiam/cifar10_resnet18")!.Genotype!;
        File.WriteAllText(Path.Combine(run, "genotype.txt"), NASiam.Core.Genotypes.GenotypeText.Write(published));
        (code, stdout, stderr) = Cli("compare", "--preset", "quick-demo", "--framework", "simsiam", "--genotype", run, "--print-options");
        Assert.True(code == ExitCodes.Ok, stderr);
        plan = System.Text.Json.Nodes.JsonNode.Parse(stdout)!.AsObject();
        Assert.Equal(NASiam.Core.Genotypes.GenotypeText.Write(published), (string?)plan["genotype"]);
        var notice = $"genotype: '{run}' is a run folder; its genotype is read from {Path.Combine(run, "genotype.txt")}";
        Assert.Contains($"nasiam compare: note: {notice}", stderr);
        Assert.Contains(notice, plan["notices"]!.AsArray().Select(n => (string?)n));
    }

    // The printed table names the arms as comparison.json and comparison.csv do: genotype and standard (it said 'baseline').
    [Fact]
    public void TheTable_NamesTheArmsAsTheFilesDo()
    {
        var report = new ComparisonReport
        {
            Id = Guid.NewGuid(), Name = "t", Framework = "simclr", Backbone = "resnet-tiny", Dataset = "synthetic", Seeds = [0], Status = "succeeded",
            Results = [new() { Seed = 0, Arm = ComparisonArms.Genotype, LinclsTop1 = 61 }, new() { Seed = 0, Arm = ComparisonArms.Standard, LinclsTop1 = 60 }],
        }.WithStatistics();
        var table = NASiam.Cli.Commands.CompareCommand.Table(report);
        Assert.DoesNotContain("baseline", table);
        Assert.Contains("Linear top-1: genotype 61.00, standard 60.00 %; genotype − standard +1.00 pt", table);
        Assert.Equal(["genotype", "standard"], table.Split('\n').Skip(1).Take(2).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]));
    }

    [Fact]
    public void FreshSearch_OneSeed_PrintsTheTable_WritesFiles_AndARerunKeepsFinishedChildren()
    {
        var outDir = Path.Combine(_dir, "o");
        var patch = Path.Combine(_dir, "tiny.json");
        File.WriteAllText(patch, """{"heads":{"dim":32,"predDim":16},"search":{"epochs":1,"batchSize":32},"pretrain":{"batchSize":32,"knnK":5},"linear":{"batchSize":32}}""");
        string[] args = ["compare", "--out", outDir, "--preset", "quick-demo", "--framework", "simclr", "--seeds", "0", "--options", patch,
            "--synthetic-size", "256", "--max-steps", "2", "--pretrain-epochs", "1", "--linear-epochs", "1", "--threads", "2"];
        var (code, stdout, stderr) = Cli(args);
        Assert.True(code == ExitCodes.Ok, stderr + stdout);
        Assert.Contains("lincls top1", stdout);
        Assert.Contains("no confidence interval", stdout);
        Assert.Contains("one search: no spread", stderr);
        var report = ComparisonReport.FromJson(File.ReadAllText(Path.Combine(outDir, ComparisonReport.JsonFile)));
        Assert.True(report.Complete);
        Assert.Equal(2, report.Results.Count);
        Assert.NotNull(report.Stability);
        Assert.Equal(report.Stability!.ModalGenotypeText, report.GenotypeText);
        Assert.Null(report.Metrics.Single(m => m.Name == "lincls_top1").Difference!.Lower);
        Assert.Equal(3, File.ReadAllLines(Path.Combine(outDir, ComparisonReport.CsvFile)).Length);

        var again = Cli(args);
        Assert.Equal(ExitCodes.Ok, again.Code);
        Assert.Equal(5, again.Out.Split('\n').Count(l => l.Contains("finished earlier, kept")));
        var second = ComparisonReport.FromJson(File.ReadAllText(Path.Combine(outDir, ComparisonReport.JsonFile)));
        Assert.Equal(report.Results.Select(r => r.LinclsTop1), second.Results.Select(r => r.LinclsTop1));
    }
}

using System.Text.Json;
using NASiam.Core;
using NASiam.Core.Genotypes;

namespace NASiam.Cli.Tests.Commands;

public sealed class RunCommandsTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("nasiam-cli-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    static readonly string[] Tiny = ["--preset", "quick-demo", "--synthetic-size", "256", "--batch-size", "32", "--epochs", "1", "--threads", "2"];

    static (int Code, string Out, string Err) Cli(CancellationToken token = default, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = NasiamCli.Run(args, stdout, stderr, token);
        return (code, stdout.ToString(), stderr.ToString());
    }

    // The dashboard's "Pre-train this genotype" (POST /api/runs/{id}/pretrain) on the command line: pretrain --from a run
    // folder takes that run's setup and genotype, the flags change it, and it stores what the web door stores.
    [Fact]
    public void Pretrain_From_ARunFolder_TakesItsSetupAndGenotype_AsTheWebDoorDoes()
    {
        var outDir = Path.Combine(_dir, "s");
        var (code, _, stderr) = Cli(default, ["pipeline", "--out", outDir, "--framework", "simsiam", "--preset", "quick-demo",
            "--synthetic-size", "256", "--max-steps", "2", "--seed", "5", "--search-epochs", "2", "--pretrain-epochs", "6", "--threads", "2"]);
        Assert.True(code == ExitCodes.Ok, stderr);
        var genotype = File.ReadAllText(Path.Combine(outDir, "genotype.txt"));

        (code, var stdout, stderr) = Cli(default, ["pretrain", "--from", outDir, "--lr", "0.002", "--print-options"]);
        Assert.True(code == ExitCodes.Ok, stderr);
        Assert.Contains("--from: simsiam, resnet-tiny on synthetic (256 images), at most 2 steps a stage", stderr);
        Assert.DoesNotContain(NASiam.Core.Options.RunRequestResolver.UnusedNoticePrefix, stderr);
        var o = NASiam.Core.Options.RunOptions.FromJson(stdout);
        Assert.Equal((NASiam.Core.Options.RunKind.Pretrain, 256, 2, 5, 6, 0.002), (o.Kind, o.SyntheticTrainSize, o.MaxStepsPerStage!.Value, o.Seed, o.Pretrain.Epochs, o.Pretrain.Lr));
        // The command line keeps a genotype file or run folder as its path (read when the run starts, as --genotype does).
        Assert.Equal(Path.GetFullPath(outDir), o.Pretrain.Genotype);
        Assert.Contains($"its genotype is read from {Path.Combine(Path.GetFullPath(outDir), "genotype.txt")}", stderr);
        Assert.StartsWith("Genotype(", genotype);

        // The web door's request (POST /api/runs/{id}/pretrain with the same change), resolved: the same options.
        var source = NASiam.Core.Engine.Runs.RunArtifacts.ReadOptions(outDir);
        var web = GenotypePretraining.FromRun(source, Guid.NewGuid(), source.Name, new System.Text.Json.Nodes.JsonObject { ["pretrain"] = new System.Text.Json.Nodes.JsonObject { ["lr"] = 0.002 } }, null, null)
            with { Genotype = Path.GetFullPath(outDir) };
        var viaWeb = NASiam.Core.Options.RunRequestResolver.Resolve(web, NASiam.Core.Options.RunRequestPolicy.Cli).OptionsOrThrow();
        Assert.Equal(viaWeb.ToJson(), o.ToJson());

        (code, _, stderr) = Cli(default, ["pretrain", "--from", outDir, "--preset", "quick-demo", "--print-options"]);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("give --from or --preset, not both", stderr);
        (code, _, stderr) = Cli(default, ["pretrain", "--from", Path.Combine(_dir, "none"), "--print-options"]);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("is not a folder", stderr);
    }

    [Fact]
    public void Search_WritesEveryArtefact_AndGenotypeDeriveReadsTheCheckpoint()
    {
        var outDir = Path.Combine(_dir, "o");
        var (code, stdout, stderr) = Cli(default, ["search", "--out", outDir, "--framework", "simsiam", .. Tiny]);

        Assert.True(code == ExitCodes.Ok, stderr);
        Assert.Contains("genotype: Genotype(", stdout);
        // The final metrics under the dashboard's labels (RunMetricCatalog), keyed by their result.json names.
        Assert.Contains("metrics (result.json \"metrics\"):", stdout);
        Assert.Matches(@"(?m)^  search_final_loss\s+-?\d+(\.\d+)?\s+Search: final training loss$", stdout);
        var text = File.ReadAllText(Path.Combine(outDir, "genotype.txt"));
        var genotype = GenotypeText.Parse(text, Framework.SimSiam);
        Assert.True(GenotypeJson.Parse(File.ReadAllText(Path.Combine(outDir, "genotype.json")), Framework.SimSiam).SameAs(genotype));
        Assert.True(File.Exists(Path.Combine(outDir, "checkpoints", "search.ckpt")));
        using (var result = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "result.json"))))
            Assert.Equal("succeeded", result.RootElement.GetProperty("outcome").GetString());
        var lines = File.ReadAllLines(Path.Combine(outDir, "metrics.jsonl"));
        var types = lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("type").GetString()).ToList();
        Assert.Equal(["run_started", "stage_started"], types.Take(2));
        Assert.Equal("stage_finished", types[^1]);
        Assert.Contains("alphas", types);
        Assert.Contains("collapse", types);

        var derived = Cli(default, "genotype", "derive", Path.Combine(outDir, "checkpoints", "search.ckpt"));
        Assert.Equal(ExitCodes.Ok, derived.Code);
        Assert.True(GenotypeText.Parse(derived.Out.Trim(), Framework.SimSiam).SameAs(genotype));
        Assert.Equal("", derived.Err); // a finished search's genotype is final: no notice
    }

    [Fact]
    public void GenotypeDerive_OfAStoppedSearch_PrintsTheGenotype_AndSaysOnStderrItIsProvisional()
    {
        var outDir = Path.Combine(_dir, "stopped");
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.Equal(ExitCodes.Cancelled, Cli(cts.Token, ["search", "--out", outDir, "--framework", "simsiam", .. Tiny]).Code);

        var (code, stdout, stderr) = Cli(default, "genotype", "derive", Path.Combine(outDir, "checkpoints", "search.ckpt"));
        Assert.Equal(ExitCodes.Ok, code);
        GenotypeText.Parse(stdout.Trim(), Framework.SimSiam); // stdout is the genotype alone, as for a finished search
        Assert.Matches(@"^nasiam genotype derive: note: the search did not finish; this genotype is provisional: the argmax of its alphas after 0 of 1 epochs \(step \d+\), not a derived final genotype\r?\n$", stderr);
    }

    [Fact]
    public void Genotype_OfARunFolder_IsItsGenotypeTxt_SaidOnStderr_AndACheckpointIsRefusedWithWhatToDo()
    {
        var run = Path.Combine(_dir, "run");
        Directory.CreateDirectory(run);
        var published = GenotypePresets.Find("simsiam/cifar10_resnet18")!.Genotype!;
        File.WriteAllText(Path.Combine(run, "genotype.txt"), GenotypeText.Write(published));
        var (code, stdout, stderr) = Cli(default, "pretrain", "--framework", "simsiam", "--genotype", run, "--print-options");
        Assert.True(code == ExitCodes.Ok, stderr);
        Assert.True(stderr.Contains($"nasiam pretrain: note: pretrain.genotype: '{run}' is a run folder; its genotype is read from {Path.Combine(run, "genotype.txt")}"), stderr);

        var ckpt = Path.Combine(_dir, "search.ckpt");
        NASiam.Core.Engine.Checkpoints.CheckpointStore.Save(ckpt, new NASiam.Core.Engine.Checkpoints.CheckpointState
            { Stage = "search", Epoch = 0, Step = 16, OptionsJson = NASiam.Core.Options.RunPresets.ForFramework(Framework.SimSiam).ToJson() },
            new NASiam.Core.Engine.Checkpoints.CheckpointContent());
        (code, _, stderr) = Cli(default, "pretrain", "--framework", "simsiam", "--genotype", ckpt, "--print-options");
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.True(stderr.Contains($"is a search checkpoint, not a genotype: derive one from its alphas with 'nasiam genotype derive {ckpt} > g.txt'"), stderr);
        Assert.True(stderr.Contains("(--genotype, --pretrain-genotype)"), stderr);
        Assert.DoesNotContain("Malformed", stderr);

        var empty = Path.Combine(_dir, "empty");
        Directory.CreateDirectory(empty);
        (code, _, stderr) = Cli(default, "pretrain", "--framework", "simsiam", "--genotype", empty, "--print-options");
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.True(stderr.Contains("is a folder without genotype.txt"), stderr);
        Assert.True(stderr.Contains("(--genotype, --pretrain-genotype)"), stderr);
    }

    [Fact]
    public void Search_ExitsCancelledWithResumableCheckpoint_WhenTokenIsCancelled()
    {
        var outDir = Path.Combine(_dir, "c");
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var (code, _, stderr) = Cli(cts.Token, ["search", "--out", outDir, .. Tiny]);
        Assert.Equal(ExitCodes.Cancelled, code);
        Assert.Contains("resume", stderr);
        Assert.True(File.Exists(Path.Combine(outDir, "checkpoints", "search.ckpt")));
    }

    [Theory]
    [InlineData("search --out {0} --backbone vgg", "--backbone: 'vgg' is not one of resnet-tiny, resnet18, resnet50")]
    [InlineData("search --backbone resnet-tiny", "--out DIR is required")]
    [InlineData("search --out {0} --epoch 3", "Unrecognized command or argument '--epoch'")]
    [InlineData("search --out {0} --epoch 3", "Did you mean --epochs?")]
    [InlineData("search --out {0} --pretrain-epochs 3", "Unrecognized command or argument '--pretrain-epochs'")]
    [InlineData("search --out {0} --search-epochs two", "--search-epochs: must be a whole number (got 'two')")]
    [InlineData("pipeline --out {0} --epochs two", "--epochs: must be a whole number (got 'two')")]
    [InlineData("search --out {0} --search-epochs 9999999999", "search.epochs: must be between 1 and 100000; got 9999999999")]
    [InlineData("search --out {0} --search-epochs 0", "search.epochs: must be between 1 and 100000 (--epochs, --search-epochs)")]
    [InlineData("pipeline --out {0} --framework bert", "framework: 'bert' is not one of simsiam, moco, simclr (--framework)")]
    [InlineData("lincls --out {0} --checkpoint /nonexistent/x.ckpt", "checkpoint: '/nonexistent/x.ckpt' does not exist (--checkpoint)")]
    [InlineData("search --out {0} --preset nope", "Unknown preset 'nope'")]
    [InlineData("search --out {0} --options /nonexistent/o.json", "--options: file '/nonexistent/o.json' does not exist")]
    [InlineData("options --preset quick-compare", "--preset: 'quick-compare' is a comparison preset (a genotype against the standard heads over seeds), not a run preset: queue it as a comparison (POST /api/comparisons, the dashboard's Genotype vs baseline, or 'nasiam compare --preset quick-compare')")]
    [InlineData("options --preset quick-compare", "Run presets: quick-demo")]
    [InlineData("search --out {0} --preset quick-compare", "'nasiam compare --preset quick-compare'")]
    [InlineData("genotype derive /nonexistent.ckpt", "does not exist")]
    [InlineData("export /nonexistent.ckpt out.pt", "checkpoint '/nonexistent.ckpt' does not exist")]
    public void RunVerbs_ExitWithBadInputAndOneLineReason(string commandLine, string expected)
    {
        var args = string.Format(commandLine, Path.Combine(_dir, "bad")).Split(' ');
        var (code, _, stderr) = Cli(default, args);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains(expected, stderr);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void Bench_Json_PrintsOneLineWithTheRequiredFields()
    {
        var (code, stdout, stderr) = Cli(default, "bench", "--backbone", "resnet-tiny", "--batch-size", "4", "--steps", "1", "--warmup", "0",
            "--dim", "32", "--pred-dim", "16", "--threads", "2", "--json");
        Assert.True(code == ExitCodes.Ok, stderr);
        using var doc = JsonDocument.Parse(stdout.Trim());
        foreach (var key in new[] { "search_step_s", "pretrain_step_s", "images_per_s", "peak_rss_mib" })
            Assert.True(doc.RootElement.GetProperty(key).GetDouble() > 0, key);
    }

    [Fact]
    public void Help_ListsEveryVerb_AndTheCatalogFlags()
    {
        var (code, stdout, _) = Cli(default, "--help");
        Assert.Equal(ExitCodes.Ok, code);
        foreach (var verb in new[] { "search", "pretrain", "lincls", "pipeline", "genotype", "export", "checkpoint", "bench", "datasets", "options" })
            Assert.Matches($"(?m)^  {verb} ", stdout);
        var pipeline = Cli(default, "pipeline", "--help");
        Assert.Equal(ExitCodes.Ok, pipeline.Code);
        foreach (var flag in new[] { "--max-steps", "--search-epochs", "--heads-dim", "--compat-moco-reference-batch-norm", "--print-options", "--options <FILE>", "--genotype" })
            Assert.Contains(flag, pipeline.Out);
        Assert.Contains("--checkpoint <FILE|RUN-FOLDER>", Cli(default, "lincls", "--help").Out);
        Assert.Contains("<output>", Cli(default, "export", "--help").Out);
        // No arguments: the help, but as bad input (a script that forgot its verb must not pass).
        var none = Cli(default);
        Assert.Equal(ExitCodes.BadInput, none.Code);
        Assert.Contains("pipeline", none.Out);
    }
}

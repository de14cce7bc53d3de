using System.CommandLine;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using NASiam.Cli.Commands;
using NASiam.Core.Options;

namespace NASiam.Cli.Tests.Commands;

/// <summary>
/// Flags → <see cref="RunRequest"/> → the resolver: presets with flags, --options as a merge patch,
/// one enum spelling, the pipeline's genotype, and lincls taking its identity from the checkpoint.
/// </summary>
public sealed class RunRequestTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("nasiam-cli-req-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A few optimizer steps on 256 synthetic images: seconds per stage on 2 cores.</summary>
    static readonly string[] Tiny = ["--synthetic-size", "256", "--batch-size", "32", "--epochs", "1", "--max-steps", "2", "--threads", "2"];

    static JsonObject PrintOptions(params string[] args)
    {
        var (code, output, err) = CliRunner.Run([.. args, "--print-options"]);
        Assert.True(code == ExitCodes.Ok, err);
        return JsonNode.Parse(output)!.AsObject();
    }

    static string? Text(JsonObject o, string path)
    {
        JsonNode? n = o;
        foreach (var part in path.Split('.')) n = n![part];
        return n is null ? null : n.GetValueKind() == JsonValueKind.String ? n.GetValue<string>() : n.ToJsonString();
    }

    string Write(string name, string text, bool bom = false)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text, new UTF8Encoding(encoderShouldEmitUTF8Identifier: bom));
        if (bom) Assert.Equal(0xEF, File.ReadAllBytes(path)[0]);
        return path;
    }

    [Fact]
    public void Pipeline_QuickDemo_PretrainsItsSearchedGenotype()
    {
        var outDir = Path.Combine(_dir, "pipeline");
        var (code, stdout, stderr) = CliRunner.Run(["pipeline", "--preset", "quick-demo", "--out", outDir, .. Tiny]);
        Assert.True(code == ExitCodes.Ok, stderr + stdout);

        using var result = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "result.json")));
        var root = result.RootElement;
        Assert.Equal("pipeline", root.GetProperty("options").GetProperty("kind").GetString());
        Assert.Equal("searched", root.GetProperty("options").GetProperty("pretrain").GetProperty("genotype").GetString());
        var stages = root.GetProperty("lineage").EnumerateArray().ToDictionary(s => s.GetProperty("stage").GetString()!);
        var searched = stages["search"].GetProperty("genotype").GetString();
        Assert.StartsWith("Genotype(", searched);
        Assert.Equal(searched, stages["pretrain"].GetProperty("genotype").GetString());
        Assert.Equal(searched, File.ReadAllText(Path.Combine(outDir, "genotype.txt")).Trim());
        Assert.Equal("checkpoints/search.ckpt", stages["pretrain"].GetProperty("input").GetString());
    }

    [Fact]
    public void PresetAndFlags_GiveTheResolversOptions_ForTheSameRequest()
    {
        // The data folder must be there (an empty CIFAR layout folder: nothing is read before the run).
        var cifar = Path.Combine(_dir, "cifar");
        Directory.CreateDirectory(Path.Combine(cifar, "cifar-10-batches-py"));
        var printed = PrintOptions("pipeline", "--preset", "moco-cifar10", "--data", cifar, "--epochs", "5", "--search-epochs", "3",
            "--heads-queue-size", "2048", "--search-alpha-optimizer", "ADAMW", "--compat-moco-queue-on-arch-step");
        Assert.Equal("moco", Text(printed, "framework"));
        Assert.Equal("cifar10", Text(printed, "dataset"));
        Assert.Equal(cifar, Text(printed, "dataPath"));
        Assert.Equal("3", Text(printed, "search.epochs"));   // the specific flag wins over --epochs
        Assert.Equal("5", Text(printed, "pretrain.epochs"));
        Assert.Equal("5", Text(printed, "linear.epochs"));
        Assert.Equal("128", Text(printed, "heads.dim"));     // the preset's MoCo recipe stays
        Assert.Equal("2048", Text(printed, "heads.queueSize"));
        Assert.Equal("adamw", Text(printed, "search.alphaOptimizer"));
        Assert.Equal("true", Text(printed, "compat.mocoQueueOnArchStep"));
        Assert.Equal("searched", Text(printed, "pretrain.genotype"));

        // The same request through the resolver directly (what the API and the form call) gives the same JSON.
        var request = new RunRequest
        {
            Preset = "moco-cifar10", Kind = RunKind.Pipeline,
            Overrides = JsonNode.Parse($$$"""
                {"dataPath": {{{JsonSerializer.Serialize(cifar)}}}, "search": {"epochs": 3, "alphaOptimizer": "adamw"}, "pretrain": {"epochs": 5}, "linear": {"epochs": 5},
                 "heads": {"queueSize": 2048}, "compat": {"mocoQueueOnArchStep": true}}
                """)!.AsObject(),
        };
        var resolved = RunRequestResolver.Resolve(request, RunRequestPolicy.Cli);
        Assert.True(resolved.Ok, string.Join("; ", resolved.Errors));
        Assert.Equal(resolved.Options!.ToJson(), printed.ToJsonString(RunOptions.Json));

        // A folder that is not there: exit 2 naming the flags, before anything is written (the run printed its
        // folder, then failed at its start and left metrics.jsonl there); --print-options refuses it too.
        var outDir = Path.Combine(_dir, "never");
        var (code, output, err) = CliRunner.Run("pretrain", "--preset", "quick-demo", "--dataset", "cifar10", "--data", Path.Combine(_dir, "nowhere"), "--out", outDir);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains($"dataPath: CIFAR data folder '{Path.Combine(_dir, "nowhere")}' does not exist. (--data-path, --data)", err);
        Assert.Empty(output);
        Assert.False(Directory.Exists(outDir));
        (code, _, err) = CliRunner.Run("pretrain", "--preset", "quick-demo", "--dataset", "cifar10", "--data", Path.Combine(_dir, "nowhere"), "--print-options");
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("does not exist", err);
    }

    // The memory estimate at the second door: --print-memory gives each stage's figure (RunMemoryEstimate's), and a run
    // too large for any host this suite runs on is queued with the resolver's memory notice on stderr.
    [Fact]
    public void PrintMemory_GivesEachStagesEstimate_AndARunTooLargeForTheHostIsSaid()
    {
        var (code, output, err) = CliRunner.Run("pipeline", "--preset", "quick-demo", "--framework", "simsiam", "--print-memory");
        Assert.True(code == ExitCodes.Ok, err);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var expected = RunMemoryEstimate.For(RunPresets.QuickDemoFor(Core.Framework.SimSiam) with { Kind = RunKind.Pipeline }).Stages;
        Assert.Equal(expected.Select(s => $"{s.Stage}: {s.Basis}: estimated peak MiB {Math.Round(s.PeakBytes / 1048576.0)}"), lines[..^1]);
        Assert.StartsWith("host: memory MiB ", lines[^1]);

        // ResNet-50 at 1024 px, batch 4096: terabytes, on any host.
        (code, _, err) = CliRunner.Run("pretrain", "--framework", "simsiam", "--backbone", "resnet50", "--dataset", "synthetic", "--data-image-size", "1024",
            "--batch-size", "4096", "--synthetic-size", "5000", "--print-options");
        Assert.True(code == ExitCodes.Ok, err);
        Assert.Matches(@"nasiam pretrain: note: memory: the pre-training is estimated to peak near [\d.]+ GiB of memory on the CPU \(batch 4096 × 2 views at 1024 px on resnet50\), more than 90% of this host's", err);
    }

    // The CLI offers every flag a verb's stages read, whatever the framework: one the framework does not read is said.
    [Fact]
    public void AFlagTheFrameworkDoesNotRead_IsSaid()
    {
        var (code, _, err) = CliRunner.Run("search", "--framework", "simclr", "--heads-queue-size", "8192", "--print-options");
        Assert.True(code == ExitCodes.Ok, err);
        Assert.Contains("nasiam search: note: not used: heads.queueSize (MoCo only): a SimCLR search does not read it, so the value given changes nothing", err);
        (code, _, err) = CliRunner.Run("search", "--framework", "moco", "--heads-queue-size", "8192", "--print-options");
        Assert.True(code == ExitCodes.Ok, err);
        Assert.DoesNotContain("not used", err);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void OptionsFile_WithOneCompatFlag_KeepsMoCosRecipe(bool bom)
    {
        var file = Write("compat.json", """{"compat": {"mocoReferenceBatchNorm": true}}""", bom);
        var o = PrintOptions("search", "--framework", "MoCo", "--options", file);
        Assert.Equal("moco", Text(o, "framework"));
        Assert.Equal("true", Text(o, "compat.mocoReferenceBatchNorm"));
        Assert.Equal("128", Text(o, "heads.dim"));
        Assert.Equal("adam", Text(o, "search.alphaOptimizer"));
        Assert.Equal("absolute", Text(o, "search.lrScaling"));
    }

    [Fact]
    public void OptionsFile_IsAppliedBeforeTheFlags_AndTheVerbIsTheKind()
    {
        var file = Write("o.json", """{"kind": "pipeline", "framework": "moco", "search": {"epochs": 7, "batchSize": 64}, "heads": {"queueSize": 1024}}""");
        var (code, output, err) = CliRunner.Run("search", "--options", file, "--epochs", "3", "--print-options");
        Assert.True(code == ExitCodes.Ok, err);
        var o = JsonNode.Parse(output)!.AsObject();
        Assert.Equal("search", Text(o, "kind"));
        Assert.Equal("moco", Text(o, "framework"));          // the file's framework brings its recipe
        Assert.Equal("128", Text(o, "heads.dim"));
        Assert.Equal("3", Text(o, "search.epochs"));         // the flag wins
        Assert.Equal("64", Text(o, "search.batchSize"));     // the file's other fields stay
        Assert.Contains("kind 'pipeline' is replaced by the verb 'search'", err);

        // --framework wins over the file's framework, and says so (as for the kind).
        var (simclrCode, simclrOut, simclrErr) = CliRunner.Run("search", "--options", file, "--framework", "simclr", "--print-options");
        Assert.True(simclrCode == ExitCodes.Ok, simclrErr);
        var simclr = JsonNode.Parse(simclrOut)!.AsObject();
        Assert.Equal("simclr", Text(simclr, "framework"));
        Assert.Equal("7", Text(simclr, "search.epochs"));
        Assert.Contains("framework 'moco' is replaced by --framework 'simclr'", simclrErr);
    }

    [Theory]
    [InlineData("""{"search": {"epoch": 2}}""", "search.epoch: unknown field")]
    [InlineData("""{"search": {"epochs": "two"}}""", "search.epochs")]
    [InlineData("""[1, 2]""", "must be a JSON object")]
    [InlineData("""{"search": """, "malformed JSON")]
    // A whole section null took SimSiam's recipe for it, whatever the framework (the resolver's rule, as through the API).
    [InlineData("""{"heads": null}""", "heads: null is not a value for a whole section")]
    // Larger than the synthetic set's weight split: bad input now, not a failure at the stage's start.
    [InlineData("""{"syntheticTrainSize": 100, "search": {"batchSize": 64}}""", "search.batchSize: 64 is more than the 50 images of the search's weight split")]
    public void OptionsFile_Errors_NameTheField(string json, string expected)
    {
        var file = Write("bad.json", json);
        var (code, output, err) = CliRunner.Run("search", "--options", file, "--print-options");
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Empty(output);
        Assert.Contains(expected, err);
        Assert.DoesNotContain("   at ", err);
    }

    // A device this host lacks (cuda:64 on any host) is refused before --out is created: it used to leave an empty folder.
    [Fact]
    public void DeviceThisHostLacks_IsBadInput_AndWritesNothing()
    {
        var outDir = Path.Combine(_dir, "never");
        var (code, output, err) = CliRunner.Run("search", "--preset", "quick-demo", "--device", "cuda:64", "--out", outDir);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("cuda:64", err);
        Assert.False(Directory.Exists(outDir), output);
    }

    [Fact]
    public void UnknownFlag_IsBadInput_WithAHint()
    {
        var (code, output, err) = CliRunner.Run("pipeline", "--preset", "quick-demo", "--serach-epochs", "2", "--print-options");
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Empty(output);
        Assert.Contains("'--serach-epochs'", err);
        Assert.Contains("Did you mean --search-epochs?", err);
        Assert.Single(err.Trim().Split('\n'));
    }

    [Fact]
    public void EveryCatalogOption_IsAFlag_ThatSetsItsPath()
    {
        var flags = new RunFlags(RunKind.Pipeline);
        var command = new Command("pipeline");
        foreach (var option in flags.All) command.Add(option);
        foreach (var entry in OptionCatalog.Entries.Where(e => e.Path is not ("kind" or "framework")))
        {
            var value = entry.Type switch
            {
                OptionValueType.Boolean => "true",
                OptionValueType.Integer => "3",
                OptionValueType.Number => "0.25",
                OptionValueType.Choice => entry.Choices[^1].ToUpperInvariant(),
                _ => "some-text",
            };
            var parse = command.Parse([entry.Flag, value]);
            Assert.True(parse.Errors.Count == 0, $"{entry.Flag}: {string.Join("; ", parse.Errors.Select(e => e.Message))}");
            var (request, errors, _) = RunVerbs.BuildRequest(RunKind.Pipeline, flags, parse);
            Assert.True(errors.Count == 0, string.Join("; ", errors));
            JsonNode? node = request!.Overrides;
            foreach (var part in entry.Path.Split('.')) node = node![part];
            var expected = entry.Type == OptionValueType.Choice ? entry.Choices[^1] : value;
            Assert.Equal(expected, node!.GetValueKind() == JsonValueKind.String ? node.GetValue<string>() : node.ToJsonString());
        }
        // And each stage's flags are on their verb only.
        Assert.Contains(new RunFlags(RunKind.Search).Catalog, c => c.Entry.Path == "search.alphaLr");
        Assert.DoesNotContain(new RunFlags(RunKind.Search).Catalog, c => c.Entry.Path == "pretrain.epochs");
        Assert.DoesNotContain(new RunFlags(RunKind.LinCls).Catalog, c => c.Entry.Path == "search.epochs");
    }

    [Fact]
    public void Lincls_OfSimClrAndMoCoCheckpoints_TakesFrameworkAndRecipeFromThem()
    {
        foreach (var framework in new[] { "simclr", "moco" })
        {
            var outDir = Path.Combine(_dir, framework);
            var (code, _, err) = CliRunner.Run(["pretrain", "--preset", "quick-demo", "--framework", framework, "--out", outDir, .. Tiny]);
            Assert.True(code == ExitCodes.Ok, err);
            var checkpoint = Path.Combine(outDir, "checkpoints", "pretrain.ckpt");
            var trained = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "result.json")))!["options"]!.AsObject();

            // No flags: framework, backbone, heads, data and the linear recipe are the checkpoint's.
            var o = PrintOptions("lincls", "--checkpoint", checkpoint);
            Assert.Equal("lincls", Text(o, "kind"));
            Assert.Equal(framework, Text(o, "framework"));
            foreach (var path in new[] { "backbone", "dataset", "syntheticTrainSize", "heads.dim", "heads.temperature", "linear.optimizer",
                         "linear.lr", "linear.lrScaling", "linear.schedule", "linear.weightDecay", "linear.batchSize", "linear.epochs", "maxStepsPerStage" })
                Assert.True(Text(trained, path) == Text(o, path), $"{framework} {path}: {Text(trained, path)} vs {Text(o, path)}");
            Assert.Equal(Path.GetFullPath(checkpoint), Text(o, "linear.checkpoint"));
            // The run's --out folder stands for the pre-training checkpoint a pipeline evaluates: MoCo's kNN-best
            // (as SimSiam's), SimCLR's last (it has no best-selection; method doc 5.6, D21).
            var picked = framework == "simclr" ? checkpoint : Path.Combine(outDir, "checkpoints", "pretrain-best.ckpt");
            Assert.True(File.Exists(picked), picked);
            Assert.Equal(Path.GetFullPath(picked), Text(PrintOptions("lincls", "--checkpoint", outDir), "linear.checkpoint"));
            Assert.Equal(framework == "simclr" ? "adam" : "sgd", Text(o, "linear.optimizer"));
            Assert.Equal(framework == "simclr" ? "constant" : "step", Text(o, "linear.schedule"));

            // An explicit flag overrides the recipe, and the difference is printed.
            var (code2, output2, err2) = CliRunner.Run("lincls", "--checkpoint", checkpoint, "--epochs", "2", "--print-options");
            Assert.True(code2 == ExitCodes.Ok, err2);
            Assert.Equal("2", Text(JsonNode.Parse(output2)!.AsObject(), "linear.epochs"));
            Assert.Contains("linear.epochs:", err2);
            Assert.Contains("→ 2 (request)", err2);

            // The model's identity cannot change.
            var (code3, _, err3) = CliRunner.Run("lincls", "--checkpoint", checkpoint, "--framework", "simsiam", "--print-options");
            Assert.Equal(ExitCodes.BadInput, code3);
            Assert.Contains("(--framework)", err3);
        }

        // And the MoCo evaluation runs with no flags but --out (its recipe caps it at 2 steps).
        var evalDir = Path.Combine(_dir, "eval");
        var run = CliRunner.Run("lincls", "--checkpoint", Path.Combine(_dir, "moco", "checkpoints", "pretrain.ckpt"), "--out", evalDir);
        Assert.True(run.Code == ExitCodes.Ok, run.Err + run.Out);
        using var result = JsonDocument.Parse(File.ReadAllText(Path.Combine(evalDir, "result.json")));
        Assert.Equal("moco", result.RootElement.GetProperty("options").GetProperty("framework").GetString());
        Assert.True(result.RootElement.GetProperty("metrics").TryGetProperty("lincls_top1", out _));

        // export CHECKPOINT OUT.pt (as the README says), and --out OUT.pt.
        var ckpt = Path.Combine(_dir, "simclr", "checkpoints", "pretrain.ckpt");
        var pt = Path.Combine(_dir, "model.pt");
        var export = CliRunner.Run("export", ckpt, pt);
        Assert.True(export.Code == ExitCodes.Ok, export.Err);
        Assert.True(new FileInfo(pt).Length > 0);
        var pt2 = Path.Combine(_dir, "model2.pt");
        Assert.Equal(ExitCodes.Ok, CliRunner.Run("export", ckpt, "--out", pt2).Code);
        Assert.True(new FileInfo(pt2).Length > 0);
        var both = CliRunner.Run("export", ckpt, pt, "--out", pt2);
        Assert.Equal(ExitCodes.BadInput, both.Code);
        Assert.Contains("give one", both.Err);

        // A checkpoint whose bytes changed after it was written is refused by its checksum, naming the section.
        var damaged = Path.Combine(_dir, "damaged.ckpt");
        var bytes = File.ReadAllBytes(ckpt);
        bytes[bytes.AsSpan().IndexOf((byte[])[5, .. "model"u8]) + 6 + sizeof(long) + 3000] ^= 0x02;
        File.WriteAllBytes(damaged, bytes);
        var refused = CliRunner.Run("export", damaged, Path.Combine(_dir, "damaged.pt"));
        Assert.Equal(ExitCodes.BadInput, refused.Code);
        Assert.Contains($"nasiam export: Checkpoint '{damaged}' is damaged: section 'model' does not match its checksum", refused.Err);
        Assert.False(File.Exists(Path.Combine(_dir, "damaged.pt")));
        // `checkpoint verify` reads both whole: the good one is ok, the damaged one named, exit code 1.
        var verify = CliRunner.Run("checkpoint", "verify", ckpt, damaged);
        Assert.Equal(ExitCodes.RunFailed, verify.Code);
        Assert.Matches($@"^{System.Text.RegularExpressions.Regex.Escape(ckpt)}: ok \(pretrain, \d+ epoch\(s\) done, step \d+(, completed)?; checksums match\)\n$", verify.Out.Replace("\r\n", "\n"));
        Assert.Contains($"{damaged}: Checkpoint '{damaged}' is damaged: section 'model' does not match its checksum", verify.Err);
        Assert.Equal(ExitCodes.Ok, CliRunner.Run("checkpoint", "verify", ckpt).Code);
    }

    [Fact]
    public void OptionsVerb_PrintsTheGeneratedMarkdown_AndDefaultsPerPreset()
    {
        var (code, output, _) = CliRunner.Run("options", "--markdown");
        Assert.Equal(ExitCodes.Ok, code);
        Assert.Equal(OptionCatalog.Markdown(), output);
        var (code2, list, _) = CliRunner.Run("options", "--preset", "moco-cifar10-reference");
        Assert.Equal(ExitCodes.Ok, code2);
        Assert.Matches(@"--heads-dim\s+128\s", list);
        Assert.Matches(@"--compat-moco-frozen-shared-cell\s+true\s", list);
    }
}

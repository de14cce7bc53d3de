using System.Text.Json.Nodes;
using NASiam.Core.Comparison;
using NASiam.Core.Engine.Checkpoints;
using NASiam.Core.Engine.Runs;
using NASiam.Core.Genotypes;
using NASiam.Core.Options;
using NASiam.Core.Tests.Data;

namespace NASiam.Core.Tests.Options;

public class RunRequestResolverTests
{
    // The data folders of these requests are made up; DataFolders_AreCheckedWhereThePolicySays checks that rule.
    static RunResolution Resolve(RunRequest r, RunRequestPolicy? policy = null) => RunRequestResolver.Resolve(r, policy ?? RunRequestPolicy.Cli with { CheckDataFolders = false });

    [Fact]
    public void DataFolders_AreCheckedWhereThePolicySays()
    {
        var request = new RunRequest { Preset = "moco-cifar10", Overrides = Patch("""{"dataPath":"/nonexistent-nasiam-data"}""") };
        var error = Assert.Single(RunRequestResolver.Resolve(request, RunRequestPolicy.Cli).Errors);
        Assert.Equal(("dataPath", "CIFAR data folder '/nonexistent-nasiam-data' does not exist."), (error.Path, error.Message));
        // A web node that does not execute runs may not see the workers' folders: the run checks it.
        Assert.True(RunRequestResolver.Resolve(request, RunRequestPolicy.Web).Ok);
        // A missing dataPath is the validator's one error, not two.
        var none = RunRequestResolver.Resolve(new RunRequest { Preset = "moco-cifar10" }, RunRequestPolicy.Cli);
        Assert.Equal("is required for data set 'cifar10'", Assert.Single(none.Errors, e => e.Path == "dataPath").Message);
    }
    static JsonObject Patch(string json) => JsonNode.Parse(json)!.AsObject();

    /// <summary>An image folder of <paramref name="classes"/> train classes of <paramref name="perClass"/> files (listed, never decoded, at queue time) and a val split.</summary>
    static string Folder(TempDir dir, int classes, int perClass, string? emptyClass = null)
    {
        foreach (var split in new[] { "train", "val" })
            for (int c = 0; c < classes; c++)
            {
                var d = Path.Combine(dir.Path, split, $"class{c}");
                Directory.CreateDirectory(d);
                for (int i = 0; i < (split == "train" ? perClass : 2); i++) File.WriteAllBytes(Path.Combine(d, $"{i}.png"), [0]);
            }
        if (emptyClass is not null) Directory.CreateDirectory(Path.Combine(dir.Path, "train", emptyClass));
        return dir.Path;
    }

    static JsonObject FolderPatch(string path, string options)
    {
        var patch = Patch(options);
        patch["dataset"] = "folder";
        patch["dataPath"] = path;
        return patch;
    }

    static IReadOnlyList<FieldError> FolderErrors(string path, RunKind kind, string options = "{}")
    {
        return RunRequestResolver.Resolve(new RunRequest { Preset = "quick-demo", Kind = kind, Overrides = FolderPatch(path, options), Genotype = kind == RunKind.Pretrain ? "standard" : null }, RunRequestPolicy.Cli).Errors;
    }

    // An image folder is listed before the run is queued, as the run lists it: a broken one, or one too small for a
    // stage's batch, is refused naming the field (each was queued and failed at the run's start).
    [Fact]
    public void AnImageFolder_IsListedBeforeTheRunIsQueued_AndEachStagesBatchMustFit()
    {
        using var dir = new TempDir();
        var good = Folder(dir, classes: 4, perClass: 20);
        // A class-balanced quarter of 4 x 20: 5 a class, of which trainPortion 0.5 gives 2 to the weights and 3 to the architecture.
        var error = Assert.Single(FolderErrors(good, RunKind.Search, """{"search":{"batchSize":16,"trainPortion":0.5}}"""));
        Assert.Equal("search.batchSize", error.Path);
        Assert.Equal("16 is more than the 8 images of the search's weight split (a search on an image folder draws a class-balanced quarter of its 80 train images " +
                     "(4 classes): 20 images, of which search.trainPortion 0.5 (the weights' share) gives 8 to the weights and 12 to the architecture, rounding down in each class); " +
                     "every step draws a full batch", error.Message);
        Assert.Empty(FolderErrors(good, RunKind.Search, """{"search":{"batchSize":8,"trainPortion":0.5}}"""));
        Assert.Equal("pretrain.batchSize", Assert.Single(FolderErrors(good, RunKind.Pretrain, """{"pretrain":{"batchSize":100}}""")).Path);
        Assert.Empty(FolderErrors(good, RunKind.Pretrain, """{"pretrain":{"batchSize":80}}"""));
        // A linear batch larger than the set is kept (a partial batch), and said.
        var lincls = RunRequestResolver.Resolve(new RunRequest { Preset = "quick-demo", Kind = RunKind.LinCls, Overrides = FolderPatch(good, """{"linear":{"batchSize":128}}""") }, RunRequestPolicy.Cli);
        Assert.True(lincls.Ok, string.Join("; ", lincls.Errors));
        Assert.Contains("linear.batchSize: 128 is more than the 80 train images, so each linear epoch is one batch of all 80", lincls.Notices);
        // The engine says the same when it opens the set (a web-only node cannot list the workers' folders).
        var o = RunRequestResolver.Resolve(new RunRequest { Preset = "quick-demo", Kind = RunKind.Search, Overrides = FolderPatch(good, """{"search":{"batchSize":16,"trainPortion":0.5}}""") },
            RunRequestPolicy.Web).Options!;
        using (var set = NASiam.Core.Data.ImageFolderDataSet.Open(good, 32))
            Assert.Equal(error, RunDataCheck.SearchSplitError(o, set.TrainCount, RunDataCheck.CountsOf(set)));

        using var broken = new TempDir();
        var empty = Folder(broken, classes: 3, perClass: 4, emptyClass: "zebra");
        var e = Assert.Single(FolderErrors(empty, RunKind.Search));
        Assert.Equal("dataPath", e.Path);
        Assert.Contains("zebra", e.Message);
        Assert.Contains("holds no image", e.Message);

        using var one = new TempDir();
        Assert.Contains("expected at least 2", Assert.Single(FolderErrors(Folder(one, classes: 1, perClass: 40), RunKind.Pretrain)).Message);
        Assert.Contains("is a file", Assert.Single(FolderErrors(Path.Combine(good, "train", "class0", "0.png"), RunKind.Search)).Message);
    }

    // A data folder with the built-in synthetic set was stored with the run and read by nothing.
    [Fact]
    public void ADataFolder_WithTheSyntheticSet_IsAnError()
    {
        var r = Resolve(new RunRequest { Preset = "quick-demo", Overrides = Patch("""{"dataPath":"/data/mine"}""") });
        Assert.Equal("dataPath", Assert.Single(r.Errors).Path);
        Assert.Contains("reads no folder", r.Errors[0].Message);
    }

    [Fact]
    public void Preset_PlusOverrides_MergesOnlyTheGivenFields()
    {
        var r = Resolve(new RunRequest { Preset = "moco-cifar10", Overrides = Patch("""{"dataPath":"/d","search":{"epochs":3},"heads":{"queueSize":8192}}""") });
        Assert.True(r.Ok, string.Join("; ", r.Errors));
        var preset = RunPresets.Get("moco-cifar10");
        var o = r.Options!;
        Assert.Equal(3, o.Search.Epochs);
        Assert.Equal(8192, o.Heads.QueueSize);
        Assert.Equal(preset.Search with { Epochs = 3 }, o.Search);
        Assert.Equal(preset.Heads.Dim, o.Heads.Dim);
        Assert.Equal(GenotypeReference.Searched, o.Pretrain.Genotype);
    }

    [Fact]
    public void OneCompatFlag_KeepsTheFrameworksRecipe()
    {
        // Was: an options file holding one compat flag replaced MoCo's recipe (2048-wide output).
        var r = Resolve(new RunRequest { Framework = "moco", Overrides = Patch("""{"compat":{"mocoReferenceBatchNorm":true}}""") });
        Assert.True(r.Ok, string.Join("; ", r.Errors));
        Assert.Equal(128, r.Options!.Heads.Dim);
        Assert.True(r.Options.Compat.MocoReferenceBatchNorm);
        Assert.Equal(RunPresets.ForFramework(Framework.MoCo).Search, r.Options.Search);
    }

    [Fact]
    public void FrameworkInTheOverrides_PicksThatFrameworksRecipe_AndAContradictionIsAnError()
    {
        var r = Resolve(new RunRequest { Preset = "quick-demo", Overrides = Patch("""{"framework":"moco"}""") });
        Assert.True(r.Ok);
        Assert.Equal(RunPresets.Get("quick-demo", Framework.MoCo), r.Options);
        var bad = Resolve(new RunRequest { Preset = "quick-demo", Framework = "simclr", Overrides = Patch("""{"framework":"moco"}""") });
        Assert.Contains(bad.Errors, e => e.Path == "framework");
    }

    [Theory]
    [InlineData("""{"serch":{"epochs":2}}""", "serch")]
    [InlineData("""{"search":{"epoch":2}}""", "search.epoch")]
    [InlineData("""{"search":{"epochs":"two"}}""", "search.epochs")]
    [InlineData("""{"search":{"epochs":0}}""", "search.epochs")]
    [InlineData("""{"heads":7}""", "heads")]
    [InlineData("""{"kind":"dance"}""", "kind")]
    public void BadOverrides_AreErrorsNamingTheField(string patch, string path)
    {
        var r = Resolve(new RunRequest { Preset = "quick-demo", Overrides = Patch(patch) });
        Assert.False(r.Ok);
        Assert.Contains(r.Errors, e => e.Path == path);
    }

    [Fact]
    public void Pretrain_WithoutGenotype_UsesTheStandardHeads_AndSaysSo_ButExplicitSearchedIsAnError()
    {
        var r = Resolve(new RunRequest { Preset = "quick-demo", Kind = RunKind.Pretrain });
        Assert.True(r.Ok);
        Assert.Equal(GenotypeReference.Standard, r.Options!.Pretrain.Genotype);
        Assert.Contains(r.Notices, n => n.Contains("standard heads"));
        var bad = Resolve(new RunRequest { Preset = "quick-demo", Kind = RunKind.Pretrain, Genotype = "searched" });
        Assert.Contains(bad.Errors, e => e.Path == "pretrain.genotype");
    }

    // A stopped search's id used as a genotype gave its provisional argmax without a word.
    [Fact]
    public void AStoredGenotypesNotice_ReachesTheNotices_OfARunAndOfAComparison()
    {
        var text = GenotypeText.Write(GenotypePresets.Find("moco/cifar10_resnet18")!.Genotype!);
        Guid provisional = Guid.NewGuid(), final = Guid.NewGuid();
        var policy = RunRequestPolicy.Web with
        {
            GenotypeById = id => id == provisional ? new StoredGenotype(text, Framework.MoCo, "run p") { Notice = "Provisional genotype: argmax of the alphas at step 7" }
                : id == final ? new StoredGenotype(text, Framework.MoCo, "run f") : null,
        };
        var request = new RunRequest { Preset = "quick-demo", Framework = "moco", Kind = RunKind.Pretrain, Genotype = provisional.ToString() };
        var r = Resolve(request, policy);
        Assert.True(r.Ok, string.Join("; ", r.Errors));
        Assert.Equal(text, r.Options!.Pretrain.Genotype);
        Assert.Contains("pretrain.genotype: Provisional genotype: argmax of the alphas at step 7", r.Notices);
        Assert.DoesNotContain(Resolve(request with { Genotype = final.ToString() }, policy).Notices, n => n.Contains("argmax"));

        var compared = NASiam.Core.Comparison.ComparisonPlanner.Plan(new NASiam.Core.Comparison.ComparisonRequest
            { Preset = NASiam.Core.Comparison.ComparisonPresets.QuickCompare, Framework = "moco", Genotype = provisional.ToString() }, policy);
        Assert.Contains("genotype: Provisional genotype: argmax of the alphas at step 7", compared.Notices);
    }

    // A linear evaluation without a checkpoint evaluates the random-init baseline: said in a notice (it was silent).
    [Fact]
    public void LinCls_WithoutACheckpoint_SaysItEvaluatesAnUntrainedBackbone()
    {
        var r = Resolve(new RunRequest { Preset = "quick-demo", Kind = RunKind.LinCls });
        Assert.True(r.Ok, string.Join("; ", r.Errors));
        Assert.Contains(r.Notices, n => n.StartsWith("checkpoint: none given, so this evaluates an untrained (randomly initialised) backbone", StringComparison.Ordinal));
        Assert.DoesNotContain(Resolve(new RunRequest { Preset = "quick-demo", Kind = RunKind.Pipeline }).Notices, n => n.Contains("untrained"));
    }

    // A pipeline given another genotype than "searched" ran its search and threw the result away without a word.
    [Fact]
    public void APipeline_ThatPretrainsOtherHeadsThanItSearched_SaysSo()
    {
        var standard = Resolve(new RunRequest { Preset = "quick-demo", Kind = RunKind.Pipeline, Genotype = "standard" });
        Assert.True(standard.Ok, string.Join("; ", standard.Errors));
        Assert.Contains(standard.Notices, n => n.StartsWith("pretrain.genotype: the pipeline pre-trains the framework's standard heads, not the one its search finds", StringComparison.Ordinal));
        Assert.DoesNotContain(Resolve(new RunRequest { Preset = "quick-demo", Kind = RunKind.Pipeline }).Notices, n => n.Contains("not the one its search finds"));
    }

    // "epochs": null read "expected a whole number from -2147483648 to 2147483647", as if a number were wrong.
    [Fact]
    public void AnOptionGivenAsNull_IsRefusedAsNull()
    {
        var r = Resolve(new RunRequest { Preset = "quick-demo", Overrides = Patch("""{"search":{"epochs":null}}""") });
        var error = Assert.Single(r.Errors);
        Assert.Equal(("search.epochs", "null is not a value here: leave the member out to keep its default"), (error.Path, error.Message));
    }

    // A field of a stage the kind does not run got int32's range for a number too large for it, the field's own otherwise.
    [Fact]
    public void ANumberTooLargeForItsType_GetsTheFieldsRange_EvenInAStageTheKindDoesNotRun()
    {
        var r = Resolve(new RunRequest { Preset = "quick-demo", Kind = RunKind.Pretrain, Overrides = Patch("""{"search":{"epochs":9999999999}}""") });
        var error = Assert.Single(r.Errors);
        Assert.Equal("search.epochs", error.Path);
        Assert.StartsWith("must be between 1 and", error.Message);
        Assert.EndsWith("got 9999999999", error.Message);
    }

    // Library names were not references: "'mine' is not ... a genotype library id or a run id".
    [Fact]
    public void AStoredGenotypesName_IsAReference_WhereTheDoorHasNames_CheckedForItsFramework_AndStoredAsText()
    {
        var text = GenotypeText.Write(GenotypePresets.Find("moco/cifar10_resnet18")!.Genotype!);
        var policy = RunRequestPolicy.Web with
        {
            GenotypeByName = n => n.Equals("mine", StringComparison.OrdinalIgnoreCase) ? new StoredGenotype(text, Framework.MoCo, "genotype library entry 'mine'") : null,
        };
        var request = new RunRequest { Preset = "quick-demo", Framework = "moco", Kind = RunKind.Pretrain, Genotype = "Mine" };
        var r = Resolve(request, policy);
        Assert.True(r.Ok, string.Join("; ", r.Errors));
        Assert.Equal(text, r.Options!.Pretrain.Genotype);
        Assert.Equal("genotype library entry 'mine' holds a moco genotype, not a simsiam one.",
            Assert.Single(Resolve(request with { Framework = "simsiam" }, policy).Errors).Message);
        // Where the door has no names (the CLI), a name is what it was: a file path that is not there.
        Assert.False(Resolve(request with { Genotype = "mine" }, RunRequestPolicy.Cli).Ok);
        // A preset keeps its meaning; the comparison planner takes names too.
        Assert.True(Resolve(request with { Genotype = "cifar10_resnet18" }, policy).Ok);
        var compared = NASiam.Core.Comparison.ComparisonPlanner.Plan(new NASiam.Core.Comparison.ComparisonRequest
            { Preset = NASiam.Core.Comparison.ComparisonPresets.QuickCompare, Framework = "moco", Genotype = "mine" }, policy);
        Assert.True(compared.Plan is not null, string.Join("; ", compared.Errors));
        Assert.Equal(text, compared.Plan!.GenotypeText);
    }

    [Fact]
    public void GenotypeFiles_AreRefusedUnderTheWebPolicy_AndReadUnderTheCli()
    {
        var file = Path.Combine(Directory.CreateTempSubdirectory().FullName, "g.txt");
        File.WriteAllText(file, "\uFEFF" + GenotypeText.Write(GenotypePresets.Find("moco/cifar10_resnet18")!.Genotype!));
        var request = new RunRequest { Preset = "quick-demo", Framework = "moco", Kind = RunKind.Pretrain, Genotype = file };
        Assert.True(Resolve(request, RunRequestPolicy.Cli).Ok, string.Join("; ", Resolve(request).Errors));
        var web = Resolve(request, RunRequestPolicy.Web);
        Assert.Contains(web.Errors, e => e.Path == "pretrain.genotype" && e.Message.Contains("file paths are not accepted"));
        // Inline text and presets work under both.
        Assert.True(Resolve(request with { Genotype = "cifar10_resnet18" }, RunRequestPolicy.Web).Ok);
        Assert.True(Resolve(request with { Genotype = "Genotype(encoder=[['avgpool_3x3'], ['identity'], ['identity']])" }, RunRequestPolicy.Web).Ok);
    }

    [Fact]
    public void ParseOverrides_AcceptsAByteOrderMark_AndNamesTheFieldOnBadJson()
    {
        var (o, e) = RunRequestResolver.ParseOverrides("\uFEFF{\"seed\": 3}", "options");
        Assert.Null(e);
        Assert.Equal(3, (int)o!["seed"]!);
        var (_, bad) = RunRequestResolver.ParseOverrides("[1]", "options");
        Assert.Equal("options", bad!.Path);
    }

    // Check D: a web node writes its thread fill-in (1) into a run's checkpoint, and every evaluation of it, on any host,
    // was pinned to one thread; an inherited step cap made a 4-step evaluation read as a full one, unsaid.
    [Fact]
    public void Checkpoint_LeavesItsThreadsToTheHost_AndAnInheritedStepCapIsSaid()
    {
        var dir = Directory.CreateTempSubdirectory().FullName;
        var demo = RunPresets.Get("quick-demo", Framework.SimSiam);
        var saved = demo with { Kind = RunKind.Pretrain, Threads = 1, MaxStepsPerStage = 4, Pretrain = demo.Pretrain with { Genotype = "standard" } };
        var ckpt = Path.Combine(dir, "pretrain.ckpt");
        CheckpointStore.Save(ckpt, new CheckpointState { Stage = "pretrain", Epoch = 1, Step = 1, OptionsJson = saved.ToJson() }, new CheckpointContent());

        var r = Resolve(new RunRequest { Kind = RunKind.LinCls, Checkpoint = ckpt });
        Assert.True(r.Ok, string.Join("; ", r.Errors));
        Assert.Equal(0, r.Options!.Threads);
        Assert.Equal(4, r.Options.MaxStepsPerStage);
        Assert.Contains($"maxStepsPerStage: 4 (from the checkpoint), so the linear evaluation stops after at most 4 steps, not its {demo.Linear.Epochs} epochs; set maxStepsPerStage to null for the full recipe", r.Notices);
        // Asked for: kept, and the request's own cap is not "from the checkpoint".
        Assert.Equal(2, Resolve(new RunRequest { Checkpoint = ckpt, Overrides = Patch("""{"threads":2}""") }).Options!.Threads);
        var uncapped = Resolve(new RunRequest { Checkpoint = ckpt, Overrides = Patch("""{"maxStepsPerStage":null}""") });
        Assert.Null(uncapped.Options!.MaxStepsPerStage);
        Assert.DoesNotContain(uncapped.Notices, n => n.StartsWith("maxStepsPerStage: 4 (from", StringComparison.Ordinal));
    }

    // Check D: pretrain.epochs -2 on a search was stored and never read; a later pipeline, retry or evaluation would inherit it.
    [Theory]
    [InlineData("search", """{"pretrain":{"epochs":-2}}""", "pretrain.epochs")]
    [InlineData("search", """{"linear":{"lr":-5}}""", "linear.lr")]
    [InlineData("pretrain", """{"search":{"alphaLr":0}}""", "search.alphaLr")]
    [InlineData("lincls", """{"pretrain":{"batchSize":1}}""", "pretrain.batchSize")]
    // Check E: k = 100000 on 256 images ran as k = 256 and was reported as 100000.
    [InlineData("pipeline", """{"syntheticTrainSize":256,"pretrain":{"knnK":100000}}""", "pretrain.knnK")]
    public void AStagesRanges_HoldWhateverTheKind(string kind, string patch, string field)
    {
        var r = Resolve(new RunRequest { Preset = "quick-demo", Kind = EnumNames.Parse<RunKind>(kind), Overrides = Patch(patch) });
        Assert.Contains(r.Errors, e => e.Path == field);
    }

    [Fact]
    public void Checkpoint_BringsItsIdentityAndRecipe_RecipeOverridesAreListed_ModelChangesRefused()
    {
        var dir = Directory.CreateTempSubdirectory().FullName;
        var saved = RunPresets.Get("quick-demo", Framework.SimClr) with { Kind = RunKind.Pretrain, Pretrain = RunPresets.Get("quick-demo", Framework.SimClr).Pretrain with { Genotype = "standard" } };
        var ckpt = Path.Combine(dir, "pretrain.ckpt");
        CheckpointStore.Save(ckpt, new CheckpointState { Stage = "pretrain", Epoch = 1, Step = 1, OptionsJson = saved.ToJson() }, new CheckpointContent());

        var r = Resolve(new RunRequest { Kind = RunKind.LinCls, Checkpoint = ckpt });
        Assert.True(r.Ok, string.Join("; ", r.Errors));
        Assert.Equal(Framework.SimClr, r.Options!.Framework);
        Assert.Equal(saved.Linear with { Checkpoint = Path.GetFullPath(ckpt) }, r.Options.Linear);
        Assert.Equal(OptimizerKind.Adam, r.Options.Linear.Optimizer);

        var changed = Resolve(new RunRequest { Checkpoint = ckpt, Overrides = Patch("""{"linear":{"epochs":3}}""") });
        Assert.True(changed.Ok);
        Assert.Contains(changed.Notices, n => n.StartsWith("linear.epochs:"));

        Assert.Contains(Resolve(new RunRequest { Checkpoint = ckpt, Framework = "simsiam" }).Errors, e => e.Path == "framework");
        Assert.Contains(Resolve(new RunRequest { Checkpoint = ckpt, Overrides = Patch("""{"heads":{"dim":32}}""") }).Errors, e => e.Path == "heads.dim");
        Assert.Contains(Resolve(new RunRequest { Checkpoint = Path.Combine(dir, "missing.ckpt") }).Errors, e => e.Path == "checkpoint");
    }

    // A run folder stands for the checkpoint its pipeline's linear evaluation reads: the kNN-best for SimSiam and
    // MoCo, the last for SimCLR or with linear.useBestCheckpoint false (method doc 6.4, 7); it took the last for
    // every framework, so "evaluate this run" and the pipeline's own evaluation gave different numbers.
    [Theory]
    [InlineData(Framework.SimSiam, null, "pretrain-best")]
    [InlineData(Framework.MoCo, null, "pretrain-best")]
    [InlineData(Framework.SimClr, null, "pretrain")]
    [InlineData(Framework.SimSiam, false, "pretrain")]
    [InlineData(Framework.SimClr, true, "pretrain-best")]
    public void RunFolder_StandsForTheCheckpointItsPipelineEvaluates_AndSaysWhich(Framework framework, bool? useBest, string expected)
    {
        var run = Directory.CreateTempSubdirectory().FullName;
        var demo = RunPresets.Get("quick-demo", framework);
        var saved = demo with { Kind = RunKind.Pipeline, Linear = demo.Linear with { UseBestCheckpoint = useBest } };
        void Write(string name, int epoch) => CheckpointStore.Save(StageEnvironment.CheckpointPathIn(run, name),
            new CheckpointState { Stage = name == "search" ? "search" : "pretrain", Epoch = epoch, Step = epoch * 4, Completed = name != "pretrain-best", OptionsJson = saved.ToJson() }, new CheckpointContent());
        Write("search", 4);
        Assert.Equal(StageEnvironment.CheckpointPathIn(run, "search"), StageEnvironment.FinalBackboneCheckpointIn(run));
        var searchOnly = Resolve(new RunRequest { Kind = RunKind.LinCls, Checkpoint = run });
        Assert.Contains("checkpoint: the run's search backbone (checkpoints/search.ckpt; it has no pre-training checkpoint)", searchOnly.Notices);

        Write("pretrain", 18);
        Write("pretrain-best", 12);
        Assert.Equal(StageEnvironment.CheckpointPathIn(run, expected), StageEnvironment.FinalBackboneCheckpointIn(run));
        var r = Resolve(new RunRequest { Kind = RunKind.LinCls, Checkpoint = run });
        Assert.True(r.Ok, string.Join("; ", r.Errors));
        Assert.Equal(StageEnvironment.CheckpointPathIn(run, expected), r.Options!.Linear.Checkpoint);
        Assert.Contains($"checkpoint: the run's {(expected == "pretrain" ? "last" : "kNN-best")} pre-training backbone (checkpoints/{expected}.ckpt, after epoch {(expected == "pretrain" ? 18 : 12)}), the one a pipeline's linear evaluation reads", r.Notices);
        // The best of a finished pre-training is not "unfinished".
        Assert.DoesNotContain(r.Notices, n => n.Contains("did not finish"));
        // A checkpoint file given directly is evaluated as given, without that notice.
        Assert.DoesNotContain(Resolve(new RunRequest { Kind = RunKind.LinCls, Checkpoint = StageEnvironment.CheckpointPathIn(run, "pretrain") }).Notices, n => n.Contains("pipeline's linear evaluation"));
    }

    [Theory]
    [InlineData("search")]
    [InlineData("heads")]
    [InlineData("linear")]
    [InlineData("compat")]
    public void ANullSection_IsAnErrorNamingIt_NotTheRecordsDefaults(string section)
    {
        // Was: {"search": null} became the record's C# defaults, SimSiam's recipe (100 epochs, batch 512),
        // whatever the preset or framework; {"heads": null} gave MoCo a 2048-wide output.
        var r = Resolve(new RunRequest { Preset = "quick-demo", Framework = "moco", Overrides = Patch($$"""{"{{section}}":null}""") });
        Assert.False(r.Ok);
        var error = Assert.Single(r.Errors);
        Assert.Equal(section, error.Path);
        Assert.Contains("leave it out", error.Message);
        // A nullable single value may still be reset with null.
        Assert.True(Resolve(new RunRequest { Preset = "quick-demo", Overrides = Patch("""{"maxStepsPerStage":null}""") }).Ok);
    }

    [Fact]
    public void ACheckpoint_IsReadByALinearEvaluationOnly()
    {
        var dir = Directory.CreateTempSubdirectory().FullName;
        var ckpt = SaveCheckpoint(dir, "pretrain", completed: true, SavedPretrain());
        foreach (var kind in new[] { RunKind.Search, RunKind.Pretrain, RunKind.Pipeline })
        {
            var r = Resolve(new RunRequest { Kind = kind, Checkpoint = ckpt });
            var error = Assert.Single(r.Errors);
            Assert.Equal("checkpoint", error.Path);
            Assert.Contains("only a linear evaluation", error.Message);
        }
        // The kind given in the options instead of the request: refused the same way, naming the kind.
        var viaOptions = Resolve(new RunRequest { Checkpoint = ckpt, Overrides = Patch("""{"kind":"search"}""") });
        Assert.Equal("kind", Assert.Single(viaOptions.Errors).Path);
        // linear.checkpoint in a search's options would be ignored as well.
        var field = Resolve(new RunRequest { Preset = "quick-demo", Overrides = new JsonObject { ["linear"] = new JsonObject { ["checkpoint"] = ckpt } } });
        Assert.Equal("linear.checkpoint", Assert.Single(field.Errors).Path);
        Assert.True(Resolve(new RunRequest { Kind = RunKind.LinCls, Checkpoint = ckpt }).Ok);
    }

    // A run id in the wrong field was told "server file paths are not accepted here ... give a run's id".
    [Fact]
    public void ARunIdInLinearCheckpoint_IsToldWhereItGoes()
    {
        var r = Resolve(new RunRequest { Preset = "quick-demo", Kind = RunKind.LinCls, Overrides = new JsonObject { ["linear"] = new JsonObject { ["checkpoint"] = Guid.NewGuid().ToString() } } }, RunRequestPolicy.Web);
        var error = Assert.Single(r.Errors);
        Assert.Equal("linear.checkpoint", error.Path);
        Assert.StartsWith("a run id goes in the request's checkpoint", error.Message);
    }

    [Fact]
    public void DeviceAndName_GivenTwice_MustAgree()
    {
        var both = Resolve(new RunRequest { Preset = "quick-demo", Device = "cpu", Name = "a", Overrides = Patch("""{"device":"CPU","name":"a"}""") });
        Assert.True(both.Ok, string.Join("; ", both.Errors));
        Assert.Equal(("cpu", "a"), (both.Options!.Device, both.Options.Name));
        var conflict = Resolve(new RunRequest { Preset = "quick-demo", Device = "cpu", Name = "a", Overrides = Patch("""{"device":"cuda","name":"b"}""") });
        Assert.Equal(["device", "name"], conflict.Errors.Select(e => e.Path).Order());
        Assert.Contains("the request says 'cpu' and its options say 'cuda'", conflict.Errors.Single(e => e.Path == "device").Message);
        Assert.Equal("cuda:1", Resolve(new RunRequest { Preset = "quick-demo", Device = "cuda:1" }).Options!.Device);
    }

    [Theory]
    [InlineData("synthetic", 1000, """{"search":{"batchSize":600}}""", "search.batchSize", "500 images of the search's weight split")]
    [InlineData("synthetic", 1000, """{"search":{"batchSize":400,"trainPortion":0.7}}""", "search.batchSize", "300 images of the search's architecture split")]
    [InlineData("synthetic", 1000, """{"kind":"pretrain","pretrain":{"genotype":"standard","batchSize":1024}}""", "pretrain.batchSize", "1000 train images (syntheticTrainSize)")]
    [InlineData("cifar10", 0, """{"dataPath":"/d","search":{"batchSize":30000}}""", "search.batchSize", "25000 images of the search's weight split")]
    public void ABatchLargerThanAKnownDataSet_IsAnErrorBeforeTheRun(string dataset, int size, string patch, string path, string message)
    {
        var overrides = Patch(patch);
        overrides["dataset"] = dataset;
        if (size > 0) overrides["syntheticTrainSize"] = size;
        var r = Resolve(new RunRequest { Preset = "quick-demo", Overrides = overrides });
        var error = Assert.Single(r.Errors);
        Assert.Equal(path, error.Path);
        Assert.Contains(message, error.Message);
        // At the limit it is fine.
        overrides[path.Split('.')[0]]!.AsObject()["batchSize"] = path == "pretrain.batchSize" ? size : int.Parse(message.Split(' ')[0]);
        Assert.True(Resolve(new RunRequest { Preset = "quick-demo", Overrides = overrides }).Ok);
    }

    static RunOptions SavedPretrain() => RunPresets.Get("quick-demo", Framework.SimClr) with
    {
        Kind = RunKind.Pretrain, Pretrain = RunPresets.Get("quick-demo", Framework.SimClr).Pretrain with { Genotype = "standard" },
    };

    static string SaveCheckpoint(string runFolder, string stage, bool completed, RunOptions options, int epoch = 2)
    {
        var path = Path.Combine(runFolder, "checkpoints", stage + ".ckpt");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        CheckpointStore.Save(path, new CheckpointState { Stage = stage, Epoch = epoch, Step = 10L * epoch, Completed = completed, OptionsJson = options.ToJson() }, new CheckpointContent());
        return path;
    }

    [Fact]
    public void RunFolder_AsCheckpoint_TakesItsPretrainingCheckpoint_ElseItsSearch_ElseNamesTheField()
    {
        var run = Directory.CreateTempSubdirectory().FullName;
        Assert.Equal("checkpoint", Assert.Single(Resolve(new RunRequest { Checkpoint = run }).Errors).Path);

        var search = SaveCheckpoint(run, "search", completed: true, SavedPretrain() with { Kind = RunKind.Search });
        var r = Resolve(new RunRequest { Checkpoint = run });
        Assert.True(r.Ok, string.Join("; ", r.Errors));
        Assert.Equal(search, r.Options!.Linear.Checkpoint);
        Assert.Equal(RunKind.LinCls, r.Options.Kind);

        var pretrain = SaveCheckpoint(run, "pretrain", completed: true, SavedPretrain());
        SaveCheckpoint(run, "pretrain-best", completed: true, SavedPretrain());
        r = Resolve(new RunRequest { Checkpoint = run });
        Assert.True(r.Ok, string.Join("; ", r.Errors));
        Assert.Equal(pretrain, r.Options!.Linear.Checkpoint);
        Assert.DoesNotContain(r.Notices, n => n.Contains("did not finish"));
    }

    [Fact]
    public void UnfinishedCheckpoint_IsEvaluated_WithANoticeSayingHowFarItGot()
    {
        var run = Directory.CreateTempSubdirectory().FullName;
        var saved = SavedPretrain();
        SaveCheckpoint(run, "pretrain", completed: false, saved, epoch: 1);
        var r = Resolve(new RunRequest { Checkpoint = run });
        Assert.True(r.Ok, string.Join("; ", r.Errors));
        Assert.Contains(r.Notices, n => n == $"checkpoint: the pre-training did not finish; this evaluates its backbone after 1 of {saved.Pretrain.Epochs} epochs (step 10)");
    }

    [Fact]
    public void WebPolicy_ReadsCheckpointsOnlyInsideTheFolderTheDoorVouchesFor()
    {
        var run = Directory.CreateTempSubdirectory().FullName;
        var other = Directory.CreateTempSubdirectory().FullName;
        SaveCheckpoint(run, "pretrain", completed: true, SavedPretrain());
        var elsewhere = SaveCheckpoint(other, "pretrain", completed: true, SavedPretrain());

        var refused = Assert.Single(Resolve(new RunRequest { Checkpoint = run }, RunRequestPolicy.Web).Errors);
        Assert.Equal("checkpoint", refused.Path);
        Assert.StartsWith("server file paths are not accepted here", refused.Message);
        var trusted = RunRequestPolicy.Web with { TrustedCheckpointFolder = run };
        Assert.True(Resolve(new RunRequest { Checkpoint = run }, trusted).Ok);
        // Outside the folder, an existing checkpoint and a path that does not exist get the same answer: nothing to probe.
        Assert.Equal(refused, Assert.Single(Resolve(new RunRequest { Checkpoint = elsewhere }, trusted).Errors));
        Assert.Equal(refused, Assert.Single(Resolve(new RunRequest { Checkpoint = Path.Combine(other, "no-such.ckpt") }, trusted).Errors));
        // An override of linear.checkpoint is held to the same rule.
        Assert.Contains(Resolve(new RunRequest { Kind = RunKind.LinCls, Overrides = Patch("{\"linear\":{\"checkpoint\":" + System.Text.Json.JsonSerializer.Serialize(elsewhere) + "}}") }, trusted).Errors,
            e => e.Path == "linear.checkpoint");
        // A sibling whose name starts with the trusted folder's is not inside it; the folder itself is.
        Assert.False(trusted.MayRead(run + "-copy/checkpoints/pretrain.ckpt"));
        Assert.True(trusted.MayRead(Path.Combine(run, "checkpoints", "pretrain.ckpt")));
        Assert.True(trusted.MayRead(run));
        Assert.True(trusted.MayRead(run + Path.DirectorySeparatorChar));
    }
}

public class UnusedFieldNoticeTests
{
    static RunResolution Resolve(string framework, RunKind kind, string patch) => RunRequestResolver.Resolve(
        new RunRequest { Preset = "quick-demo", Framework = framework, Kind = kind, Overrides = JsonNode.Parse(patch)!.AsObject() },
        RunRequestPolicy.Cli with { CheckDataFolders = false });

    static string? Unused(RunResolution r)
    {
        Assert.True(r.Ok, string.Join("; ", r.Errors));
        return r.Notices.SingleOrDefault(n => n.StartsWith(RunRequestResolver.UnusedNoticePrefix, StringComparison.Ordinal));
    }

    [Fact]
    public void AFieldTheFrameworkDoesNotRead_IsSaid()
    {
        var notice = Unused(Resolve("simclr", RunKind.Search, """{"heads":{"queueSize":8192},"compat":{"mocoQueueOnArchStep":true}}"""));
        Assert.Equal("not used: heads.queueSize (MoCo only), compat.mocoQueueOnArchStep (MoCo only): a SimCLR search does not read them, so the values given change nothing", notice);
        // The framework that reads it: no notice.
        Assert.Null(Unused(Resolve("moco", RunKind.Search, """{"heads":{"queueSize":8192}}""")));
    }

    [Fact]
    public void AStageTheKindDoesNotRun_IsSaid_AndAValueEqualToTheBaseIsNot()
    {
        var notice = Unused(Resolve("simsiam", RunKind.Search, """{"pretrain":{"epochs":7},"search":{"epochs":3}}"""));
        Assert.Equal("not used: pretrain.epochs (read by pre-training, pipeline): a SimSiam search does not read it, so the value given changes nothing", notice);
        Assert.Null(Unused(Resolve("simsiam", RunKind.Pipeline, """{"pretrain":{"epochs":7}}""")));
        // A field sent with the preset's own value (a form or a full document) changed nothing, so it is not named.
        var demoEpochs = RunPresets.Get("quick-demo", Framework.SimSiam).Pretrain.Epochs;
        Assert.Null(Unused(Resolve("simsiam", RunKind.Search, "{\"pretrain\":{\"epochs\":" + demoEpochs + "}}")));
    }

    [Fact]
    public void AComparison_SaysWhatNoneOfItsChildrenRead()
    {
        var policy = RunRequestPolicy.Cli with { CheckDataFolders = false };
        ComparisonPlanResult Plan(string? genotype, string overrides) => ComparisonPlanner.Plan(new ComparisonRequest
        {
            Preset = "quick-demo", Framework = "moco", Genotype = genotype, Seeds = [0, 1],
            Overrides = JsonNode.Parse(overrides)!.AsObject(),
        }, policy);
        // A fresh search runs: its fields are read. Linear fields are read by the linear evaluations.
        // linear.useBestCheckpoint is the comparison's own rule for which checkpoint each arm's evaluation reads.
        var fresh = Plan(null, """{"search":{"epochs":2},"linear":{"epochs":2,"useBestCheckpoint":false}}""");
        Assert.True(fresh.Errors.Count == 0, string.Join("; ", fresh.Errors));
        Assert.DoesNotContain(fresh.Notices, n => n.StartsWith(RunRequestResolver.UnusedNoticePrefix, StringComparison.Ordinal));
        // A given genotype: no search runs, so its fields change nothing; the predictor's width neither, on MoCo.
        var given = Plan("moco/cifar10_resnet18", """{"search":{"epochs":2},"heads":{"predDim":256}}""");
        Assert.True(given.Errors.Count == 0, string.Join("; ", given.Errors));
        Assert.Equal("not used: heads.predDim (SimSiam and SimCLR only), search.epochs (read by search, pipeline): this MoCo comparison's runs (pre-training, linear evaluation) do not read them, so the values given change nothing",
            Assert.Single(given.Notices, n => n.StartsWith(RunRequestResolver.UnusedNoticePrefix, StringComparison.Ordinal)));
    }
}

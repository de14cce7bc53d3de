using NASiam.Core.Options;

namespace NASiam.Core.Tests.Options;

public class RunOptionsTests
{
    [Fact]
    public void Defaults_AreValid_AndRoundTripThroughJson()
    {
        var o = new RunOptions();
        Assert.Empty(o.Validate());
        var back = RunOptions.FromJson(o.ToJson());
        Assert.Equal(o.ToJson(), back.ToJson());
        Assert.Contains("\"kind\": \"search\"", o.ToJson());
    }

    [Fact]
    public void EnumValues_AreWrittenInTheOneSpelling_AndOldKebabSpellingsStillRead()
    {
        var o = new RunOptions { Kind = RunKind.LinCls, Framework = Framework.MoCo, Linear = new LinearStageOptions { Optimizer = OptimizerKind.AdamW } };
        var json = System.Text.Json.Nodes.JsonNode.Parse(o.ToJson())!;
        Assert.Equal("lincls", (string?)json["kind"]);
        Assert.Equal("moco", (string?)json["framework"]);
        Assert.Equal("adamw", (string?)json["linear"]!["optimizer"]);
        Assert.Equal("per256", (string?)json["search"]!["lrScaling"]);
        Assert.Equal("cosine", (string?)json["search"]!["schedule"]);
        // Rows and checkpoints written before the spelling was fixed used kebab case.
        var old = RunOptions.FromJson("""{"kind":"lin-cls","framework":"mo-co","linear":{"optimizer":"adam-w"},"search":{"lrScaling":"per-batch256"}}""");
        Assert.Equal((RunKind.LinCls, Framework.MoCo, OptimizerKind.AdamW, LrScaling.PerBatch256),
            (old.Kind, old.Framework, old.Linear.Optimizer, old.Search.LrScaling));
        var sim = RunOptions.FromJson("""{"framework":"SimClr"}""");
        Assert.Equal(Framework.SimClr, sim.Framework);
    }

    [Fact]
    public void EveryPreset_IsValid_ForEveryFramework()
    {
        foreach (var name in RunPresets.Descriptions.Keys)
            foreach (var f in Enum.GetValues<Framework>())
            {
                if (name != RunPresets.QuickDemo && !name.StartsWith(f.ToName() + "-", StringComparison.Ordinal))
                {
                    // A framework preset refuses another framework instead of mixing two recipes.
                    Assert.Throws<ArgumentException>(() => RunPresets.Get(name, f));
                    continue;
                }
                var preset = RunPresets.Get(name, f);
                // CIFAR presets need the user's data folder; everything else must already be valid.
                var o = preset.Dataset == "synthetic" ? preset : preset with { DataPath = "/data/cifar" };
                Assert.True(o.Validate().Count == 0, $"{name}/{f}: {string.Join("; ", o.Validate())}");
            }
    }

    [Fact]
    public void Presets_CarryTheMethodDocRecipes()
    {
        var moco = RunPresets.Get("moco-cifar10");
        Assert.Equal((0.06, LrScaling.Absolute, 0.999, 0.99), (moco.Search.Lr, moco.Search.LrScaling, moco.Heads.SearchMomentum, moco.Heads.PretrainMomentum));
        Assert.Equal((OptimizerKind.Adam, 3e-4), (moco.Search.AlphaOptimizer, moco.Search.AlphaLr));
        var simclr = RunPresets.Get("simclr-cifar10");
        Assert.Equal((256, OptimizerKind.Adam, 0.5), (simclr.Search.BatchSize, simclr.Search.Optimizer, simclr.Heads.Temperature));
        var simsiam = RunPresets.Get("simsiam-cifar100");
        Assert.Equal((OptimizerKind.AdamW, 1e-3, 1e-3, true), (simsiam.Search.AlphaOptimizer, simsiam.Search.AlphaLr, simsiam.Search.AlphaWeightDecay, simsiam.Pretrain.FixPredictorLr));
        Assert.Equal("cifar100", simsiam.Dataset);
    }

    // The quick demo's alpha rate is 10x the framework's; stored and shown as the decimal a user would
    // type (MoCo's read 0.0029999999999999996, 3e-4 * 10 in binary floating point).
    [Theory]
    [InlineData(Framework.SimSiam, "0.01")]
    [InlineData(Framework.MoCo, "0.003")]
    [InlineData(Framework.SimClr, "0.01")]
    public void QuickDemo_AlphaLrIsTenTimesTheFrameworks_AsADecimal(Framework framework, string expected)
    {
        var demo = RunPresets.QuickDemoFor(framework);
        Assert.Equal(RunPresets.ForFramework(framework).Search.AlphaLr * 10, demo.Search.AlphaLr, 15);
        using var json = System.Text.Json.JsonDocument.Parse(demo.ToJson());
        Assert.Equal(expected, json.RootElement.GetProperty("search").GetProperty("alphaLr").GetRawText());
    }

    [Fact]
    public void PipelinePresets_PretrainTheSearchedGenotype_AndReferencePresetsTurnTheCompatSwitchesOn()
    {
        foreach (var name in RunPresets.Names.Where(n => n != RunPresets.QuickDemo))
        {
            var o = RunPresets.Get(name);
            Assert.Equal(RunKind.Pipeline, o.Kind);
            Assert.Equal(NASiam.Core.Genotypes.GenotypeReference.Searched, o.Pretrain.Genotype);
            bool reference = name.EndsWith(RunPresets.ReferenceSuffix, StringComparison.Ordinal);
            var c = o.Compat;
            bool any = c.MocoReferenceBatchNorm || c.MocoFrozenSharedCell || c.MocoQueueOnArchStep || c.SimClrAlphaStepPerEpoch || c.ResNet50ImageNetStemOnCifar || c.ImageNetSearchFirstQuarter;
            Assert.Equal(reference, any);
        }
        var moco = RunPresets.Get("moco-cifar10-reference").Compat;
        Assert.True(moco.MocoReferenceBatchNorm && moco.MocoFrozenSharedCell && moco.MocoQueueOnArchStep && moco.ResNet50ImageNetStemOnCifar);
        Assert.False(moco.SimClrAlphaStepPerEpoch);
        var simclr = RunPresets.Get("simclr-cifar10-reference").Compat;
        Assert.True(simclr.SimClrAlphaStepPerEpoch);
        Assert.False(simclr.ResNet50ImageNetStemOnCifar); // D18 is a SimSiam/MoCo defect
        Assert.True(RunPresets.Get("simsiam-cifar100-reference").Compat.ResNet50ImageNetStemOnCifar);
    }

    [Fact]
    public void Validate_NamesEachBadField()
    {
        var o = new RunOptions
        {
            Backbone = "vgg", Dataset = "cifar10", DataPath = null, Device = "gpu", Kind = RunKind.Pipeline,
            Search = new SearchStageOptions { BatchSize = 1, TrainPortion = 1.5 },
            Framework = Framework.MoCo, Heads = new HeadOptions { QueueSize = 1000 },
        };
        var errors = o.ValidateFields();
        Assert.Contains(errors, e => e.Path == "backbone" && e.Message.Contains("resnet-tiny"));
        Assert.Contains(errors, e => e.Path == "dataPath");
        Assert.Contains(errors, e => e.Path == "device");
        Assert.Contains(errors, e => e.Path == "search.batchSize");
        Assert.Contains(errors, e => e.Path == "search.trainPortion");
        Assert.Contains(errors, e => e.Path == "heads.queueSize" && e.Message.Contains("multiple of 2 x pretrain.batchSize"));
        var ex = Assert.Throws<ArgumentException>(() => o.EnsureValid());
        Assert.Contains("backbone:", ex.Message);
    }

    [Fact]
    public void FromJson_ReportsMalformedJson()
    {
        var e = Assert.Throws<ArgumentException>(() => RunOptions.FromJson("{\"kind\": \"dance\"}"));
        Assert.Contains("malformed", e.Message);
        Assert.Throws<ArgumentException>(() => RunPresets.Get("no-such-preset"));
    }
}

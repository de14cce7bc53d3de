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
    public void EveryPreset_IsValid_ForEveryFramework()
    {
        foreach (var name in RunPresets.Descriptions.Keys)
            foreach (var f in Enum.GetValues<Framework>())
            {
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

    [Fact]
    public void Validate_NamesEachBadField()
    {
        var o = new RunOptions
        {
            Backbone = "vgg", Dataset = "cifar10", DataPath = null, Device = "gpu", Kind = RunKind.Pipeline,
            Search = new SearchStageOptions { BatchSize = 1, TrainPortion = 1.5 },
            Framework = Framework.MoCo, Heads = new HeadOptions { QueueSize = 1000 },
        };
        var errors = o.Validate();
        Assert.Contains(errors, e => e.StartsWith("Backbone:") && e.Contains("resnet-tiny"));
        Assert.Contains(errors, e => e.StartsWith("DataPath:"));
        Assert.Contains(errors, e => e.StartsWith("Device:"));
        Assert.Contains(errors, e => e.StartsWith("Search.BatchSize:"));
        Assert.Contains(errors, e => e.StartsWith("Search.TrainPortion:"));
        Assert.Contains(errors, e => e.StartsWith("Heads.QueueSize:") && e.Contains("multiple of 2 x Pretrain.BatchSize"));
        var ex = Assert.Throws<ArgumentException>(() => o.EnsureValid());
        Assert.Contains("Backbone:", ex.Message);
    }

    [Fact]
    public void FromJson_ReportsMalformedJson()
    {
        var e = Assert.Throws<ArgumentException>(() => RunOptions.FromJson("{\"kind\": \"dance\"}"));
        Assert.Contains("malformed", e.Message);
        Assert.Throws<ArgumentException>(() => RunPresets.Get("no-such-preset"));
    }
}

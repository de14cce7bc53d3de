using NASiam.Core.Engine;
using NASiam.Core.Engine.Optimization;
using NASiam.Core.Options;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NASiam.Core.Tests.Engine.Optimization;

public class OptimizerFactoryTests
{
    static Parameter P(params float[] values) => new(tensor(values), requires_grad: true);

    static WeightOptimizerSettings Sgd(LrSchedule schedule = LrSchedule.Cosine, bool fixPred = true) =>
        new(OptimizerKind.Sgd, 0.06, LrScaling.PerBatch256, 512, 0.9, 5e-4, schedule, 10, fixPred);

    [Fact]
    public void CreateWeightOptimizer_PredictorGroupKeepsInitialLr_WhenFixPredictorLr()
    {
        using var opt = OptimizerFactory.CreateWeightOptimizer(
            [new("encoder", [P(1f)], false), new("predictor", [P(1f)], true)], Sgd());
        opt.SetEpoch(5);
        var rates = opt.CurrentRates();
        Assert.Equal(0.12, rates["predictor"], 12);
        Assert.Equal(0.12 * 0.5, rates["encoder"], 12);
    }

    [Fact]
    public void CreateWeightOptimizer_PredictorGroupDecays_WhenFixPredictorLrIsOff()
    {
        using var opt = OptimizerFactory.CreateWeightOptimizer(
            [new("encoder", [P(1f)], false), new("predictor", [P(1f)], true)], Sgd(fixPred: false));
        opt.SetEpoch(5);
        Assert.Equal(0.06, opt.CurrentRates()["predictor"], 12);
    }

    [Fact]
    public void CreateWeightOptimizer_SgdStep_AppliesWeightDecayToEveryTensor()
    {
        using var sc = new ScalarScope();
        // Zero loss gradient: the only update is lr * wd * w, so a decayed tensor must shrink.
        var w = P(2f);
        using var opt = OptimizerFactory.CreateWeightOptimizer([new("encoder", [w], false)],
            new WeightOptimizerSettings(OptimizerKind.Sgd, 0.1, LrScaling.Absolute, 256, 0.0, 0.5, LrSchedule.Constant, 1, false));
        opt.ZeroGrad();
        (w * sc[0]).sum().backward();
        opt.Step();
        Assert.Equal(2f - 0.1f * 0.5f * 2f, w.item<float>(), 5);
    }

    [Fact]
    public void CreateWeightOptimizer_DropsEmptyGroups_AndThrowsWhenNothingTrains()
    {
        using var opt = OptimizerFactory.CreateWeightOptimizer([new("encoder", [P(1f)], false), new("predictor", [], true)], Sgd());
        Assert.Equal(["encoder"], opt.GroupNames);
        Assert.Throws<ArgumentException>(() => OptimizerFactory.CreateWeightOptimizer([new("encoder", [], false)], Sgd()));
    }

    [Fact]
    public void CreateAlphaOptimizer_AdamW_DecaysDecoupled_AdamL2DecayDiffers()
    {
        using var sc = new ScalarScope();
        // Same zero-gradient step: AdamW shrinks by lr*wd*w; Adam's L2 term goes through the
        // normalised update, moving by about lr. Different amounts prove the two kinds are wired.
        var a = P(1f);
        var b = P(1f);
        var s = new SearchStageOptions { AlphaOptimizer = OptimizerKind.AdamW, AlphaLr = 1e-3, AlphaWeightDecay = 1e-3 };
        using var adamw = OptimizerFactory.CreateAlphaOptimizer([a], s);
        using var adam = OptimizerFactory.CreateAlphaOptimizer([b], s with { AlphaOptimizer = OptimizerKind.Adam });
        (a * sc[0]).sum().backward();
        (b * sc[0]).sum().backward();
        adamw.Step();
        adam.Step();
        Assert.Equal(1f - 1e-6f, a.item<float>(), 7);
        Assert.Equal(1f - 1e-3f, b.item<float>(), 5);
        Assert.Equal(1e-3, adamw.CurrentRates()["alpha"], 12);
    }

    [Fact]
    public void CreateAlphaOptimizer_Throws_ForSgd() =>
        Assert.Throws<ArgumentException>(() => OptimizerFactory.CreateAlphaOptimizer([P(1f)], new SearchStageOptions { AlphaOptimizer = OptimizerKind.Sgd }));
}

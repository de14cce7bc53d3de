using NASiam.Core.Engine;
using NASiam.Core.Data;
using NASiam.Core.Engine.Evaluation;
using NASiam.Core.Engine.Runs;
using NASiam.Core.Engine.Optimization;
using NASiam.Core.Options;
using static TorchSharp.torch;

namespace NASiam.Core.Tests.Engine.Evaluation;

public class LinearProbeTests
{
    static (Tensor X, Tensor Y) Separable(int n, int seed)
    {
        // Label = which of 4 random directions has the largest projection: linearly separable.
        manual_seed(seed);
        var directions = randn(8, 4, generator: new Generator(99));
        var x = randn(n, 8);
        return (x, x.matmul(directions).argmax(1));
    }

    [Fact]
    public void TrainStep_LearnsLinearlySeparableFeatures()
    {
        var (x, y) = Separable(512, 1);
        var (tx, ty) = Separable(256, 2);
        using var probe = new LinearProbe(8, 4, CPU, seed: 0);
        using var opt = OptimizerFactory.CreateWeightOptimizer([new("classifier", probe.Parameters(), false)],
            new WeightOptimizerSettings(OptimizerKind.Sgd, 0.5, LrScaling.Absolute, 64, 0.9, 0, LrSchedule.Constant, 1, false));
        var before = probe.Evaluate([(tx, ty)]);
        for (int epoch = 0; epoch < 30; epoch++)
            for (int i = 0; i < 512; i += 64)
                probe.TrainStep(x.narrow(0, i, 64), y.narrow(0, i, 64), opt);
        var after = probe.Evaluate([(tx.narrow(0, 0, 100), ty.narrow(0, 0, 100)), (tx.narrow(0, 100, 156), ty.narrow(0, 100, 156))]);
        Assert.True(after.Top1 > 95, $"top-1 {after.Top1}");
        Assert.True(after.Top1 > before.Top1 + 30, $"before {before.Top1}, after {after.Top1}");
        Assert.Equal(100.0, after.Top5); // 4 classes: the truth is always in the top 5
    }

    [Fact]
    public void TrainStep_WithNormalizedFeatures_LearnsBadlyScaledFeaturesAtTheReferenceLr()
    {
        using var sc = new ScalarScope();
        // Features 1000x larger and offset: the reference lr 30 works only after standardisation.
        var (x, y) = Separable(512, 1);
        var (tx, ty) = Separable(256, 2);
        using var probe = new LinearProbe(8, 4, CPU, seed: 0, normalizeFeatures: true);
        using var opt = OptimizerFactory.CreateWeightOptimizer([new("classifier", probe.Parameters(), false)],
            new WeightOptimizerSettings(OptimizerKind.Sgd, 30, LrScaling.Absolute, 64, 0.9, 0, LrSchedule.Constant, 1, false));
        for (int epoch = 0; epoch < 10; epoch++)
            for (int i = 0; i < 512; i += 64)
                Assert.True(double.IsFinite(probe.TrainStep(x.narrow(0, i, 64) * sc[1000] + sc[50], y.narrow(0, i, 64), opt)));
        var after = probe.Evaluate([(tx * sc[1000] + sc[50], ty)]);
        Assert.True(probe.NormalizesFeatures);
        Assert.True(after.Top1 > 90, $"top-1 {after.Top1}");
        Assert.Equal(2, probe.NormalizerState().Count);
    }

    [Fact]
    public void NormalizerState_IsEmpty_WithoutNormalization()
    {
        using var probe = new LinearProbe(8, 4, CPU, seed: 0);
        Assert.False(probe.NormalizesFeatures);
        Assert.Empty(probe.NormalizerState());
    }

    [Fact]
    public void Constructor_InitialisesWeightsSmallAndBiasZero()
    {
        using var probe = new LinearProbe(512, 10, CPU, seed: 3);
        var std = probe.Module.weight!.std().item<float>();
        Assert.InRange(std, 0.009, 0.011);
        Assert.Equal(0f, probe.Module.bias!.abs().sum().item<float>());
    }

    [Fact]
    public void Constructor_Throws_ForOneClass() => Assert.Throws<ArgumentException>(() => new LinearProbe(4, 1, CPU, 0));

    static ScheduledOptimizer Sgd(LinearProbe probe, double lr) => OptimizerFactory.CreateWeightOptimizer([new("classifier", probe.Parameters(), false)],
        new WeightOptimizerSettings(OptimizerKind.Sgd, lr, LrScaling.Absolute, 128, 0.9, 0, LrSchedule.Constant, 1, false));

    [Fact]
    public void Training_On1025ImagesAtBatch128_KeepsRunningStatisticsFinite()
    {
        // The linear evaluation's batches (no drop_last): 1,025 = 8·128 + 1 must not end in a 1-sample batch.
        var (x, y) = Separable(1025, 1);
        var (tx, ty) = Separable(256, 2);
        using var probe = new LinearProbe(8, 4, CPU, seed: 0, normalizeFeatures: true);
        using var opt = Sgd(probe, 0.5);
        var batches = new BatchProvider(new IndexRange(0, 1025), 128, seed: 0, stream: 3, dropLast: false);
        for (int epoch = 0; epoch < 5; epoch++)
            foreach (var idx in batches.Epoch(epoch))
            {
                using var index = tensor(idx);
                Assert.True(double.IsFinite(probe.TrainStep(x.index_select(0, index), y.index_select(0, index), opt)));
            }
        foreach (var stat in probe.NormalizerState().Values) Assert.True(stat.isfinite().all().item<bool>());
        Assert.True(probe.Evaluate([(tx, ty)]).Top1 > 90);
        // The single sample the batches leave out would have been refused, not turned into NaN statistics.
        var e = Assert.Throws<ArgumentException>(() => probe.TrainStep(x.narrow(0, 1024, 1), y.narrow(0, 1024, 1), opt));
        Assert.Contains("at least 2 samples; got 1", e.Message);
    }

    [Fact]
    public void TrainStep_RefusesNonFiniteFeatures_AndNamesANonFiniteRunningStatistic()
    {
        using var sc = new ScalarScope();
        var (x, y) = Separable(64, 1);
        using var probe = new LinearProbe(8, 4, CPU, seed: 0, normalizeFeatures: true);
        using var opt = Sgd(probe, 0.1);
        var bad = x.clone();
        bad[3, 2] = tensor(double.NaN);
        var e = Assert.Throws<NonFiniteLossException>(() => probe.TrainStep(bad, y, opt));
        Assert.Contains("1 of 512 values of the input features of a training batch", e.Message);
        using (no_grad()) probe.NormalizerState()["probe_norm_var"].fill_(sc[double.PositiveInfinity]);
        e = Assert.Throws<NonFiniteLossException>(() => probe.TrainStep(x, y, opt));
        Assert.Contains("running_var (probe_norm_var)", e.Message);
        Assert.Contains("8 infinite", e.Message);
    }

    [Fact]
    public void CountHits_RefusesNonFiniteLogits()
    {
        var (x, y) = Separable(16, 1);
        using var probe = new LinearProbe(8, 4, CPU, seed: 0);
        using (no_grad()) probe.Module.bias![1] = tensor(float.NaN);
        var e = Assert.Throws<NonFiniteLossException>(() => probe.Evaluate([(x, y)]));
        Assert.Contains("16 of 64 values of the logits of an evaluation batch are not finite (16 NaN, 0 infinite)", e.Message);
    }
}

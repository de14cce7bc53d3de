using NASiam.Core.Engine.Evaluation;
using NASiam.Core.Engine.Runs;
using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Tests.Engine.Evaluation;

public class FiniteChecksTests
{
    [Fact]
    public void RequireFiniteBuffers_NamesTheBatchNormStatisticThatTurnedNaN()
    {
        using var model = nn.Sequential(("fc", nn.Linear(4, 3)), ("bn", nn.BatchNorm1d(3)));
        model.train();
        model.forward(randn(8, 4));
        FiniteChecks.RequireFiniteBuffers(model, "probe model"); // healthy: no throw
        // One sample in training mode: unbiased variance 0/0 -> NaN running_var (what a 1-image last batch does).
        model.forward(randn(1, 4));
        var e = Assert.Throws<NonFiniteLossException>(() => FiniteChecks.RequireFiniteBuffers(model, "probe model after epoch 0"));
        Assert.Contains("in the probe model after epoch 0: bn.running_var (3 of 3)", e.Message);
        Assert.DoesNotContain("running_mean", e.Message);
    }
}

using NASiam.Core.Engine;
using NASiam.Core.Search;
using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Tests.Search;

public class ViewBatchNorm1dTests
{
    static void AssertClose(Tensor expected, Tensor actual, string what, double tolerance = 1e-6)
    {
        Assert.Equal(expected.shape, actual.shape);
        Assert.True(actual.allclose(expected, rtol: tolerance, atol: tolerance),
            $"{what}: max difference {(actual - expected).abs().max().item<float>()}");
    }

    /// <summary>Random affine parameters and running statistics, the same in both modules.</summary>
    static void Randomise(nn.Module a, nn.Module b)
    {
        using var _ = no_grad();
        foreach (var (name, t) in a.state_dict())
        {
            if (t.dtype != ScalarType.Float32) continue;
            using var sc = new ScalarScope();
            var value = name == "running_var" ? rand(t.shape) + sc[0.5] : randn(t.shape);
            t.copy_(value);
            b.state_dict()[name].copy_(value);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Rows_MatchTorchBatchNorm1d_InTrainingAndEval(bool affine)
    {
        manual_seed(1);
        using var scope = NewDisposeScope();
        var ours = new ViewBatchNorm1d(6, eps: 1e-3, affine: affine);
        var torchBn = nn.BatchNorm1d(6, eps: 1e-3, affine: affine);
        Assert.Equal(torchBn.state_dict().Keys.Order(), ours.state_dict().Keys.Order());
        Randomise(ours, torchBn);
        using var sc = new ScalarScope();
        var x = randn(8, 6) * sc[3] + sc[1];
        AssertClose(torchBn.call(x), ours.call(x), "training output");
        foreach (var key in new[] { "running_mean", "running_var" })
            AssertClose(torchBn.state_dict()[key], ours.state_dict()[key], key);
        Assert.Equal(1L, ours.NumBatchesTracked.item<long>());
        ours.eval();
        torchBn.eval();
        AssertClose(torchBn.call(x), ours.call(x), "eval output");
        Assert.Equal(1L, ours.NumBatchesTracked.item<long>());
    }

    [Theory]
    [InlineData(true, 2)]
    [InlineData(false, 2)]
    [InlineData(true, 3)]
    public void StackedViews_EqualOneCallPerView_OutputsGradientsAndRunningStatistics(bool affine, int views)
    {
        manual_seed(2);
        using var scope = NewDisposeScope();
        var batched = new ViewBatchNorm1d(5, affine: affine);
        var perView = new ViewBatchNorm1d(5, affine: affine);
        Randomise(batched, perView);
        // Views with clearly different statistics, so per-view and pooled normalisation differ.
        using var sc = new ScalarScope();
        var x = cat(Enumerable.Range(0, views).Select(v => randn(7, 1, 5) * sc[v + 1] + sc[2 * v]).ToArray(), 1);
        var upstream = randn(7, views, 5);

        var y = batched.call(x);
        var expected = stack(Enumerable.Range(0, views).Select(v => perView.call(x.select(1, v))).ToArray(), 1);
        AssertClose(expected, y, "output");
        using (var pooled = new ViewBatchNorm1d(5, affine: affine))
            Assert.False(pooled.call(x.reshape(7 * views, 5)).view(7, views, 5).allclose(y, rtol: 1e-3, atol: 1e-3)); // not the pooled statistics
        foreach (var key in new[] { "running_mean", "running_var" })
            AssertClose(perView.state_dict()[key], batched.state_dict()[key], key);
        Assert.Equal((long)views, batched.NumBatchesTracked.item<long>());
        Assert.Equal((long)views, perView.NumBatchesTracked.item<long>());

        if (affine)
        {
            (y * upstream).sum().backward();
            (expected * upstream).sum().backward();
            AssertClose(perView.Weight!.grad!, batched.Weight!.grad!, "weight gradient", 1e-5);
            AssertClose(perView.Bias!.grad!, batched.Bias!.grad!, "bias gradient", 1e-5);
        }
    }

    [Fact]
    public void StackedViews_InEval_UseTheRunningStatisticsForEveryRow()
    {
        manual_seed(4);
        using var scope = NewDisposeScope();
        var bn = new ViewBatchNorm1d(4);
        var twin = nn.BatchNorm1d(4);
        Randomise(bn, twin);
        bn.eval();
        twin.eval();
        var x = randn(3, 2, 4);
        AssertClose(twin.call(x.reshape(6, 4)).view(3, 2, 4), bn.call(x), "eval output");
        Assert.Equal(0L, bn.NumBatchesTracked.item<long>());
    }

    [Fact]
    public void To_MovesTheTensorsItComputesWith()
    {
        using var scope = NewDisposeScope();
        var bn = new ViewBatchNorm1d(4);
        bn.to(ScalarType.Float64);
        Assert.All(new[] { bn.Weight!, bn.Bias!, bn.RunningMean, bn.RunningVar }, t => Assert.Equal(ScalarType.Float64, t.dtype));
        Assert.Equal(bn.state_dict()["running_mean"].Handle, bn.RunningMean.Handle);
        var y = bn.call(randn(3, 2, 4, dtype: ScalarType.Float64));
        Assert.Equal(ScalarType.Float64, y.dtype);
        Assert.Equal(ScalarType.Float64, bn.RunningMean.dtype);
    }

    [Fact]
    public void Forward_RejectsOtherShapes_NamingTheExpectedOnes()
    {
        using var bn = new ViewBatchNorm1d(4);
        using var wrongWidth = zeros(3, 5);
        using var image = zeros(2, 4, 3, 3);
        Assert.Contains("[N, 4] or [N, views, 4]", Assert.Throws<ArgumentException>(() => bn.call(wrongWidth)).Message);
        Assert.Contains("[N, 4] or [N, views, 4]", Assert.Throws<ArgumentException>(() => bn.call(image)).Message);
    }
}

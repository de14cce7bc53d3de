using NASiam.Core.Search;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NASiam.Core.Tests.Search;

public class OperationSetTests
{
    static readonly OperationSet SimSiamOps = new(Framework.SimSiam);

    static Type[] Layout(nn.Module m) => m is Sequential s ? s.children().Select(c => c.GetType()).ToArray() : [m.GetType()];

    static long ParamCount(nn.Module m) => m.parameters().Sum(p => p.numel());

    [Theory]
    [InlineData(OperationNames.LinearRelu, typeof(ReLU))]
    [InlineData(OperationNames.LinearSilu, typeof(SiLU))]
    [InlineData(OperationNames.LinearHardswish, typeof(Hardswish))]
    [InlineData(OperationNames.LinearElu, typeof(ScalarSafeElu))]
    public void Create_LinearOp_IsBiasFreeLinearThenBatchNormThenActivation_WhenReducingOrEqual(string name, Type activation)
    {
        foreach (var (i, o) in new[] { (8, 4), (6, 6) })
        {
            using var op = SimSiamOps.Create(name, i, o);
            Assert.Equal(new[] { typeof(Linear), typeof(ViewBatchNorm1d), activation }, Layout(op));
            var linear = (Linear)((Sequential)op).children().First();
            Assert.Null(linear.bias);
            Assert.Equal(i * o + 2 * o, ParamCount(op));
        }
    }

    [Fact]
    public void Create_LinearOps_AreOneAffineMap_WhenExpanding()
    {
        // Expansion: identity and all four linear_* are the same function class (activation ignored).
        foreach (var name in new[] { OperationNames.Identity, OperationNames.LinearRelu, OperationNames.LinearSilu,
                     OperationNames.LinearHardswish, OperationNames.LinearElu })
        {
            using var op = SimSiamOps.Create(name, 3, 5);
            // identity keeps the reference's Sequential(Lin(b), Identity) (keys "0.weight"); linear_* is a bare Linear.
            var linear = name == OperationNames.Identity
                ? Assert.IsType<Linear>(((Sequential)op).children().First())
                : Assert.IsType<Linear>(op);
            Assert.NotNull(linear.bias);
            using var x = tensor(new float[] { -4, -3, -2, -1, 0, 1 }).reshape(2, 3);
            using var expected = x.matmul(linear.weight!.t()) + linear.bias!;
            using var y = op.call(x);
            Assert.True(y.allclose(expected, 1e-5, 1e-6), name); // negative outputs survive: no activation
        }
    }

    [Fact]
    public void Create_Identity_PassesThroughWithoutParameters_WhenEqualWidth()
    {
        using var op = SimSiamOps.Create(OperationNames.Identity, 4, 4);
        Assert.Equal(0, ParamCount(op));
        using var x = randn(3, 4);
        using var y = op.call(x);
        Assert.True(y.eq(x).all().item<bool>());
    }

    [Fact]
    public void Create_Identity_IsLinearBatchNormRelu_WhenReducing()
    {
        using var op = SimSiamOps.Create(OperationNames.Identity, 6, 3);
        Assert.Equal(new[] { typeof(Linear), typeof(ViewBatchNorm1d), typeof(ReLU) }, Layout(op));
    }

    [Fact]
    public void Create_AvgPool_IsPoolThenBatchNorm_AndComputesIt_WhenEqualWidth()
    {
        using var op = SimSiamOps.Create(OperationNames.AvgPool, 4, 4);
        Assert.Equal(new[] { typeof(FeaturePool), typeof(ViewBatchNorm1d) }, Layout(op));
        Assert.Equal(8, ParamCount(op)); // only the BN affine pair
        op.train();
        using var x = tensor(new float[] { 3, 0, 0, 3, 0, 3, 3, 0 }).reshape(2, 4);
        using var y = op.call(x);
        // Pool by hand, then batch-normalise each feature over the 2 samples (biased variance, eps 1e-5).
        double[][] pooled = [[1, 1, 1, 1], [1, 2, 2, 1]];
        for (int f = 0; f < 4; f++)
        {
            double mean = (pooled[0][f] + pooled[1][f]) / 2, variance = Math.Pow(pooled[0][f] - mean, 2);
            for (int n = 0; n < 2; n++)
                Assert.Equal((pooled[n][f] - mean) / Math.Sqrt(variance + 1e-5), y[n, f].item<float>(), 4);
        }
    }

    [Fact]
    public void Create_PoolOps_PutBatchNormAndReluBeforePool_WhenReducing_AndBiasLinearOnly_WhenExpanding()
    {
        using var reduce = SimSiamOps.Create(OperationNames.MaxPool, 8, 4);
        Assert.Equal(new[] { typeof(Linear), typeof(ViewBatchNorm1d), typeof(ReLU), typeof(Sequential) }, Layout(reduce));
        Assert.Equal(8 * 4 + 2 * 4 + 2 * 4, ParamCount(reduce));
        using var expand = SimSiamOps.Create(OperationNames.MaxPool, 4, 8);
        Assert.Equal(new[] { typeof(Linear), typeof(Sequential) }, Layout(expand));
        Assert.Equal(4 * 8 + 8 + 2 * 8, ParamCount(expand));
        Assert.Contains("3.1.running_mean", reduce.state_dict().Keys); // the reference's key layout
    }

    [Fact]
    public void Create_MoCoReferenceVariant_UsesBiasedLinearAndBatchNormEpsOutDim_OnlyUnderCompatFlag()
    {
        using var fixedOp = new OperationSet(Framework.MoCo).Create(OperationNames.LinearRelu, 16, 16);
        Assert.Null(((Linear)((Sequential)fixedOp).children().First()).bias);
        using var compat = new OperationSet(Framework.MoCo, mocoReferenceBatchNorm: true).Create(OperationNames.LinearRelu, 16, 16);
        var parts = ((Sequential)compat).children().ToArray();
        Assert.NotNull(((Linear)parts[0]).bias);
        // eps = out_dim = 16: a constant input row normalises to ~0 instead of being amplified.
        compat.train();
        using var x = tensor(new float[] { 0, 1 }).repeat(16).reshape(16, 2).t().contiguous();
        using (no_grad())
        {
            ((Linear)parts[0]).weight!.copy_(eye(16));
            ((Linear)parts[0]).bias!.zero_();
        }
        using var y = compat.call(x);
        Assert.Equal(0.5 / Math.Sqrt(0.25 + 16), y[1, 0].item<float>(), 4);
        Assert.False(new OperationSet(Framework.SimSiam, mocoReferenceBatchNorm: true).MocoReferenceBatchNorm);
    }

    [Fact]
    public void Create_Throws_ListingValidNames_WhenOpUnknown()
    {
        var e = Assert.Throws<ArgumentException>(() => SimSiamOps.Create("linear_mish", 4, 4));
        Assert.Contains("linear_mish", e.Message);
        Assert.Contains("linear_hardswish", e.Message);
    }

    [Fact]
    public void Columns_FollowFrameworkOrder_SimClrSwapsSiluAndHardswish()
    {
        Assert.Equal(OperationNames.LinearSilu, new OperationSet(Framework.SimSiam).Columns[4]);
        Assert.Equal(OperationNames.LinearHardswish, new OperationSet(Framework.SimClr).Columns[4]);
    }
    [Fact]
    public void ScalarSafeElu_EqualsTorchSharpElu_InValueAndGradient()
    {
        var x = linspace(-4, 4, 41);
        var xa = x.clone().requires_grad_(true);
        var xb = x.clone().requires_grad_(true);
        var ya = new ScalarSafeElu().call(xa);
        var yb = nn.ELU().call(xb);
        Assert.Equal(0f, (ya - yb).abs().max().item<float>());
        ya.sum().backward();
        yb.sum().backward();
        Assert.Equal(0f, (xa.grad! - xb.grad!).abs().max().item<float>());
    }
}

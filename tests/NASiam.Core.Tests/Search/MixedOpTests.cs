using NASiam.Core.Search;
using static TorchSharp.torch;

namespace NASiam.Core.Tests.Search;

public class MixedOpTests
{
    [Theory]
    [InlineData(8, 8)]
    [InlineData(8, 4)]
    [InlineData(4, 8)]
    public void Forward_EqualsThatOp_WhenWeightsAreOneHot(int inDim, int outDim)
    {
        manual_seed(1);
        using var mixed = new MixedOp(new OperationSet(Framework.SimSiam), inDim, outDim);
        mixed.eval(); // running stats: the op's output does not depend on which call came first
        using var x = randn(5, inDim);
        for (int k = 0; k < 7; k++)
        {
            using var weights = zeros(7);
            weights[k] = tensor(1f);
            using var mixedOut = mixed.call(x, weights);
            using var opOut = mixed.Ops[k].call(x);
            Assert.True(mixedOut.allclose(opOut, 1e-5, 1e-6), $"op {k}");
        }
    }

    [Fact]
    public void Forward_IsWeightedSumOfAllOps()
    {
        manual_seed(2);
        using var mixed = new MixedOp(new OperationSet(Framework.SimClr), 6, 6);
        mixed.eval();
        using var x = randn(3, 6);
        using var w = softmax(randn(7), 0);
        using var expected = mixed.Ops.Select((op, k) => w[k] * op.call(x)).Aggregate((a, b) => a + b);
        using var y = mixed.call(x, w);
        Assert.True(y.allclose(expected, 1e-5, 1e-6));
        Assert.Throws<ArgumentException>(() => mixed.call(x, zeros(6)));
    }
}

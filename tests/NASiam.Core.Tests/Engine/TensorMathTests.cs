using NASiam.Core.Engine;
using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Tests.Engine;

/// <summary>TensorMath computes what TorchSharp's operators compute, bit for bit, for float and integer tensors.</summary>
public class TensorMathTests
{
    static void Same(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.dtype, actual.dtype);
        Assert.Equal(expected.shape, actual.shape);
        Assert.Equal(expected.contiguous().to(ScalarType.Float64).data<double>().ToArray(), actual.contiguous().to(ScalarType.Float64).data<double>().ToArray());
    }

    [Fact]
    public void PlusAndMinus_EqualTheOperators_Bitwise()
    {
        using var scope = NewDisposeScope();
        using var sc = new ScalarScope();
        var g = new Generator(4);
        var a = randn([5, 3, 4], generator: g);
        var b = randn([3, 1], generator: g) * sc[1e-3];       // broadcast, different magnitudes: rounding shows
        var s = sc[0.1];
        Same(a + b, TensorMath.Plus(a, b));
        Same(a + s, TensorMath.Plus(a, s));
        Same(s + a, TensorMath.Plus(s, a));
        Same(s - a, TensorMath.Minus(s, a));
        var i = arange(sc[12], ScalarType.Int64).view(3, 4);
        Same(i + i, TensorMath.Plus(i, i));                     // an integral tensor gets the int64 alpha
        Same(sc[7] - i, TensorMath.Minus(sc[7], i));
    }

    [Fact]
    public void Items_ReadWhatItemReads_AndRefuseATensorOfManyElements()
    {
        using var f = torch.tensor(0.1f);
        using var d = torch.tensor(1.0 / 3);
        using var l = torch.tensor(1L << 40);
        Assert.Equal(f.item<float>(), f.ItemSingle());
        Assert.Equal(d.item<double>(), d.ItemDouble());
        Assert.Equal(l.item<long>(), l.ItemInt64());
        using var many = torch.ones(2);
        Assert.ThrowsAny<Exception>(() => many.ItemSingle());
    }
}

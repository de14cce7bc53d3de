using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Engine;

/// <summary>
/// Sums and differences without TorchSharp's hidden Scalar. Its <c>a + b</c>, <c>a + s</c>,
/// <c>s + a</c> call <c>add(x)</c>, which makes a native alpha Scalar 1 that only the GC frees, and
/// <c>s − a</c> is <c>a.negative().add(s)</c>, the same (NASIAM002). These run the same ATen ops with
/// a static alpha, so results are bitwise those of the operators. The alpha is the int64 1 for
/// integral tensors (ATen refuses a floating alpha there) and the double 1 otherwise.
/// </summary>
public static class TensorMath
{
    static Scalar One(Tensor t) => is_integral(t.dtype) ? Scalars.OneInt64 : Scalars.One;

    /// <summary><paramref name="a"/> + <paramref name="b"/> (broadcast).</summary>
    public static Tensor Plus(Tensor a, Tensor b) => a.add(b, One(a));

    /// <summary><paramref name="a"/> + <paramref name="s"/>.</summary>
    public static Tensor Plus(Tensor a, Scalar s) => a.add(s, One(a));

    /// <summary><paramref name="s"/> + <paramref name="a"/>, as TorchSharp's operator computes it (a.add(s)).</summary>
    public static Tensor Plus(Scalar s, Tensor a) => a.add(s, One(a));

    /// <summary><paramref name="s"/> − <paramref name="a"/>, as TorchSharp's operator computes it (−a + s).</summary>
    public static Tensor Minus(Scalar s, Tensor a)
    {
        using var negated = a.negative();
        return negated.add(s, One(negated));
    }

    /// <summary>
    /// The value of a one-element tensor, as <c>item&lt;float&gt;()</c> reads it but without its
    /// TensorAccessor, whose stride read marshals a callback whose native thunk only the GC frees
    /// (NASIAM002): the tensor's native Scalar, read and disposed. Throws when the tensor does not
    /// hold exactly one element.
    /// </summary>
    public static float ItemSingle(this Tensor t)
    {
        using var value = t.ToScalar();
        return value.ToSingle();
    }

    /// <summary>As <see cref="ItemSingle"/>, as a double.</summary>
    public static double ItemDouble(this Tensor t)
    {
        using var value = t.ToScalar();
        return value.ToDouble();
    }

    /// <summary>As <see cref="ItemSingle"/>, as a long (integer tensors: counts, indices).</summary>
    public static long ItemInt64(this Tensor t)
    {
        using var value = t.ToScalar();
        return value.ToInt64();
    }

}

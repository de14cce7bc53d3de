using TorchSharp;

namespace NASiam.Core.Engine;

/// <summary>
/// Scalars for one method's tensor arithmetic, alive until the scope is disposed. Why: a Scalar that
/// TorchSharp makes from a number at the call (<c>t * 0.5</c>, <c>t.clamp(0, 1)</c>) is freed only by
/// its finalizer, which may run while libtorch still reads it (TorchSharp passes the handle without
/// keeping the object alive); analyzer NASIAM001 forbids those conversions in the engine. The
/// indexer keeps the number's type (an int stays an integer Scalar), so <c>t * sc[2]</c> computes
/// exactly what <c>t * 2</c> did. Constants on hot paths belong in <see cref="Scalars"/> instead.
/// </summary>
/// <example><code>
/// using var sc = new ScalarScope();
/// var y = (x * sc[2] - sc[1]).clamp(sc[0], sc[1]);
/// </code></example>
public sealed class ScalarScope : IDisposable
{
    readonly List<Scalar> _made = new();

    /// <summary>A double-precision Scalar of <paramref name="value"/>.</summary>
    public Scalar this[double value] => Keep(value.ToScalar());
    /// <summary>A single-precision Scalar of <paramref name="value"/>.</summary>
    public Scalar this[float value] => Keep(value.ToScalar());
    /// <summary>An int32 Scalar of <paramref name="value"/>.</summary>
    public Scalar this[int value] => Keep(value.ToScalar());
    /// <summary>An int64 Scalar of <paramref name="value"/>.</summary>
    public Scalar this[long value] => Keep(value.ToScalar());
    /// <summary>A boolean Scalar of <paramref name="value"/>.</summary>
    public Scalar this[bool value] => Keep(value.ToScalar());

    Scalar Keep(Scalar s)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _made.Add(s);
        return s;
    }

    bool _disposed;

    /// <summary>Frees every Scalar this scope made.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var s in _made) s.Dispose();
        _made.Clear();
    }
}

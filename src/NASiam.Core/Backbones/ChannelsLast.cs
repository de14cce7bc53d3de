using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Backbones;

/// <summary>
/// Channels-last (NHWC in memory, NCHW in shape) layout for 4-D tensors. TorchSharp 0.107 exposes
/// no memory_format argument, but libtorch picks its NHWC convolution and batch-norm kernels from
/// the strides alone, so an <c>empty_strided</c> copy with strides [C·H·W, 1, W·C, C] is enough.
/// Shapes and values are unchanged; only the memory order differs. Any device.
/// </summary>
public static class ChannelsLast
{
    /// <summary>Channels-last strides of a 4-D shape [N, C, H, W].</summary>
    public static long[] Strides(ReadOnlySpan<long> shape)
    {
        if (shape.Length != 4) throw new ArgumentException($"Channels-last needs a 4-D shape, got {shape.Length}-D.");
        long c = shape[1], h = shape[2], w = shape[3];
        return [c * h * w, 1, w * c, c];
    }

    /// <summary>True when <paramref name="t"/> is 4-D and laid out channels-last.</summary>
    public static bool Is(Tensor t)
    {
        if (t.dim() != 4) return false;
        var expected = Strides(t.shape);
        var actual = t.stride();
        for (int i = 0; i < 4; i++)
            if (t.shape[i] != 1 && actual[i] != expected[i]) return false;
        return true;
    }

    /// <summary>A channels-last copy of a 4-D tensor (autograd flows through the copy); other tensors are returned as they are.</summary>
    public static Tensor Convert(Tensor t)
    {
        if (t.dim() != 4 || Is(t)) return t;
        var copy = empty_strided(t.shape, Strides(t.shape), t.dtype, t.device);
        return copy.copy_(t);
    }
}

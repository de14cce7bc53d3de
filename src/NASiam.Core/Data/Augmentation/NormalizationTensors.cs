using static TorchSharp.torch;

namespace NASiam.Core.Data.Augmentation;

/// <summary>
/// (x − mean) / std per channel for float [B,3,H,W], with the mean and std as [1,3,1,1] float32
/// tensors made once per transform: TorchSharp's <c>tensor(array)</c> marshals a deleter whose native
/// thunk only the GC frees, which per batch fragmented the C heap between steps (NativeMemoryTests).
/// Same values as <see cref="TwoViewAugmenter.Normalize"/>.
/// </summary>
internal sealed class NormalizationTensors(ChannelNormalization normalization, Device device)
{
    Tensor? _mean, _std;

    public Tensor Apply(Tensor x)
    {
        // Made outside any dispose scope the caller holds: they live as long as the transform.
        _mean ??= tensor(normalization.Mean.Select(v => (float)v).ToArray(), device: device).view(1, 3, 1, 1).DetachFromDisposeScope();
        _std ??= tensor(normalization.Std.Select(v => (float)v).ToArray(), device: device).view(1, 3, 1, 1).DetachFromDisposeScope();
        return (x - _mean) / _std;
    }
}

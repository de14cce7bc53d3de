using static TorchSharp.torch;

namespace NASiam.Core.Data.Augmentation;

/// <summary>
/// The random parameters of one view, one row per image, all on the CPU. Identity values where an
/// operator is not applied (factors 1, hue 0, sigma 0), so statistics can be read straight off.
/// </summary>
public sealed class AugmentationParameters : IDisposable
{
    /// <summary>float32 [B, 4]: crop top, left, height, width in source pixels.</summary>
    public required Tensor CropBoxes { get; init; }
    /// <summary>bool [B]: horizontal flip.</summary>
    public required Tensor Flip { get; init; }
    /// <summary>bool [B]: colour jitter applied.</summary>
    public required Tensor Jitter { get; init; }
    /// <summary>float32 [B, 4]: brightness, contrast, saturation factors and hue shift (1, 1, 1, 0 = identity).</summary>
    public required Tensor JitterFactors { get; init; }
    /// <summary>int64 [B, 4]: per-image order of the jitter sub-ops (0 brightness, 1 contrast, 2 saturation, 3 hue).</summary>
    public required Tensor JitterOrder { get; init; }
    /// <summary>bool [B]: converted to grayscale (3 equal channels).</summary>
    public required Tensor Gray { get; init; }
    /// <summary>float32 [B]: Gaussian blur sigma in pixels; 0 = no blur.</summary>
    public required Tensor BlurSigma { get; init; }

    public void Dispose()
    {
        CropBoxes.Dispose(); Flip.Dispose(); Jitter.Dispose(); JitterFactors.Dispose();
        JitterOrder.Dispose(); Gray.Dispose(); BlurSigma.Dispose();
    }
}

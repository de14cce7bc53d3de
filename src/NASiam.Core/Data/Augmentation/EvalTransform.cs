using NASiam.Core.Engine;
using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Data.Augmentation;

/// <summary>
/// The single-view evaluation transform (kNN memory/queries, linear-eval validation): uint8
/// [B,3,H,W] → float32 normalised on the device. CIFAR: normalise only. ImageNet recipe
/// (<see cref="ForImageNet"/>): Resize(round(S·256/224)) → CenterCrop(S), i.e. Resize(256) →
/// CenterCrop(224) at S = 224, scaled for smaller stored images.
/// </summary>
public sealed class EvalTransform
{
    public ChannelNormalization Normalization { get; }
    public Device Device { get; }
    /// <summary>Resize target of the (square) images before the centre crop; null = no resize.</summary>
    public int? ResizeTo { get; }
    /// <summary>Centre-crop side; null = keep the whole image.</summary>
    public int? CropSize { get; }

    public EvalTransform(ChannelNormalization normalization, Device device, int? resizeTo = null, int? cropSize = null)
    {
        Normalization = normalization.EnsureValid();
        Device = device;
        (ResizeTo, CropSize) = (resizeTo, cropSize);
        if (resizeTo is < 1 || cropSize is < 1) throw new ArgumentException("Resize and crop sizes must be positive.");
        _normalize = new NormalizationTensors(Normalization, device);
    }

    readonly NormalizationTensors _normalize;

    /// <summary>The ImageNet validation transform producing <paramref name="outputSize"/> px.</summary>
    public static EvalTransform ForImageNet(ChannelNormalization normalization, Device device, int outputSize = 224) =>
        new(normalization, device, (int)Math.Round(outputSize * 256.0 / 224.0), outputSize);

    public Tensor Apply(Tensor images)
    {
        using var sc = new ScalarScope();
        TwoViewAugmenter.CheckImages(images);
        using var scope = NewDisposeScope();
        var x = images.to(Device).to_type(ScalarType.Float32).div_(sc[255.0]);
        if (ResizeTo is { } r && (x.size(2) != r || x.size(3) != r))
        {
            // Shorter side to r, keeping the aspect (stored images are square, so both sides).
            var scale = (double)r / Math.Min(x.size(2), x.size(3));
            var size = new long[] { (long)Math.Round(x.size(2) * scale), (long)Math.Round(x.size(3) * scale) };
            x = nn.functional.interpolate(x, size, mode: InterpolationMode.Bilinear, align_corners: false, antialias: true).clamp_(sc[0], sc[1]);
        }
        if (CropSize is { } c)
        {
            if (c > x.shape[2] || c > x.shape[3]) throw new ArgumentException($"Centre crop {c} px is larger than the {x.shape[2]}x{x.shape[3]} images.");
            var top = (x.size(2) - c) / 2;
            var left = (x.size(3) - c) / 2;
            x = x[.., .., TensorIndex.Slice(top, top + c), TensorIndex.Slice(left, left + c)];
        }
        return _normalize.Apply(x).contiguous().MoveToOuterDisposeScope();
    }
}

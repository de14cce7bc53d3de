using NASiam.Core.Engine;
using TorchSharp;
using static TorchSharp.torch;
using static NASiam.Core.Engine.TensorMath;

namespace NASiam.Core.Data.Augmentation;

/// <summary>
/// Batched SSL augmentation (method doc 6.2) on the run's device: every image draws its own
/// parameters. Parameters are drawn on the CPU from the caller's <see cref="Generator"/> in a fixed
/// order, so a seed gives the same views on CPU and CUDA; views drawn one after another from the
/// same generator are independent. Batches of a streamed image folder bring their own per-view draws
/// keyed by the crop (<see cref="ViewDraw"/>, <see cref="ImageBatch.Draws"/>), and on a CPU run arrive
/// already augmented by the decode workers (<see cref="FusedAugmentation"/>, the same operators per image).
/// Differences from torchvision (documented simplifications):
/// - crop and resize are one bilinear <c>grid_sample</c> without antialiasing (exact for CIFAR, where
///   crops are never larger than the output; slightly aliased when an ImageNet crop is downscaled);
/// - the horizontal flip is folded into the crop's affine grid. Flip commutes with the colour ops and
///   the (symmetric) blur, so this equals the recipes' flip position in every pipeline;
/// - blur is a separable Gaussian with sigma ~ U[0.1, 2] px, where PIL approximates it with box blurs.
/// </summary>
public sealed class TwoViewAugmenter
{
    public AugmentationSpec Spec { get; }
    public ChannelNormalization Normalization { get; }
    public Device Device { get; }
    /// <summary>Output side length in px (32 for CIFAR recipes, 224 for ImageNet ones unless given).</summary>
    public int OutputSize { get; }

    public TwoViewAugmenter(AugmentationRecipe recipe, ChannelNormalization normalization, Device device, int? outputSize = null)
    {
        Spec = AugmentationSpec.For(recipe);
        Normalization = normalization.EnsureValid();
        Device = device;
        OutputSize = outputSize ?? (recipe is AugmentationRecipe.ImageNet or AugmentationRecipe.LinearEvalImageNet ? 224 : 32);
        if (OutputSize < 1) throw new ArgumentException($"Output size must be positive; got {OutputSize}.");
        _normalize = new NormalizationTensors(Normalization, device);
    }

    readonly NormalizationTensors _normalize;

    /// <summary>Two independent views of uint8 [B,3,H,W] (any device): float32 [B,3,S,S] each, normalised, on <see cref="Device"/>.</summary>
    public (Tensor View1, Tensor View2) TwoViews(Tensor images, Generator generator)
    {
        var first = View(images, generator);
        return (first, View(images, generator));
    }

    /// <summary>
    /// Two views of a batch. A pre-cropped batch (<see cref="ImageBatch.Cropped"/>: a streamed image
    /// folder, RandomResizedCrop already applied to the original files at decode) gets only the rest of
    /// the recipe (flip, colour jitter, grayscale, blur, normalisation) on its two views, with the
    /// batch's own <see cref="ImageBatch.Draws"/> (keyed by the crop, not by <paramref name="generator"/>);
    /// a batch the decode workers already augmented with this recipe (<see cref="ImageBatch.AugmentedWith"/>,
    /// CPU runs) is passed through. Any other batch gets the whole recipe as <see cref="TwoViews(Tensor, Generator)"/>.
    /// </summary>
    /// <exception cref="ArgumentException">One view where two are needed, a wrong size, or a batch augmented with another recipe.</exception>
    public (Tensor View1, Tensor View2) TwoViews(ImageBatch batch, Generator generator)
    {
        if (!batch.Cropped) return TwoViews(batch.Images, generator);
        if (batch.SecondView is null) throw new ArgumentException("A pre-cropped batch needs two views for a two-view augmentation; it holds one.");
        var first = ViewOf(batch, 0, generator);
        return (first, ViewOf(batch, 1, generator));
    }

    /// <summary>One view of a batch: its first pre-cropped view when <see cref="ImageBatch.Cropped"/>, else the whole recipe on its images.</summary>
    public Tensor View(ImageBatch batch, Generator generator) => batch.Cropped ? ViewOf(batch, 0, generator) : View(batch.Images, generator);

    Tensor ViewOf(ImageBatch batch, int view, Generator generator)
    {
        var images = view == 0 ? batch.Images : batch.SecondView!;
        if (images.dim() != 4 || images.size(2) != OutputSize || images.size(3) != OutputSize)
            throw new ArgumentException($"Pre-cropped views are [{string.Join(",", images.shape)}]; this augmenter outputs {OutputSize} px.");
        if (batch.AugmentedWith is { } recipe)
        {
            if (recipe != Spec.Recipe)
                throw new ArgumentException($"The batch was augmented with the {recipe} recipe in the decode workers; this augmenter runs {Spec.Recipe}.");
            // A new handle either way: the caller disposes the views, the batch's owner the batch.
            return Device.type == DeviceType.CPU ? images.alias() : images.to(Device);
        }
        CheckImages(images);
        using var p = batch.Draws is { } draws
            ? ViewDraw.ToParameters(draws[view], Spec, OutputSize)
            : Sample(images.size(0), (int)images.size(2), (int)images.size(3), generator);
        return Apply(images, p, cropped: true);
    }

    /// <summary>Crop scale range (area fraction) of this recipe's RandomResizedCrop: (min, max).</summary>
    public (double Min, double Max) CropScale => (Spec.MinScale, Spec.MaxScale);

    /// <summary>One augmented view: float32 [B,3,S,S], normalised, on <see cref="Device"/>.</summary>
    public Tensor View(Tensor images, Generator generator)
    {
        CheckImages(images);
        using var p = Sample(images.size(0), (int)images.size(2), (int)images.size(3), generator);
        return Apply(images, p);
    }

    /// <summary>Draws the per-image parameters of one view (CPU tensors) for B images of H×W px.</summary>
    public AugmentationParameters Sample(long batch, int height, int width, Generator generator)
    {
        using var sc = new ScalarScope();
        using var scope = NewDisposeScope();
        var (top, left, h, w) = SampleCrops(batch, height, width, generator);
        var flip = rand(batch, generator: generator) < sc[AugmentationSpec.FlipProbability];

        var jitter = zeros(batch, ScalarType.Bool);
        var factors = ones(batch, 4);   // brightness, contrast, saturation 1 and hue 0: no jitter
        factors[.., 3].fill_(Scalars.Zero);
        var order = arange(sc[4], ScalarType.Int64).repeat(batch, 1);
        var gray = zeros(batch, ScalarType.Bool);
        var sigma = zeros(batch);
        if (Spec.ColorJitter)
        {
            jitter = rand(batch, generator: generator) < sc[AugmentationSpec.JitterProbability];
            var u = rand(batch, 4, generator: generator);
            var drawn = cat([
                Plus(sc[1], (u[.., 0..1] * sc[2] - sc[1]) * sc[AugmentationSpec.Brightness]),
                Plus(sc[1], (u[.., 1..2] * sc[2] - sc[1]) * sc[AugmentationSpec.Contrast]),
                Plus(sc[1], (u[.., 2..3] * sc[2] - sc[1]) * sc[AugmentationSpec.Saturation]),
                (u[.., 3..4] * sc[2] - sc[1]) * sc[AugmentationSpec.Hue]], 1);
            factors = where(jitter.view(-1, 1), drawn, factors);
            order = rand(batch, 4, generator: generator).argsort(1);      // a random permutation per image
        }
        if (Spec.Grayscale) gray = rand(batch, generator: generator) < sc[AugmentationSpec.GrayProbability];
        if (Spec.Blur)
        {
            var apply = rand(batch, generator: generator) < sc[AugmentationSpec.BlurProbability];
            var s = Plus(sc[AugmentationSpec.MinBlurSigma], rand(batch, generator: generator) * (sc[AugmentationSpec.MaxBlurSigma - AugmentationSpec.MinBlurSigma]));
            sigma = where(apply, s, zeros_like(s));
        }
        var result = new AugmentationParameters
        {
            CropBoxes = stack([top, left, h, w], 1).to_type(ScalarType.Float32).MoveToOuterDisposeScope(),
            Flip = flip.MoveToOuterDisposeScope(),
            Jitter = jitter.MoveToOuterDisposeScope(),
            JitterFactors = factors.MoveToOuterDisposeScope(),
            JitterOrder = order.MoveToOuterDisposeScope(),
            Gray = gray.MoveToOuterDisposeScope(),
            BlurSigma = sigma.MoveToOuterDisposeScope(),
        };
        return result;
    }

    /// <summary>
    /// RandomResizedCrop boxes, torchvision's algorithm vectorised: 10 attempts of area ~ U(scale)·H·W
    /// and log-uniform ratio; the first that fits wins; otherwise the whole (ratio-clamped) image.
    /// </summary>
    (Tensor Top, Tensor Left, Tensor H, Tensor W) SampleCrops(long batch, int height, int width, Generator generator)
    {
        using var sc = new ScalarScope();
        const int attempts = 10;
        var area = (double)height * width;
        var target = Plus(sc[Spec.MinScale], rand(batch, attempts, generator: generator) * (sc[Spec.MaxScale - Spec.MinScale])) * sc[area];
        var (lo, hi) = (Math.Log(AugmentationSpec.MinRatio), Math.Log(AugmentationSpec.MaxRatio));
        var ratio = Plus(sc[lo], rand(batch, attempts, generator: generator) * (sc[hi - lo])).exp();
        var w = (target * ratio).sqrt().round();
        var h = (target / ratio).sqrt().round();
        var fits = (w > sc[0]) & (w <= sc[width]) & (h > sc[0]) & (h <= sc[height]);
        var first = fits.to_type(ScalarType.Int32).argmax(1, keepdim: true);  // first fitting attempt
        var any = fits.any(1);
        // Fallback as torchvision: whole image, aspect clamped to the ratio range, centred.
        var inRatio = (double)width / height;
        var (fw, fh) = inRatio < AugmentationSpec.MinRatio ? (width, Math.Round(width / AugmentationSpec.MinRatio))
            : inRatio > AugmentationSpec.MaxRatio ? (Math.Round(height * AugmentationSpec.MaxRatio), height) : ((double)width, (double)height);
        var wSel = where(any, w.gather(1, first).view(-1), full(batch, sc[fw]));
        var hSel = where(any, h.gather(1, first).view(-1), full(batch, sc[fh]));
        var offsets = rand(batch, 2, generator: generator);
        var top = where(any, (offsets[.., 0] * Plus(Minus(sc[height], hSel), sc[1])).floor(), (Minus(sc[height], hSel) / sc[2]).floor());
        var left = where(any, (offsets[.., 1] * Plus(Minus(sc[width], wSel), sc[1])).floor(), (Minus(sc[width], wSel) / sc[2]).floor());
        return (top, left, hSel, wSel);
    }

    /// <summary>
    /// Applies <paramref name="p"/> to uint8 [B,3,H,W]: float32 [B,3,S,S] normalised on <see cref="Device"/>.
    /// With <paramref name="cropped"/> the images are already the crops (S×S): the crop boxes are
    /// ignored and only the flip of the geometric part is applied.
    /// </summary>
    public Tensor Apply(Tensor images, AugmentationParameters p, bool cropped = false)
    {
        using var sc = new ScalarScope();
        CheckImages(images);
        using var scope = NewDisposeScope();
        var b = images.size(0);
        var (height, width) = (images.size(2), images.size(3));
        var x = images.to(Device).to_type(ScalarType.Float32).div_(sc[255.0]);

        if (cropped) x = where(p.Flip.to(Device).view(-1, 1, 1, 1), x.flip(3), x);
        else
        {
            // Crop + resize + flip as one affine sampling grid (align_corners=false pixel-centre convention).
            var box = p.CropBoxes.to(Device);
            var (top, left, h, w) = (box[.., 0], box[.., 1], box[.., 2], box[.., 3]);
            var sign = Minus(sc[1], sc[2] * p.Flip.to(Device).to_type(ScalarType.Float32));
            var zero = zeros_like(top);
            var theta = stack([
                stack([w / sc[width] * sign, zero, Plus(sc[2] * left, w) / sc[width] - sc[1]], 1),
                stack([zero, h / sc[height], Plus(sc[2] * top, h) / sc[height] - sc[1]], 1)], 1);
            var grid = nn.functional.affine_grid(theta, [b, 3, OutputSize, OutputSize], align_corners: false);
            x = nn.functional.grid_sample(x, grid, GridSampleMode.Bilinear, GridSamplePaddingMode.Border, align_corners: false);
        }

        // One blur radius for the whole batch, so chunking below cannot change a result.
        var radius = Spec.Blur ? ColorOps.BlurRadius(p.BlurSigma, x.size(2), x.size(3)) : 0;
        var (order, factors, gray, sigma) = (p.JitterOrder.to(Device), p.JitterFactors.to(Device), p.Gray.to(Device), p.BlurSigma.to(Device));
        // Every colour operator is per image and memory-bound: on the CPU, chunks of a few images stay
        // in cache across the ~100 element-wise passes (a whole 224-px batch is ~77 MB per pass).
        var chunk = Device.type == DeviceType.CPU ? Math.Max(1L, CpuChunkBytes / (x.size(1) * x.size(2) * x.size(3) * sizeof(float))) : b;
        var parts = new List<Tensor>();
        for (long start = 0; start < b; start += chunk)
        {
            var len = Math.Min(chunk, b - start);
            var xs = chunk >= b ? x : x.narrow(0, start, len);
            if (Spec.ColorJitter)
            {
                var (o, f) = chunk >= b ? (order, factors) : (order.narrow(0, start, len), factors.narrow(0, start, len));
                for (int k = 0; k < 4; k++) xs = ColorOps.JitterStep(xs, o[.., k], f);
            }
            if (Spec.Grayscale)
                xs = where((chunk >= b ? gray : gray.narrow(0, start, len)).view(-1, 1, 1, 1), ColorOps.Grayscale(xs).expand(-1, 3, -1, -1), xs);
            if (Spec.Blur) xs = ColorOps.GaussianBlur(xs, chunk >= b ? sigma : sigma.narrow(0, start, len), radius);
            parts.Add(_normalize.Apply(xs));
        }
        return (parts.Count == 1 ? parts[0] : cat(parts, 0)).MoveToOuterDisposeScope();
    }

    /// <summary>Bytes of float pixels per colour-augmentation chunk on the CPU (about an L2/L3 slice).</summary>
    internal static long CpuChunkBytes = 2L << 20;

    /// <summary>(x − mean) / std per channel for float [B,3,H,W] in [0,1].</summary>
    public static Tensor Normalize(Tensor x, ChannelNormalization n, Device device)
    {
        using var mean = tensor(n.Mean.Select(v => (float)v).ToArray(), device: device).view(1, 3, 1, 1);
        using var std = tensor(n.Std.Select(v => (float)v).ToArray(), device: device).view(1, 3, 1, 1);
        return (x - mean) / std;
    }

    internal static void CheckImages(Tensor images)
    {
        if (images.dtype != ScalarType.Byte || images.dim() != 4 || images.size(1) != 3)
            throw new ArgumentException($"Augmentation expects uint8 images [B,3,H,W]; got {images.dtype} [{string.Join(",", images.shape)}].");
    }
}

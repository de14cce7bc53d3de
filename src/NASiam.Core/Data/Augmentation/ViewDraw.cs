using NASiam.Core.Data.Streaming;
using static TorchSharp.torch;

namespace NASiam.Core.Data.Augmentation;

/// <summary>
/// The random choices of one view of one image after its crop (method doc 6.2): colour jitter applied
/// (p 0.8) with its factors and the order of its four sub-ops, grayscale (p 0.2), Gaussian blur
/// (p 0.5, sigma ~ U[0.1, 2] px) and horizontal flip (p 0.5). Streamed image folders draw these
/// from the crop's SplitMix state (<see cref="CropGeometry.CropState"/>, right after the crop), so a
/// view depends only on (run seed, stage, epoch, batch, position, view): the same on any worker
/// count, after a resume, and whether the recipe runs in the decode workers (CPU,
/// <see cref="FusedAugmentation"/>) or batched on a GPU (<see cref="TwoViewAugmenter"/>).
/// Every field is drawn whatever the recipe; <see cref="For"/> masks what a recipe does not use.
/// </summary>
/// <param name="Jitter">Colour jitter applied (p 0.8).</param>
/// <param name="Brightness">Brightness factor, U[0.6, 1.4].</param>
/// <param name="Contrast">Contrast factor, U[0.6, 1.4].</param>
/// <param name="Saturation">Saturation factor, U[0.6, 1.4].</param>
/// <param name="Hue">Hue shift as a fraction of the colour circle, U[−0.1, 0.1].</param>
/// <param name="Order">The jitter sub-ops in application order, two bits each from the lowest:
/// 0 brightness, 1 contrast, 2 saturation, 3 hue (torchvision's <c>torch.randperm(4)</c>).</param>
/// <param name="Gray">Converted to 3-channel grayscale (p 0.2).</param>
/// <param name="BlurSigma">Gaussian blur sigma in pixels; 0 = no blur (p 0.5 of U[0.1, 2]).</param>
/// <param name="Flip">Horizontal flip (p 0.5).</param>
public readonly record struct ViewDraw(bool Jitter, float Brightness, float Contrast, float Saturation, float Hue,
    ushort Order, bool Gray, float BlurSigma, bool Flip)
{
    /// <summary>No operator applied (identity factors, no gray, no blur, no flip).</summary>
    public static ViewDraw Identity { get; } = new(false, 1, 1, 1, 0, 0b11_10_01_00, false, 0, false);

    /// <summary>Sub-op at jitter position <paramref name="k"/> (0..3).</summary>
    public int Op(int k) => (Order >> (2 * k)) & 3;

    /// <summary>
    /// Draws one view's choices from <paramref name="state"/> in torchvision's order of the ImageNet
    /// recipe: RandomApply(ColorJitter(0.4, 0.4, 0.4, 0.1), p 0.8) — apply?, permutation, brightness
    /// U[0.6, 1.4], contrast U[0.6, 1.4], saturation U[0.6, 1.4], hue U[−0.1, 0.1] —, RandomGrayscale(0.2),
    /// RandomApply(blur, 0.5) with sigma U[0.1, 2], RandomHorizontalFlip(0.5). Always 12 draws.
    /// Values of an operator not applied are kept (masked by <see cref="For"/>).
    /// </summary>
    public static ViewDraw Draw(ref ulong state)
    {
        bool jitter = CropGeometry.Uniform(ref state) < AugmentationSpec.JitterProbability;
        Span<int> perm = [0, 1, 2, 3];
        for (int i = 3; i > 0; i--)
        {
            int j = (int)Math.Min(i, Math.Floor(CropGeometry.Uniform(ref state) * (i + 1)));
            (perm[i], perm[j]) = (perm[j], perm[i]);
        }
        ushort order = (ushort)(perm[0] | perm[1] << 2 | perm[2] << 4 | perm[3] << 6);
        float Factor(ref ulong s, double spread) => (float)(1 - spread + CropGeometry.Uniform(ref s) * 2 * spread);
        float b = Factor(ref state, AugmentationSpec.Brightness), c = Factor(ref state, AugmentationSpec.Contrast), s = Factor(ref state, AugmentationSpec.Saturation);
        float h = (float)((CropGeometry.Uniform(ref state) * 2 - 1) * AugmentationSpec.Hue);
        bool gray = CropGeometry.Uniform(ref state) < AugmentationSpec.GrayProbability;
        bool blur = CropGeometry.Uniform(ref state) < AugmentationSpec.BlurProbability;
        float sigma = (float)(AugmentationSpec.MinBlurSigma + CropGeometry.Uniform(ref state) * (AugmentationSpec.MaxBlurSigma - AugmentationSpec.MinBlurSigma));
        bool flip = CropGeometry.Uniform(ref state) < AugmentationSpec.FlipProbability;
        return new ViewDraw(jitter, b, c, s, h, order, gray, blur ? sigma : 0, flip);
    }

    /// <summary>
    /// This draw under <paramref name="spec"/>: operators the recipe lacks are identity (no jitter: factors
    /// 1, hue 0, order 0..3; no gray; sigma 0), as is the jitter of an image that did not draw it.
    /// </summary>
    public ViewDraw For(AugmentationSpec spec)
    {
        var d = this;
        if (!spec.ColorJitter || !d.Jitter) d = d with { Jitter = false, Brightness = 1, Contrast = 1, Saturation = 1, Hue = 0, Order = Identity.Order };
        if (!spec.Grayscale) d = d with { Gray = false };
        if (!spec.Blur) d = d with { BlurSigma = 0 };
        return d;
    }

    /// <summary>
    /// The batched form of pre-cropped draws for <see cref="TwoViewAugmenter.Apply"/> (CPU tensors, one row
    /// per image, masked by <paramref name="spec"/>); crop boxes are the whole <paramref name="size"/>² view.
    /// </summary>
    public static AugmentationParameters ToParameters(IReadOnlyList<ViewDraw> draws, AugmentationSpec spec, int size)
    {
        int n = draws.Count;
        var boxes = new float[n * 4];
        var flip = new bool[n];
        var jitter = new bool[n];
        var factors = new float[n * 4];
        var order = new long[n * 4];
        var gray = new bool[n];
        var sigma = new float[n];
        for (int i = 0; i < n; i++)
        {
            var d = draws[i].For(spec);
            (boxes[4 * i + 2], boxes[4 * i + 3]) = (size, size);
            flip[i] = d.Flip;
            jitter[i] = d.Jitter;
            (factors[4 * i], factors[4 * i + 1], factors[4 * i + 2], factors[4 * i + 3]) = (d.Brightness, d.Contrast, d.Saturation, d.Hue);
            for (int k = 0; k < 4; k++) order[4 * i + k] = d.Op(k);
            gray[i] = d.Gray;
            sigma[i] = d.BlurSigma;
        }
        return new AugmentationParameters
        {
            CropBoxes = tensor(boxes, [n, 4]),
            Flip = tensor(flip),
            Jitter = tensor(jitter),
            JitterFactors = tensor(factors, [n, 4]),
            JitterOrder = tensor(order, [n, 4]),
            Gray = tensor(gray),
            BlurSigma = tensor(sigma),
        };
    }
}

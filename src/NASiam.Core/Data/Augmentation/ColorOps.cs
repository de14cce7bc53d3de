using NASiam.Core.Engine;
using TorchSharp;
using static TorchSharp.torch;
using static NASiam.Core.Engine.TensorMath;

namespace NASiam.Core.Data.Augmentation;

/// <summary>
/// Batched colour operators on float images [B, 3, H, W] in [0, 1], with torchvision's formulas
/// (ITU-R 601 luma; HSV hue rotation) but per-image factors.
/// </summary>
public static class ColorOps
{
    /// <summary>Luma [B, 1, H, W] = 0.299 R + 0.587 G + 0.114 B.</summary>
    public static Tensor Grayscale(Tensor x)
    {
        using var sc = new ScalarScope();
        var (r, g, b) = (x[.., 0..1], x[.., 1..2], x[.., 2..3]);
        return Plus(Plus(r * sc[0.299], g * sc[0.587]), b * sc[0.114]);
    }

    /// <summary>
    /// One colour-jitter position for every image at once: image i gets sub-op <paramref name="op"/>[i]
    /// (0 brightness, 1 contrast, 2 saturation, 3 hue) with its factor from <paramref name="factors"/> [B, 4].
    /// Brightness, contrast and saturation are all blends f·x + (1 − f)·target (target 0, mean luma,
    /// per-pixel luma), so they run as one fused pass; hue runs only on the images that draw it.
    /// </summary>
    public static Tensor JitterStep(Tensor x, Tensor op, Tensor factors)
    {
        using var sc = new ScalarScope();
        using var scope = NewDisposeScope();
        var b = x.size(0);
        var opView = op.view(b, 1, 1, 1);
        var blendFactor = factors[.., 0..3].gather(1, op.clamp(sc[0], sc[2]).view(b, 1)).view(b, 1, 1, 1);
        var isBlend = opView < sc[3];
        var f = where(isBlend, blendFactor, ones_like(blendFactor));
        var luma = Grayscale(x);
        var target = where(opView == sc[1], luma.mean(new long[] { 2, 3 }, keepdim: true),
                     where(opView == sc[2], luma, zeros_like(luma)));
        var y = Plus(f * x, Minus(sc[1], f) * target).clamp_(sc[0], sc[1]);
        var hueRows = ((op == sc[3]) & (factors[.., 3] != sc[0])).nonzero().view(-1);
        if (hueRows.numel() > 0)
        {
            var shifted = AdjustHue(y.index_select(0, hueRows), factors[.., 3].index_select(0, hueRows));
            y = y.index_copy(0, hueRows, shifted);
        }
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>Rotates hue by <paramref name="shift"/> [B] (fraction of the colour circle) via HSV.</summary>
    public static Tensor AdjustHue(Tensor x, Tensor shift)
    {
        using var sc = new ScalarScope();
        using var scope = NewDisposeScope();
        var (h, s, v) = RgbToHsv(x);
        h = Plus(h, shift.view(-1, 1, 1, 1)).remainder(sc[1.0]);
        return HsvToRgb(h, s, v).MoveToOuterDisposeScope();
    }

    /// <summary>H, S, V each [B, 1, H, W], H in [0, 1).</summary>
    public static (Tensor H, Tensor S, Tensor V) RgbToHsv(Tensor x)
    {
        using var sc = new ScalarScope();
        var (r, g, b) = (x[.., 0..1], x[.., 1..2], x[.., 2..3]);
        var maxc = x.amax(new long[] { 1 }, keepdim: true);
        var minc = x.amin(new long[] { 1 }, keepdim: true);
        var chroma = maxc - minc;
        var flat = chroma == sc[0];
        var one = ones_like(maxc);
        var s = chroma / where(flat, one, maxc);
        var div = where(flat, one, chroma);
        var rc = (maxc - r) / div;
        var gc = (maxc - g) / div;
        var bc = (maxc - b) / div;
        var isR = maxc == r;
        var isG = (maxc == g) & ~isR;
        var hue = where(isR, bc - gc, where(isG, Plus(sc[2.0], rc) - bc, Plus(sc[4.0], gc) - rc));
        hue = Plus(hue / sc[6.0], sc[1.0]).remainder(sc[1.0]);
        return (hue, s, maxc);
    }

    /// <summary>Inverse of <see cref="RgbToHsv"/>: [B, 3, H, W].</summary>
    public static Tensor HsvToRgb(Tensor h, Tensor s, Tensor v)
    {
        using var sc = new ScalarScope();
        var h6 = h * sc[6.0];
        var i = h6.floor();
        var f = h6 - i;
        var sector = i.remainder(sc[6.0]);
        var p = (v * Minus(sc[1.0], s)).clamp(sc[0], sc[1]);
        var q = (v * Minus(sc[1.0], s * f)).clamp(sc[0], sc[1]);
        var t = (v * Minus(sc[1.0], s * Minus(sc[1.0], f))).clamp(sc[0], sc[1]);
        Tensor Pick(Tensor c0, Tensor c1, Tensor c2, Tensor c3, Tensor c4, Tensor c5) =>
            where(sector == sc[0], c0, where(sector == sc[1], c1, where(sector == sc[2], c2, where(sector == sc[3], c3, where(sector == sc[4], c4, c5)))));
        var r = Pick(v, q, p, p, t, v);
        var g = Pick(t, v, v, q, p, p);
        var b = Pick(p, p, t, v, v, q);
        return cat([r, g, b], 1);
    }

    /// <summary>Kernel radius ceil(3·max σ) clamped to [1, min(H, W) − 1]; 0 when no sigma is positive.</summary>
    public static int BlurRadius(Tensor sigma, long height, long width)
    {
        float max = 0;
        if (sigma.numel() > 0)
        {
            using var m = sigma.max();
            max = m.ItemSingle();
        }
        if (max <= 0) return 0;
        return FusedAugmentation.BlurRadius(max, (int)Math.Min(height, width));
    }

    /// <summary>
    /// Gaussian blur with a per-image sigma [B] (pixels): separable, reflect padding, image i with kernel
    /// size 2·ceil(3·σᵢ)+1 (torchvision's <c>gaussian_blur</c> at that size; the batch's convolution is
    /// 2·<paramref name="radius"/>+1 wide with the taps beyond an image's own radius zero). Images with sigma 0
    /// are returned unchanged.
    /// </summary>
    /// <param name="x">Float images [B, 3, H, W] in [0, 1].</param>
    /// <param name="sigma">Per-image sigma [B] in pixels (0 = not blurred).</param>
    /// <param name="radius">Kernel radius in pixels; 0 = <see cref="BlurRadius"/> of <paramref name="sigma"/>
    /// (pass the whole batch's when blurring it in parts, so each part gets the same kernel size).</param>
    public static Tensor GaussianBlur(Tensor x, Tensor sigma, int radius = 0)
    {
        using var sc = new ScalarScope();
        using var scope = NewDisposeScope();
        sigma = sigma.to(x.device);
        var rows = (sigma > sc[0]).nonzero().view(-1);
        if (rows.numel() == 0) return x.alias().MoveToOuterDisposeScope();
        var sub = x.index_select(0, rows);
        var sig = sigma.index_select(0, rows);
        var n = sub.size(0);
        if (radius <= 0) radius = BlurRadius(sig, x.size(2), x.size(3));
        var offsets = arange(sc[-radius], sc[radius + 1], dtype: ScalarType.Float32, device: x.device);
        var kernel = (-(offsets.view(1, -1).pow(sc[2])) / (sc[2] * sig.view(-1, 1).pow(sc[2]))).exp();
        // Each image keeps only its own taps, |x| <= ceil(3 sigma_i): a per-image gaussian_blur of kernel size
        // 2 ceil(3 sigma_i) + 1, whatever the batch (so chunks, batches and FusedAugmentation agree).
        // FusedAugmentation.BlurRadius per image as tensor ops (max(1, min(⌈3σ⌉, size − 1)) in double, then at
        // most the batch's radius): reading sigma back to the host and making a tensor of the radii left a
        // native thunk per view for the GC.
        var own = (sig.to_type(ScalarType.Float64) * sc[3.0]).ceil().clamp(sc[1], sc[Math.Min(x.size(2), x.size(3)) - 1]).clamp_max(sc[radius]).to_type(ScalarType.Float32);
        kernel = where(offsets.abs().view(1, -1) <= own.view(-1, 1), kernel, zeros_like(kernel));
        kernel = kernel / kernel.sum(1, keepdim: true);                    // [n, K]
        var k3 = kernel.repeat_interleave(3, 0);                            // one kernel per (image, channel)
        var flat = sub.reshape(1, n * 3, sub.size(2), sub.size(3));
        flat = nn.functional.pad(flat, [radius, radius, 0, 0], PaddingModes.Reflect);
        flat = nn.functional.conv2d(flat, k3.view(n * 3, 1, 1, -1), groups: n * 3);
        flat = nn.functional.pad(flat, [0, 0, radius, radius], PaddingModes.Reflect);
        flat = nn.functional.conv2d(flat, k3.view(n * 3, 1, -1, 1), groups: n * 3);
        return x.index_copy(0, rows, flat.view(n, 3, sub.size(2), sub.size(3))).MoveToOuterDisposeScope();
    }
}

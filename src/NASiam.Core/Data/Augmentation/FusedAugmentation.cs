using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace NASiam.Core.Data.Augmentation;

/// <summary>
/// The colour part of the ImageNet recipe (method doc 6.2: ColorJitter in the image's own order →
/// RandomGrayscale → Gaussian blur → horizontal flip → ToTensor + Normalize) on ONE pre-cropped
/// image, in SIMD C# (<see cref="Vector{T}"/>), producing the normalised float view directly. On a
/// CPU run the decode workers call it right after decoding, so every core does the whole per-image
/// pipeline, as torchvision's DataLoader workers do; GPU runs keep the batched tensor path
/// (<see cref="TwoViewAugmenter.Apply"/>). Same formulas, in the same float32 operation order, as
/// <see cref="ColorOps"/> and torchvision's tensor functionals (<c>adjust_brightness/contrast/saturation</c>:
/// <c>(f·x + (1 − f)·target).clamp(0, 1)</c> with target 0, the mean luma, the pixel's luma;
/// <c>adjust_hue</c>: RGB → HSV, h + shift mod 1, → RGB; <c>rgb_to_grayscale</c>: ITU-R 601 luma;
/// <c>gaussian_blur</c> with kernel size 2·⌈3σ⌉ + 1 and reflect padding), so results agree to float
/// rounding (tests: <c>FusedAugmentationTests</c>, and tools/parity/augment_check.py against
/// torchvision.transforms.functional). Each call uses one thread and two thread-local scratch planes.
/// </summary>
public static class FusedAugmentation
{
    const float LumaR = 0.299f, LumaG = 0.587f, LumaB = 0.114f;
    static readonly float[] ByteToUnit = Enumerable.Range(0, 256).Select(i => i / 255f).ToArray();

    [ThreadStatic] static float[]? _work;
    [ThreadStatic] static float[]? _temp;

    /// <summary>
    /// Augments one view: <paramref name="rgb"/> uint8 HWC [S, S, 3] (a decoded crop), <paramref name="draw"/>
    /// masked by <paramref name="spec"/> (<see cref="ViewDraw.For"/>); writes float32 CHW [3, S, S],
    /// (x − mean) / std per channel, into <paramref name="output"/>.
    /// </summary>
    /// <exception cref="ArgumentException">Span sizes that do not match <paramref name="size"/>.</exception>
    public static void Apply(ReadOnlySpan<byte> rgb, int size, ViewDraw draw, AugmentationSpec spec, ChannelNormalization normalization, Span<float> output)
    {
        int n = size * size;
        if (size < 2) throw new ArgumentException($"View size must be at least 2 px; got {size}.");
        if (rgb.Length < 3 * n || output.Length < 3 * n)
            throw new ArgumentException($"A {size} px view needs {3 * n} input bytes and output floats; got {rgb.Length} and {output.Length}.");
        draw = draw.For(spec);
        var work = Scratch(ref _work, 3 * n);
        var r = work.AsSpan(0, n);
        var g = work.AsSpan(n, n);
        var b = work.AsSpan(2 * n, n);
        var unit = ByteToUnit;
        for (int i = 0, j = 0; i < n; i++, j += 3)
        {
            r[i] = unit[rgb[j]];
            g[i] = unit[rgb[j + 1]];
            b[i] = unit[rgb[j + 2]];
        }
        if (draw.Jitter)
            for (int k = 0; k < 4; k++)
                switch (draw.Op(k))
                {
                    case 0 when draw.Brightness != 1: Brightness(r, g, b, draw.Brightness); break;
                    case 1 when draw.Contrast != 1: Contrast(r, g, b, draw.Contrast); break;
                    case 2 when draw.Saturation != 1: Saturation(r, g, b, draw.Saturation); break;
                    case 3 when draw.Hue != 0: Hue(r, g, b, draw.Hue); break;
                }
        if (draw.Gray) Grayscale(r, g, b);
        if (draw.BlurSigma > 0)
        {
            int radius = BlurRadius(draw.BlurSigma, size);
            Span<float> kernel = stackalloc float[2 * radius + 1];
            BlurKernel(draw.BlurSigma, radius, kernel);
            var temp = Scratch(ref _temp, n);
            BlurPlane(r, temp, size, kernel, radius);
            BlurPlane(g, temp, size, kernel, radius);
            BlurPlane(b, temp, size, kernel, radius);
        }
        if (draw.Flip)
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < size; y++) work.AsSpan(c * n + y * size, size).Reverse();
        for (int c = 0; c < 3; c++)
            Normalize(work.AsSpan(c * n, n), output.Slice(c * n, n), (float)normalization.Mean[c], (float)normalization.Std[c]);
    }

    /// <summary>Blur kernel radius of one image: ⌈3σ⌉ clamped to [1, S − 1] (reflect padding needs radius &lt; S).</summary>
    public static int BlurRadius(float sigma, int size) => Math.Max(1, Math.Min((int)Math.Ceiling(3.0 * sigma), size - 1));

    /// <summary>Normalised Gaussian taps exp(−x² / (2σ²)), x = −radius..radius, as <see cref="ColorOps.GaussianBlur"/> builds them.</summary>
    public static void BlurKernel(float sigma, int radius, Span<float> kernel)
    {
        float twoSigma2 = 2 * (sigma * sigma), sum = 0;
        for (int k = -radius; k <= radius; k++) sum += kernel[k + radius] = MathF.Exp(-(float)(k * k) / twoSigma2);
        for (int k = 0; k < kernel.Length; k++) kernel[k] /= sum;
    }

    static float[] Scratch(ref float[]? buffer, int length)
    {
        if (buffer is null || buffer.Length < length) buffer = new float[length];
        return buffer;
    }

    static ref Vector<float> At(Span<float> s, int i) => ref Unsafe.As<float, Vector<float>>(ref Unsafe.Add(ref MemoryMarshal.GetReference(s), i));

    static Vector<float> Clamp01(Vector<float> v) => Vector.Min(Vector.Max(v, Vector<float>.Zero), Vector<float>.One);
    static float Clamp01(float v) => Math.Min(Math.Max(v, 0f), 1f);

    /// <summary>adjust_brightness: clamp(f·x + (1 − f)·0) = clamp(f·x).</summary>
    static void Brightness(Span<float> r, Span<float> g, Span<float> b, float f)
    {
        Scale(r, f); Scale(g, f); Scale(b, f);
        static void Scale(Span<float> x, float f)
        {
            int i = 0, w = Vector<float>.Count;
            var vf = new Vector<float>(f);
            for (; i <= x.Length - w; i += w) At(x, i) = Clamp01(At(x, i) * vf);
            for (; i < x.Length; i++) x[i] = Clamp01(x[i] * f);
        }
    }

    /// <summary>adjust_contrast: clamp(f·x + (1 − f)·mean(luma)), the mean over the whole image.</summary>
    static void Contrast(Span<float> r, Span<float> g, Span<float> b, float f)
    {
        double sum = 0;
        int i = 0, w = Vector<float>.Count;
        var (vr, vg, vb) = (new Vector<float>(LumaR), new Vector<float>(LumaG), new Vector<float>(LumaB));
        var partial = Vector<double>.Zero;
        for (; i <= r.Length - w; i += w)
        {
            var l = At(r, i) * vr + At(g, i) * vg + At(b, i) * vb;
            Vector.Widen(l, out var lo, out var hi);
            partial += lo + hi;
        }
        sum = Vector.Sum(partial);
        for (; i < r.Length; i++) sum += r[i] * LumaR + g[i] * LumaG + b[i] * LumaB;
        float mean = (float)(sum / r.Length);
        float target = (1f - f) * mean;
        Blend(r, f, target); Blend(g, f, target); Blend(b, f, target);
        static void Blend(Span<float> x, float f, float target)
        {
            int i = 0, w = Vector<float>.Count;
            var (vf, vt) = (new Vector<float>(f), new Vector<float>(target));
            for (; i <= x.Length - w; i += w) At(x, i) = Clamp01(At(x, i) * vf + vt);
            for (; i < x.Length; i++) x[i] = Clamp01(x[i] * f + target);
        }
    }

    /// <summary>adjust_saturation: clamp(f·x + (1 − f)·luma(x)) per pixel.</summary>
    static void Saturation(Span<float> r, Span<float> g, Span<float> b, float f)
    {
        int i = 0, w = Vector<float>.Count;
        float o = 1f - f;
        var (vr, vg, vb, vf, vo) = (new Vector<float>(LumaR), new Vector<float>(LumaG), new Vector<float>(LumaB), new Vector<float>(f), new Vector<float>(o));
        for (; i <= r.Length - w; i += w)
        {
            var (x, y, z) = (At(r, i), At(g, i), At(b, i));
            var l = vo * (x * vr + y * vg + z * vb);
            At(r, i) = Clamp01(vf * x + l);
            At(g, i) = Clamp01(vf * y + l);
            At(b, i) = Clamp01(vf * z + l);
        }
        for (; i < r.Length; i++)
        {
            var l = o * (r[i] * LumaR + g[i] * LumaG + b[i] * LumaB);
            (r[i], g[i], b[i]) = (Clamp01(f * r[i] + l), Clamp01(f * g[i] + l), Clamp01(f * b[i] + l));
        }
    }

    /// <summary>rgb_to_grayscale with 3 output channels.</summary>
    static void Grayscale(Span<float> r, Span<float> g, Span<float> b)
    {
        int i = 0, w = Vector<float>.Count;
        var (vr, vg, vb) = (new Vector<float>(LumaR), new Vector<float>(LumaG), new Vector<float>(LumaB));
        for (; i <= r.Length - w; i += w) At(r, i) = At(g, i) = At(b, i) = At(r, i) * vr + At(g, i) * vg + At(b, i) * vb;
        for (; i < r.Length; i++) r[i] = g[i] = b[i] = r[i] * LumaR + g[i] * LumaG + b[i] * LumaB;
    }

    /// <summary>
    /// adjust_hue: torchvision's _rgb2hsv (hue from the max channel, r before g before b), h ← (h + shift) mod 1,
    /// then _hsv2rgb (sector ⌊6h⌋ mod 6; p, q, t clamped to [0, 1]).
    /// </summary>
    static void Hue(Span<float> r, Span<float> g, Span<float> b, float shift)
    {
        int i = 0, w = Vector<float>.Count;
        var one = Vector<float>.One;
        var (two, four, six, vshift) = (new Vector<float>(2f), new Vector<float>(4f), new Vector<float>(6f), new Vector<float>(shift));
        for (; i <= r.Length - w; i += w)
        {
            var (x, y, z) = (At(r, i), At(g, i), At(b, i));
            var maxc = Vector.Max(Vector.Max(x, y), z);
            var minc = Vector.Min(Vector.Min(x, y), z);
            var chroma = maxc - minc;
            var flat = Vector.Equals(maxc, minc);
            var s = chroma / Vector.ConditionalSelect(flat, one, maxc);
            var div = Vector.ConditionalSelect(flat, one, chroma);
            var rc = (maxc - x) / div;
            var gc = (maxc - y) / div;
            var bc = (maxc - z) / div;
            var isR = Vector.Equals(maxc, x);
            var isG = Vector.AndNot(Vector.Equals(maxc, y), isR);
            var h = Vector.ConditionalSelect(isR, bc - gc, Vector.ConditionalSelect(isG, two + rc - bc, four + gc - rc));
            h = h / six + one;
            h -= Vector.Floor(h);                                     // fmod(h, 1) for h > 0
            h += vshift;                                              // (h + shift) mod 1, h + shift in (−0.1, 1.1)
            h = Vector.ConditionalSelect(Vector.LessThan(h, Vector<float>.Zero), h + one,
                Vector.ConditionalSelect(Vector.GreaterThanOrEqual(h, one), h - one, h));
            var h6 = h * six;
            var sector = Vector.Floor(h6);
            var f = h6 - sector;
            sector = Vector.ConditionalSelect(Vector.GreaterThanOrEqual(sector, six), sector - six, sector);
            var p = Clamp01(maxc * (one - s));
            var q = Clamp01(maxc * (one - s * f));
            var t = Clamp01(maxc * (one - s * (one - f)));
            var m0 = Vector.Equals(sector, Vector<float>.Zero);
            var m1 = Vector.Equals(sector, one);
            var m2 = Vector.Equals(sector, two);
            var m3 = Vector.Equals(sector, new Vector<float>(3f));
            var m4 = Vector.Equals(sector, four);
            Vector<float> Pick(Vector<float> c0, Vector<float> c1, Vector<float> c2, Vector<float> c3, Vector<float> c4, Vector<float> c5) =>
                Vector.ConditionalSelect(m0, c0, Vector.ConditionalSelect(m1, c1, Vector.ConditionalSelect(m2, c2,
                    Vector.ConditionalSelect(m3, c3, Vector.ConditionalSelect(m4, c4, c5)))));
            At(r, i) = Pick(maxc, q, p, p, t, maxc);
            At(g, i) = Pick(t, maxc, maxc, q, p, p);
            At(b, i) = Pick(p, p, t, maxc, maxc, q);
        }
        for (; i < r.Length; i++) (r[i], g[i], b[i]) = HueScalar(r[i], g[i], b[i], shift);
    }

    static (float R, float G, float B) HueScalar(float x, float y, float z, float shift)
    {
        float maxc = Math.Max(Math.Max(x, y), z), minc = Math.Min(Math.Min(x, y), z), chroma = maxc - minc;
        bool flat = maxc == minc;
        float s = chroma / (flat ? 1f : maxc), div = flat ? 1f : chroma;
        float rc = (maxc - x) / div, gc = (maxc - y) / div, bc = (maxc - z) / div;
        float h = maxc == x ? bc - gc : maxc == y ? 2f + rc - bc : 4f + gc - rc;
        h = h / 6f + 1f;
        h -= MathF.Floor(h);
        h += shift;
        h = h < 0 ? h + 1f : h >= 1f ? h - 1f : h;
        float h6 = h * 6f, sector = MathF.Floor(h6), f = h6 - sector;
        if (sector >= 6f) sector -= 6f;
        float p = Clamp01(maxc * (1f - s)), q = Clamp01(maxc * (1f - s * f)), t = Clamp01(maxc * (1f - s * (1f - f)));
        return (int)sector switch
        {
            0 => (maxc, t, p), 1 => (q, maxc, p), 2 => (p, maxc, t),
            3 => (p, q, maxc), 4 => (t, p, maxc), _ => (maxc, p, q),
        };
    }

    /// <summary>Separable Gaussian blur of one S×S plane in place (reflect padding, as torch's pad mode "reflect").</summary>
    static void BlurPlane(Span<float> plane, Span<float> temp, int size, ReadOnlySpan<float> kernel, int radius)
    {
        int w = Vector<float>.Count, taps = kernel.Length;
        // Horizontal: plane → temp.
        for (int y = 0; y < size; y++)
        {
            var row = plane.Slice(y * size, size);
            var o = temp.Slice(y * size, size);
            int x = 0;
            for (; x < Math.Min(radius, size); x++) o[x] = Tap(row, x, kernel, radius, size);
            for (; x + w <= size - radius; x += w)
            {
                var acc = new Vector<float>(kernel[0]) * At(row, x - radius);
                for (int k = 1; k < taps; k++) acc += new Vector<float>(kernel[k]) * At(row, x - radius + k);
                At(o, x) = acc;
            }
            for (; x < size; x++) o[x] = Tap(row, x, kernel, radius, size);
        }
        // Vertical: temp → plane, whole rows at a time.
        for (int y = 0; y < size; y++)
        {
            var o = plane.Slice(y * size, size);
            var first = temp.Slice(Reflect(y - radius, size) * size, size);
            int x = 0;
            var k0 = new Vector<float>(kernel[0]);
            for (; x + w <= size; x += w) At(o, x) = k0 * At(first, x);
            for (; x < size; x++) o[x] = kernel[0] * first[x];
            for (int k = 1; k < taps; k++)
            {
                var src = temp.Slice(Reflect(y - radius + k, size) * size, size);
                var kv = new Vector<float>(kernel[k]);
                x = 0;
                for (; x + w <= size; x += w) At(o, x) += kv * At(src, x);
                for (; x < size; x++) o[x] += kernel[k] * src[x];
            }
        }
    }

    static float Tap(ReadOnlySpan<float> row, int x, ReadOnlySpan<float> kernel, int radius, int size)
    {
        float acc = kernel[0] * row[Reflect(x - radius, size)];
        for (int k = 1; k < kernel.Length; k++) acc += kernel[k] * row[Reflect(x - radius + k, size)];
        return acc;
    }

    static int Reflect(int i, int size) => i < 0 ? -i : i >= size ? 2 * (size - 1) - i : i;

    /// <summary>(x − mean) / std into <paramref name="output"/>.</summary>
    static void Normalize(ReadOnlySpan<float> x, Span<float> output, float mean, float std)
    {
        int i = 0, w = Vector<float>.Count;
        var (vm, vs) = (new Vector<float>(mean), new Vector<float>(std));
        ref var src = ref MemoryMarshal.GetReference(x);
        for (; i <= x.Length - w; i += w)
            At(output, i) = (Vector.LoadUnsafe(ref src, (nuint)i) - vm) / vs;
        for (; i < x.Length; i++) output[i] = (x[i] - mean) / std;
    }
}

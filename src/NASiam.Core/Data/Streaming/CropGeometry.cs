namespace NASiam.Core.Data.Streaming;

/// <summary>
/// A crop rectangle in the source image's pixel coordinates (x to the right, y down; fractional for
/// the evaluation crop). The pixels [Left, Left + Width) × [Top, Top + Height) are resampled to the
/// output square.
/// </summary>
public readonly record struct CropBox(double Left, double Top, double Width, double Height)
{
    /// <summary>Width / Height.</summary>
    public double Aspect => Width / Height;
}

/// <summary>
/// The crop geometry of the ImageNet recipes on the original image (method doc 6.2), as torchvision
/// computes it:
/// <list type="bullet">
/// <item><see cref="RandomResizedCrop"/>: <c>transforms.RandomResizedCrop.get_params</c> — 10 attempts of
/// area ~ U(scale)·W·H and aspect log-uniform in ratio; the first that fits wins, its corner uniform
/// over the valid positions; otherwise the whole image, aspect clamped to the ratio range, centred.</item>
/// <item><see cref="ResizeCenterCrop"/>: <c>Resize(round(S·256/224))</c> of the shorter side followed by
/// <c>CenterCrop(S)</c> (Resize 256 + CenterCrop 224 at S = 224), as one source rectangle.</item>
/// </list>
/// Random draws come from a SplitMix64 state, so a crop depends only on its key (seed, epoch, batch,
/// position, view), never on which worker decodes it or when.
/// </summary>
public static class CropGeometry
{
    /// <summary>RandomResizedCrop's aspect-ratio range [3/4, 4/3].</summary>
    public const double MinRatio = 3.0 / 4.0, MaxRatio = 4.0 / 3.0;

    /// <summary>
    /// torchvision's <c>RandomResizedCrop.get_params(img, scale, ratio)</c> for a
    /// <paramref name="width"/>×<paramref name="height"/> image; <paramref name="state"/> advances.
    /// Integer boxes, inside the image.
    /// </summary>
    public static CropBox RandomResizedCrop(int width, int height, double minScale, double maxScale, ref ulong state,
        double minRatio = MinRatio, double maxRatio = MaxRatio)
    {
        if (width < 1 || height < 1) throw new ArgumentException($"Image size {width}x{height} is empty.");
        if (!(minScale > 0 && minScale <= maxScale && maxScale <= 1)) throw new ArgumentException($"Scale range ({minScale}, {maxScale}) must satisfy 0 < min <= max <= 1.");
        double area = (double)width * height;
        double logLo = Math.Log(minRatio), logHi = Math.Log(maxRatio);
        for (int attempt = 0; attempt < 10; attempt++)
        {
            double target = area * (minScale + Uniform(ref state) * (maxScale - minScale));
            double aspect = Math.Exp(logLo + Uniform(ref state) * (logHi - logLo));
            // Python's round() is half-to-even, as Math.Round's default.
            int w = (int)Math.Round(Math.Sqrt(target * aspect));
            int h = (int)Math.Round(Math.Sqrt(target / aspect));
            if (w > 0 && w <= width && h > 0 && h <= height)
            {
                int top = RandInt(ref state, height - h + 1);
                int left = RandInt(ref state, width - w + 1);
                return new CropBox(left, top, w, h);
            }
        }
        double inRatio = (double)width / height;
        int fw = width, fh = height;
        if (inRatio < minRatio) fh = (int)Math.Round(width / minRatio);
        else if (inRatio > maxRatio) fw = (int)Math.Round(height * maxRatio);
        return new CropBox((width - fw) / 2, (height - fh) / 2, fw, fh);
    }

    /// <summary>
    /// The source rectangle of <c>Resize(resize)</c> (shorter side to <paramref name="resize"/>, the
    /// longer one to int(resize·long/short), torchvision's rule) followed by <c>CenterCrop(size)</c>
    /// (offsets int(round((side − size)/2))). <paramref name="resize"/> defaults to round(size·256/224).
    /// </summary>
    public static CropBox ResizeCenterCrop(int width, int height, int size, int? resize = null)
    {
        if (width < 1 || height < 1) throw new ArgumentException($"Image size {width}x{height} is empty.");
        int r = resize ?? EvalResize(size);
        if (r < size) throw new ArgumentException($"Resize {r} is smaller than the centre crop {size}.");
        int rw, rh;
        if (width <= height) { rw = r; rh = (int)((long)r * height / width); }
        else { rh = r; rw = (int)((long)r * width / height); }
        double sx = (double)width / rw, sy = (double)height / rh;
        int top = (int)Math.Round((rh - size) / 2.0, MidpointRounding.ToEven);
        int left = (int)Math.Round((rw - size) / 2.0, MidpointRounding.ToEven);
        return new CropBox(left * sx, top * sy, size * sx, size * sy);
    }

    /// <summary>The evaluation resize of a crop of <paramref name="size"/> px: round(size·256/224) (256 at 224).</summary>
    public static int EvalResize(int size) => (int)Math.Round(size * 256.0 / 224.0);

    /// <summary>A uniform double in [0, 1) from <paramref name="state"/> (53 random bits).</summary>
    public static double Uniform(ref ulong state) => (SplitMix.Next(ref state) >> 11) * (1.0 / (1UL << 53));

    /// <summary>A uniform integer in [0, n).</summary>
    static int RandInt(ref ulong state, int n) => (int)Math.Min(n - 1, Math.Floor(Uniform(ref state) * n));

    /// <summary>The SplitMix state of one crop: a function of the batch's key, the image's position in the batch and the view.</summary>
    public static ulong CropState(ulong batchKey, int position, int view) =>
        SplitMix.Seed((long)batchKey, view, position);
}

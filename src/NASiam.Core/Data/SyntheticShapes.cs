using NASiam.Core.Engine;
using TorchSharp;
using static TorchSharp.torch;
using static NASiam.Core.Engine.TensorMath;

namespace NASiam.Core.Data;

/// <summary>
/// The built-in <c>synthetic</c> data set: 10 classes of shapes and textures drawn with torch ops
/// (no per-pixel C# loops), each image a rotated lattice of one shape. The class is decided only
/// by the shape; a mild colour tint, brightness, lattice phase (position), cell size (scale), rotation,
/// background gradient and noise are random per image, so raw-pixel classifiers
/// score above chance but far from perfectly, while features invariant to colour and geometry
/// (what SSL learns) separate the classes. Deterministic for a given seed.
/// </summary>
public static class SyntheticShapes
{
    /// <summary>Class names in label order.</summary>
    public static IReadOnlyList<string> ClassNames { get; } =
        ["circle", "ring", "square", "frame", "triangle", "cross", "crescent", "striped-disk", "checker-square", "bullseye"];

    /// <summary>Images are drawn at this multiple of the output size and box-filtered down (anti-aliasing).</summary>
    const int Supersample = 2;
    /// <summary>
    /// Float elements one intermediate of <see cref="Generate"/>'s chunked passes may hold (4 MiB):
    /// the supersampled shape coordinates are drawn for this many pixels at a time, and images are
    /// composited (and their noise drawn) this many elements at a time, so the generator's working
    /// set stays near 0.1 GiB whatever the image count and size.
    /// </summary>
    const long ChunkElements = 1 << 20;
    /// <summary>
    /// Chunks between glibc trims in <see cref="Generate"/>. Each chunk's freed buffers are reused
    /// only in part (the heap fragments: RSS grew by about one intermediate a chunk, 635 MiB above
    /// the start for 512 images of 224 px, while 90-160 MiB were in use); a trim every 8 chunks
    /// holds that to 213-232 MiB for about 1 s more (a trim after every chunk: 212 MiB, 3 s more).
    /// </summary>
    const int TrimEveryChunks = 8;

    /// <summary>
    /// Opens the synthetic set: <paramref name="trainCount"/> train images and trainCount/5 (at least
    /// one per class) test images of <paramref name="imageSize"/> px, uint8 on the CPU. Balanced:
    /// each class has count/10 images (±1). Normalisation constants are measured on the train split.
    /// </summary>
    public static InMemoryImageDataSet Open(int trainCount = 5000, int seed = 0, int imageSize = 32)
    {
        if (trainCount < ClassNames.Count)
            throw new ArgumentException($"Synthetic train size must be at least {ClassNames.Count} (one image per class); got {trainCount}.");
        if (imageSize < 8 || imageSize > 256)
            throw new ArgumentException($"Synthetic image size must be in [8, 256] px; got {imageSize}.");
        var testCount = Math.Max(ClassNames.Count, trainCount / 5);
        // Distinct streams for train and test so the test set is not a copy of the train prefix.
        var (trainImages, trainLabels) = Generate(trainCount, Mix(seed, 1), imageSize);
        var (testImages, testLabels) = Generate(testCount, Mix(seed, 2), imageSize);
        var normalization = DataSetStatistics.Measure(trainImages);
        return new InMemoryImageDataSet("synthetic", ClassNames, normalization, trainImages, trainLabels, testImages, testLabels);
    }

    static ulong Mix(int seed, int stream) => (ulong)(uint)seed * 0x9E3779B97F4A7C15UL ^ (ulong)stream * 0xBF58476D1CE4E5B9UL;

    /// <summary>
    /// Draws <paramref name="count"/> images: uint8 [count,3,S,S] and int64 labels [count].
    /// Memory: the result, a byte mask [count,1,S,S] and a few floats per image, plus chunked working
    /// buffers of at most 4 MiB each (peak measured 90-140 MiB above the start for 6,400 images of
    /// 32 px, 210-270 MiB for 512 of 224 px; SyntheticShapesTests prints it).
    /// </summary>
    public static (Tensor Images, Tensor Labels) Generate(int count, ulong seed, int imageSize = 32)
    {
        using var sc = new ScalarScope();
        using var scope = NewDisposeScope();
        using var gen = new Generator(seed);
        int classes = ClassNames.Count;
        var labels = (arange(sc[count], ScalarType.Int64) % sc[classes]).index_select(0, randperm(count, generator: gen));

        var angle = rand(count, generator: gen) * (sc[2 * Math.PI]);
        // The shape is tiled on a rotated lattice of 1.6-2.6 cells per image side (cell 12-20 px),
        // so every random crop the SSL recipes take (area >= 0.2, side >= 14 px) still shows the
        // class; with a single shape, small crops of the background made colour the only cue
        // shared by two views and self-supervision learnt colour instead of shape.
        var cells = Plus(sc[1.6], rand(count, generator: gen) * sc[1.0]);
        var scale = Plus(sc[0.8], rand(count, generator: gen) * sc[0.25]);          // shape radius within its cell
        var centre = rand(count, 2, generator: gen) * sc[2];                // lattice phase, in [-1,1] units
        // Colours vary only about as much as the SSL colour jitter (brightness/contrast/saturation
        // ±40 %, hue ±0.1) and grayscale already perturb them: with widely random colours, the
        // colour pair was the one factor both views share, and self-supervision learnt colour
        // instead of shape. Here the shape is always brighter than the background (fixed polarity,
        // contrast 0.25-0.45) around a mid-grey level, with a mild per-channel tint.
        var baseLevel = Plus(sc[0.3], rand(count, generator: gen) * sc[0.15]);
        var contrast = Plus(sc[0.25], rand(count, generator: gen) * sc[0.2]);
        var bg = Plus(baseLevel.unsqueeze(1), (rand(count, 3, generator: gen) - sc[0.5]) * sc[0.12]).clamp(sc[0], sc[1]);
        var fg = Plus(Plus(baseLevel, contrast).unsqueeze(1), (rand(count, 3, generator: gen) - sc[0.5]) * sc[0.12]).clamp(sc[0], sc[1]);
        var gradient = (rand(count, 2, generator: gen) - sc[0.5]) * sc[0.1];
        // The noise is drawn chunk by chunk in the composite pass below (the generator's last draws,
        // in image order, in chunks of a multiple of 16 images): libtorch fills a float normal tensor
        // from the uniform stream 16 values at a time, so the chunks equal one draw for the whole set
        // while the set's float noise (count x 3 x S x S x 4 bytes, 1.2 GiB for 2,048 images at
        // 224 px) is never held at once. The output bytes are those of the single draw (checked for
        // 10 to 6,400 images at 9 to 224 px when this changed).

        // Each image's anti-aliased shape mask is k/Supersample² for k in 0..Supersample², exact in
        // float, so it is kept as the byte k (a quarter of the float mask's memory) until compositing.
        int subpixels = Supersample * Supersample;
        var maskCounts = zeros(new long[] { count, 1, imageSize, imageSize }, ScalarType.Byte);
        var big = imageSize * Supersample;
        var axis = Plus(arange(sc[big], ScalarType.Float32), sc[0.5]) / sc[big] * sc[2] - sc[1];   // pixel centres in [-1, 1]
        var gy = axis.view(1, big, 1);
        var gx = axis.view(1, 1, big);
        int chunks = 0;
        long shapeChunk = Math.Max(1, ChunkElements / ((long)big * big));
        for (int k = 0; k < classes; k++)
        {
            var classIdx = (labels == sc[k]).nonzero().view(-1);
            for (long start = 0; start < classIdx.numel(); start += shapeChunk)
            {
                // One scope per chunk of a class's images: the supersampled coordinates (about 25
                // intermediates of chunk x (2S)² floats) are freed before the next chunk; held for
                // a whole class they made a 1 GiB peak at 6,400 images of 32 px, far more at 224 px.
                using var chunkScope = NewDisposeScope();
                var idx = classIdx.narrow(0, start, Math.Min(shapeChunk, classIdx.numel() - start));
                var a = angle.index_select(0, idx).view(-1, 1, 1);
                var s = scale.index_select(0, idx).view(-1, 1, 1);
                var n = cells.index_select(0, idx).view(-1, 1, 1);
                var c = centre.index_select(0, idx);
                var dx = gx - c[.., 0].view(-1, 1, 1);
                var dy = gy - c[.., 1].view(-1, 1, 1);
                var (cos, sin) = (a.cos(), a.sin());
                // Lattice coordinates: each cell maps to [-1, 1]², then the shape's radius is s of it.
                // In place after the first broadcast (the same kernels, so the same values): one
                // chunk x (2S)² buffer each instead of seven.
                var u = Plus(cos * dx, sin * dy).mul_(n).div_(sc[2]).remainder_(sc[1.0]).mul_(sc[2]).sub_(sc[1]).div_(s);
                var v = (cos * dy - sin * dx).mul_(n).div_(sc[2]).remainder_(sc[1.0]).mul_(sc[2]).sub_(sc[1]).div_(s);
                var mask = ShapeMask(k, u, v).to_type(ScalarType.Float32).unsqueeze(1);
                var pooled = nn.functional.avg_pool2d(mask, Supersample);
                maskCounts.index_copy_(0, idx, (pooled * sc[subpixels]).round().to_type(ScalarType.Byte));
                chunkScope.Dispose();
                if (++chunks % TrimEveryChunks == 0) NativeMemory.Trim();
            }
        }

        var ramp = axis.view(1, big)[.., TensorIndex.Slice(0, big, Supersample)];
        var bytes = empty(new long[] { count, 3, imageSize, imageSize }, ScalarType.Byte);
        long imageElements = 3L * imageSize * imageSize;
        int compositeChunk = (int)(16 * Math.Max(1, ChunkElements / (16 * imageElements)));
        for (int start = 0; start < count; start += compositeChunk)
        {
            using var chunkScope = NewDisposeScope();
            int end = Math.Min(count, start + compositeChunk);
            var rows = TensorIndex.Slice(start, end);
            var noise = randn(new long[] { end - start, 3, imageSize, imageSize }, generator: gen) * sc[0.04];
            var m = maskCounts[rows].to_type(ScalarType.Float32) / sc[subpixels];
            var grad = gradient[rows];
            var shade = Plus(grad[.., 0].view(-1, 1, 1, 1) * ramp.view(1, 1, 1, -1), grad[.., 1].view(-1, 1, 1, 1) * ramp.view(1, 1, -1, 1));
            var image = Plus(Plus(Plus(bg[rows].view(-1, 3, 1, 1) * Minus(sc[1], m), fg[rows].view(-1, 3, 1, 1) * m), shade), noise);
            bytes[rows].copy_((image.clamp(sc[0], sc[1]) * sc[255]).round().to_type(ScalarType.Byte));
            chunkScope.Dispose();
            if (++chunks % TrimEveryChunks == 0) NativeMemory.Trim();
        }
        return (bytes.MoveToOuterDisposeScope(), labels.MoveToOuterDisposeScope());
    }

    /// <summary>Boolean mask of class <paramref name="k"/> in the shape's local frame (radius about 1).</summary>
    static Tensor ShapeMask(int k, Tensor u, Tensor v)
    {
        using var sc = new ScalarScope();
        var r = (u * u).add_(v * v, sc[1]).sqrt_();
        var box = maximum(u.abs(), v.abs());
        return k switch
        {
            0 => r < sc[0.9],
            1 => (r > sc[0.55]) & (r < sc[0.95]),
            2 => box < sc[0.75],
            3 => (box > sc[0.45]) & (box < sc[0.8]),
            4 => (v > sc[-0.5]) & (v < Minus(sc[1], sc[1.73] * u.abs())),
            5 => ((u.abs() < sc[0.28]) & (v.abs() < sc[0.9])) | ((v.abs() < sc[0.28]) & (u.abs() < sc[0.9])),
            6 => (r < sc[0.9]) & (Plus((u - sc[0.4]) * (u - sc[0.4]), v * v) > sc[0.49]),
            7 => (r < sc[0.95]) & ((u * (sc[3 * Math.PI])).sin() > sc[0]),
            8 => (box < sc[0.8]) & ((u * (sc[2.5 * Math.PI])).sin() * (v * (sc[2.5 * Math.PI])).sin() > sc[0]),
            9 => (r < sc[0.3]) | ((r > sc[0.6]) & (r < sc[0.95])),
            _ => throw new ArgumentOutOfRangeException(nameof(k)),
        };
    }
}

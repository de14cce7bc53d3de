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
    /// <summary>Images composited at a time (see <see cref="Generate"/>).</summary>
    const int CompositeChunk = 512;

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

    /// <summary>Draws <paramref name="count"/> images: uint8 [count,3,S,S] and int64 labels [count].</summary>
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
        var noise = randn(new long[] { count, 3, imageSize, imageSize }, generator: gen) * sc[0.04];

        var masks = zeros(count, 1, imageSize, imageSize);
        var big = imageSize * Supersample;
        var axis = Plus(arange(sc[big], ScalarType.Float32), sc[0.5]) / sc[big] * sc[2] - sc[1];   // pixel centres in [-1, 1]
        var gy = axis.view(1, big, 1);
        var gx = axis.view(1, 1, big);
        for (int k = 0; k < classes; k++)
        {
            // One scope per class: its supersampled coordinates (tens of MiB each at 128 px) are freed
            // before the next class instead of piling up until the end (a 2.5 GiB peak for 6,400 images).
            using var classScope = NewDisposeScope();
            var idx = (labels == sc[k]).nonzero().view(-1);
            if (idx.numel() == 0) continue;
            var a = angle.index_select(0, idx).view(-1, 1, 1);
            var s = scale.index_select(0, idx).view(-1, 1, 1);
            var n = cells.index_select(0, idx).view(-1, 1, 1);
            var c = centre.index_select(0, idx);
            var dx = gx - c[.., 0].view(-1, 1, 1);
            var dy = gy - c[.., 1].view(-1, 1, 1);
            var (cos, sin) = (a.cos(), a.sin());
            // Lattice coordinates: each cell maps to [-1, 1]², then the shape's radius is s of it.
            var u = ((Plus(cos * dx, sin * dy) * n / sc[2]).remainder(sc[1.0]) * sc[2] - sc[1]) / s;
            var v = (((cos * dy - sin * dx) * n / sc[2]).remainder(sc[1.0]) * sc[2] - sc[1]) / s;
            var mask = ShapeMask(k, u, v).to_type(ScalarType.Float32).unsqueeze(1);
            masks.index_copy_(0, idx, nn.functional.avg_pool2d(mask, Supersample));
        }

        var ramp = axis.view(1, big)[.., TensorIndex.Slice(0, big, Supersample)];
        var bytes = empty(new long[] { count, 3, imageSize, imageSize }, ScalarType.Byte);
        // Composited in chunks of images (elementwise, so the same bytes as one pass): float
        // intermediates of the whole set at once would be several times the uint8 result.
        for (int start = 0; start < count; start += CompositeChunk)
        {
            using var chunkScope = NewDisposeScope();
            var rows = TensorIndex.Slice(start, Math.Min(count, start + CompositeChunk));
            var m = masks[rows];
            var grad = gradient[rows];
            var shade = Plus(grad[.., 0].view(-1, 1, 1, 1) * ramp.view(1, 1, 1, -1), grad[.., 1].view(-1, 1, 1, 1) * ramp.view(1, 1, -1, 1));
            var image = Plus(Plus(Plus(bg[rows].view(-1, 3, 1, 1) * Minus(sc[1], m), fg[rows].view(-1, 3, 1, 1) * m), shade), noise[rows]);
            bytes[rows].copy_((image.clamp(sc[0], sc[1]) * sc[255]).round().to_type(ScalarType.Byte));
        }
        return (bytes.MoveToOuterDisposeScope(), labels.MoveToOuterDisposeScope());
    }

    /// <summary>Boolean mask of class <paramref name="k"/> in the shape's local frame (radius about 1).</summary>
    static Tensor ShapeMask(int k, Tensor u, Tensor v)
    {
        using var sc = new ScalarScope();
        var r = Plus(u * u, v * v).sqrt();
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

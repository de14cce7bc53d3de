using NASiam.Core.Engine;
using NASiam.Core.Data;
using NASiam.Core.Data.Augmentation;
using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Tests.Data;

public class TwoViewAugmenterTests
{
    static Tensor Images(int n, int seed = 0)
    {
        using var g = new Generator((ulong)seed);
        return randint(0, 256, [n, 3, 32, 32], ScalarType.Byte, generator: g);
    }

    static double Rate(Tensor mask) => mask.to_type(ScalarType.Float64).mean().item<double>();

    [Fact]
    public void Sample_DrawsParametersAtTheRecipeRates()
    {
        using var sc = new ScalarScope();
        var aug = new TwoViewAugmenter(AugmentationRecipe.SimSiamCifar, ChannelNormalization.Cifar10, CPU);
        using var g = new Generator(11);
        using var p = aug.Sample(4000, 32, 32, g);
        Assert.InRange(Rate(p.Flip), 0.46, 0.54);
        Assert.InRange(Rate(p.Gray), 0.17, 0.23);
        Assert.InRange(Rate(p.Jitter), 0.77, 0.83);
        var area = (p.CropBoxes[.., 2] * p.CropBoxes[.., 3] / sc[1024.0]);
        // Rounding the side lengths moves the area a little outside the nominal [0.2, 1].
        Assert.InRange(area.min().item<float>(), 0.15, 0.3);
        Assert.True(area.max().item<float>() <= 1.0f);
        var ratio = p.CropBoxes[.., 3] / p.CropBoxes[.., 2];
        Assert.InRange(ratio.min().item<float>(), 0.6, 1.0);
        Assert.InRange(ratio.max().item<float>(), 1.0, 1.6);
        // Boxes lie inside the image.
        Assert.True((p.CropBoxes[.., 0] + p.CropBoxes[.., 2] <= sc[32]).all().item<bool>());
        Assert.True((p.CropBoxes[.., 1] + p.CropBoxes[.., 3] <= sc[32]).all().item<bool>());
        Assert.True((p.CropBoxes[.., 0..2] >= sc[0]).all().item<bool>());
        // Jitter factors: identity where not applied, in range where applied; orders are permutations.
        var applied = p.Jitter.nonzero().view(-1);
        var f = p.JitterFactors.index_select(0, applied);
        Assert.InRange(f[.., 0..3].min().item<float>(), 0.6f, 0.65f);
        Assert.InRange(f[.., 0..3].max().item<float>(), 1.35f, 1.4f);
        Assert.InRange(f[.., 3].abs().max().item<float>(), 0.09f, 0.1f);
        var sorted = p.JitterOrder.sort(1).Values;
        Assert.True((sorted == arange(sc[4], ScalarType.Int64)).all().item<bool>());
        Assert.True(Rate(p.JitterOrder[.., 0] == sc[3]) is > 0.2 and < 0.3);
        Assert.Equal(0, p.BlurSigma.count_nonzero().item<long>()); // no blur on CIFAR
    }

    [Fact]
    public void Sample_UsesTheWiderScale_ForMoCo_AndBlurForImageNet()
    {
        using var sc = new ScalarScope();
        using var g = new Generator(2);
        using var moco = new TwoViewAugmenter(AugmentationRecipe.MoCoCifar, ChannelNormalization.Cifar10, CPU).Sample(3000, 32, 32, g);
        var area = moco.CropBoxes[.., 2] * moco.CropBoxes[.., 3] / sc[1024.0];
        Assert.InRange(area.min().item<float>(), 0.05, 0.12);
        using var inet = new TwoViewAugmenter(AugmentationRecipe.ImageNet, ChannelNormalization.ImageNet, CPU).Sample(3000, 64, 64, g);
        Assert.InRange(Rate(inet.BlurSigma > sc[0]), 0.45, 0.55);
        Assert.InRange(inet.BlurSigma.max().item<float>(), 1.9f, 2.0f);
        using var lin = new TwoViewAugmenter(AugmentationRecipe.LinearEvalCifar, ChannelNormalization.Cifar10, CPU).Sample(1000, 32, 32, g);
        Assert.Equal(0, lin.Jitter.count_nonzero().item<long>());
        Assert.Equal(0, lin.Gray.count_nonzero().item<long>());
    }

    [Fact]
    public void TwoViews_AreNormalisedFloat_OfTheOutputShape()
    {
        using var sc = new ScalarScope();
        var aug = new TwoViewAugmenter(AugmentationRecipe.SimClrCifar, ChannelNormalization.SimClrCifar, CPU);
        using var images = Images(64);
        using var g = new Generator(1);
        var (a, b) = aug.TwoViews(images, g);
        Assert.Equal(ScalarType.Float32, a.dtype);
        Assert.Equal(new long[] { 64, 3, 32, 32 }, a.shape);
        Assert.Equal(new long[] { 64, 3, 32, 32 }, b.shape);
        // Bounds of (x - mean)/std for x in [0, 1].
        var n = ChannelNormalization.SimClrCifar;
        for (int c = 0; c < 3; c++)
        {
            Assert.True(a[.., c].min().item<float>() >= -n.Mean[c] / n.Std[c] - 1e-4);
            Assert.True(a[.., c].max().item<float>() <= (1 - n.Mean[c]) / n.Std[c] + 1e-4);
        }
        // The two views of each image differ.
        var perImage = (a - b).abs().flatten(1).amax(new long[] { 1 });
        Assert.True((perImage > sc[0.01]).all().item<bool>());
    }

    [Fact]
    public void View_IsDeterministicForASeed_AndDiffersAcrossSeeds()
    {
        var aug = new TwoViewAugmenter(AugmentationRecipe.SimSiamCifar, ChannelNormalization.Cifar10, CPU);
        using var images = Images(16);
        using var g1 = new Generator(5);
        using var g2 = new Generator(5);
        using var g3 = new Generator(6);
        var (a1, b1) = aug.TwoViews(images, g1);
        var (a2, b2) = aug.TwoViews(images, g2);
        var (a3, _) = aug.TwoViews(images, g3);
        Assert.True(a1.equal(a2).all().item<bool>());
        Assert.True(b1.equal(b2).all().item<bool>());
        Assert.False(a1.allclose(a3));
    }

    [Fact]
    public void Apply_WithFullCropAndFlip_MirrorsTheImage()
    {
        using var sc = new ScalarScope();
        var aug = new TwoViewAugmenter(AugmentationRecipe.LinearEvalCifar, new ChannelNormalization([0, 0, 0], [1, 1, 1]), CPU);
        using var images = Images(2);
        using var p = new AugmentationParameters
        {
            CropBoxes = tensor(new float[] { 0, 0, 32, 32, 0, 0, 32, 32 }).view(2, 4),
            Flip = tensor(new[] { false, true }),
            Jitter = zeros(2, ScalarType.Bool),
            JitterFactors = tensor(new float[] { 1, 1, 1, 0 }).repeat(2, 1),
            JitterOrder = arange(sc[4], ScalarType.Int64).repeat(2, 1),
            Gray = zeros(2, ScalarType.Bool),
            BlurSigma = zeros(2),
        };
        var x = aug.Apply(images, p);
        var expected = images.to_type(ScalarType.Float32) / sc[255];
        Assert.True(x[0].allclose(expected[0], atol: 1e-5));
        Assert.True(x[1].allclose(expected[1].flip(2), atol: 1e-5));
    }

    [Fact]
    public void Apply_GrayAndJitter_ChangeColourAsRequested()
    {
        using var sc = new ScalarScope();
        var aug = new TwoViewAugmenter(AugmentationRecipe.SimSiamCifar, new ChannelNormalization([0, 0, 0], [1, 1, 1]), CPU);
        using var images = Images(3);
        using var p = new AugmentationParameters
        {
            CropBoxes = tensor(new float[] { 0, 0, 32, 32 }).repeat(3, 1),
            Flip = zeros(3, ScalarType.Bool),
            Jitter = tensor(new[] { false, true, false }),
            JitterFactors = tensor(new float[] { 1, 1, 1, 0, 0.5f, 1, 1, 0, 1, 1, 1, 0 }).view(3, 4),
            JitterOrder = arange(sc[4], ScalarType.Int64).repeat(3, 1),
            Gray = tensor(new[] { false, false, true }),
            BlurSigma = zeros(3),
        };
        var x = aug.Apply(images, p);
        var src = images.to_type(ScalarType.Float32) / sc[255];
        Assert.True(x[0].allclose(src[0], atol: 1e-5));                  // untouched
        Assert.True(x[1].allclose(src[1] * sc[0.5], atol: 1e-5));            // brightness 0.5
        Assert.True(x[2][0].allclose(x[2][1]) && x[2][1].allclose(x[2][2])); // three equal channels
    }

    [Fact]
    public void AdjustHue_ByAThird_RotatesPrimaries()
    {
        using var red = tensor(new float[] { 1, 0, 0 }).view(1, 3, 1, 1);
        var green = ColorOps.AdjustHue(red, tensor(new float[] { 1f / 3 }));
        Assert.True(green.view(3).allclose(tensor(new float[] { 0, 1, 0 }), atol: 1e-5));
    }

    [Fact]
    public void GaussianBlur_KeepsMean_AndSmooths()
    {
        using var sc = new ScalarScope();
        using var images = Images(2).to_type(ScalarType.Float32) / sc[255];
        var blurred = ColorOps.GaussianBlur(images, tensor(new float[] { 0, 1.5f }));
        Assert.True(blurred[0].equal(images[0]).all().item<bool>());
        Assert.InRange(Math.Abs(blurred[1].mean().item<float>() - images[1].mean().item<float>()), 0, 0.01);
        Assert.True(blurred[1].std().item<float>() < images[1].std().item<float>() * 0.6);
    }

    [Fact]
    public void EvalTransform_ForImageNet_ResizesAndCentreCrops()
    {
        using var sc = new ScalarScope();
        var t = EvalTransform.ForImageNet(ChannelNormalization.ImageNet, CPU, outputSize: 56);
        using var images = Images(2).to_type(ScalarType.Byte);
        var x = t.Apply(images);
        Assert.Equal(new long[] { 2, 3, 56, 56 }, x.shape);
        var plain = new EvalTransform(ChannelNormalization.Cifar10, CPU).Apply(images);
        Assert.Equal(new long[] { 2, 3, 32, 32 }, plain.shape);
        var expected = TwoViewAugmenter.Normalize(images.to_type(ScalarType.Float32) / sc[255], ChannelNormalization.Cifar10, CPU);
        Assert.True(plain.allclose(expected, atol: 1e-5));
    }

    [Fact]
    public void View_RejectsNonByteImages()
    {
        var aug = new TwoViewAugmenter(AugmentationRecipe.SimSiamCifar, ChannelNormalization.Cifar10, CPU);
        using var g = new Generator(0);
        var e = Assert.Throws<ArgumentException>(() => aug.View(zeros(2, 3, 32, 32), g));
        Assert.Contains("uint8", e.Message);
    }

    [Fact]
    public void Benchmark_ReportsThroughput()
    {
        var r = AugmentationBenchmark.Run(CPU, batchSize: 32, batches: 2, warmup: 1);
        Assert.True(r.ImagesPerSecond > 0 && r.MillisecondsPerBatch > 0);
    }

    [Fact]
    public void Apply_InCpuChunks_EqualsTheWholeBatch()
    {
        using var sc = new ScalarScope();
        // The colour operators run in cache-sized chunks on the CPU; chunking must not change a pixel
        // (one blur radius for the whole batch, per-image parameters sliced with their images).
        var aug = new TwoViewAugmenter(AugmentationRecipe.ImageNet, ChannelNormalization.ImageNet, CPU, outputSize: 32);
        using var images = Images(13, seed: 5);
        using var g = new Generator(3);
        using var p = aug.Sample(13, 32, 32, g);
        Assert.True((p.BlurSigma > sc[0]).any().item<bool>());
        var saved = TwoViewAugmenter.CpuChunkBytes;
        try
        {
            TwoViewAugmenter.CpuChunkBytes = long.MaxValue;
            using var whole = aug.Apply(images, p);
            foreach (var imagesPerChunk in new[] { 1, 5 })
            {
                TwoViewAugmenter.CpuChunkBytes = imagesPerChunk * 3L * 32 * 32 * sizeof(float);
                using var chunked = aug.Apply(images, p);
                Assert.Equal(whole.shape, chunked.shape);
                Assert.True((whole - chunked).abs().max().item<float>() <= 1e-6f, $"{imagesPerChunk} image(s) per chunk differ");
            }
        }
        finally { TwoViewAugmenter.CpuChunkBytes = saved; }
    }
}

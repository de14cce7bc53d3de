using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Data.Augmentation;

/// <summary>Throughput of two-view augmentation (what <c>nasiam bench</c> reports).</summary>
public sealed record AugmentationBenchmarkResult(AugmentationRecipe Recipe, int BatchSize, int Batches, double MillisecondsPerBatch)
{
    /// <summary>Source images per second (each producing two views).</summary>
    public double ImagesPerSecond => BatchSize / (MillisecondsPerBatch / 1000.0);
}

/// <summary>Times <see cref="TwoViewAugmenter.TwoViews(TorchSharp.torch.Tensor, TorchSharp.torch.Generator)"/> on random uint8 CIFAR-sized batches.</summary>
public static class AugmentationBenchmark
{
    /// <summary>
    /// Runs <paramref name="warmup"/> untimed and <paramref name="batches"/> timed two-view batches of
    /// <paramref name="batchSize"/> 32x32 images on <paramref name="device"/> (CUDA is synchronised
    /// before the clock stops).
    /// </summary>
    public static AugmentationBenchmarkResult Run(Device device, int batchSize = 256, int batches = 20, int warmup = 3,
        AugmentationRecipe recipe = AugmentationRecipe.SimSiamCifar, int imageSize = 32)
    {
        if (batchSize < 1 || batches < 1) throw new ArgumentException("Batch size and batch count must be positive.");
        var augmenter = new TwoViewAugmenter(recipe, ChannelNormalization.Cifar10, device, imageSize);
        using var generator = new Generator(0);
        using var images = randint(0, 256, [batchSize, 3, imageSize, imageSize], ScalarType.Byte, generator: generator);
        using var onDevice = images.to(device);
        void Once()
        {
            using var scope = NewDisposeScope();
            var (a, b) = augmenter.TwoViews(onDevice, generator);
            if (device.type == DeviceType.CUDA) cuda.synchronize();
        }
        for (int i = 0; i < warmup; i++) Once();
        var watch = Stopwatch.StartNew();
        for (int i = 0; i < batches; i++) Once();
        return new AugmentationBenchmarkResult(recipe, batchSize, batches, watch.Elapsed.TotalMilliseconds / batches);
    }
}

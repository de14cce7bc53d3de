using NASiam.Core.Engine;
using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Data;

/// <summary>Measured per-channel pixel statistics on the [0, 1] scale.</summary>
public static class DataSetStatistics
{
    /// <summary>Mean and (population) std per channel of uint8 images [N,3,H,W].</summary>
    public static ChannelNormalization Measure(Tensor images)
    {
        using var sc = new ScalarScope();
        using var scope = NewDisposeScope();
        var x = images.to_type(ScalarType.Float64).div_(sc[255.0]).transpose(0, 1).reshape(3, -1);
        var mean = x.mean(new long[] { 1 });
        var std = x.std(1, unbiased: false);
        return new ChannelNormalization(mean.data<double>().ToArray(), std.data<double>().ToArray());
    }

    /// <summary>
    /// Measures the train split of any data set, reading at most <paramref name="maxImages"/> images
    /// (evenly spaced indices) in batches of 256 so image folders are not loaded whole.
    /// </summary>
    public static ChannelNormalization Measure(IImageDataSet dataSet, long maxImages = 10_000)
    {
        using var sc = new ScalarScope();
        var n = dataSet.TrainCount;
        var take = Math.Min(n, Math.Max(1, maxImages));
        var indices = Enumerable.Range(0, (int)take).Select(i => i * n / take).ToArray();
        var sum = new double[3];
        var sumSq = new double[3];
        long pixels = 0;
        foreach (var chunk in indices.Chunk(256))
        {
            using var scope = NewDisposeScope();
            using var batch = dataSet.ReadTrain(chunk);
            var x = batch.Images.to_type(ScalarType.Float64).div_(sc[255.0]).transpose(0, 1).reshape(3, -1);
            var s = x.sum(1).data<double>().ToArray();
            var q = (x * x).sum(1).data<double>().ToArray();
            for (int c = 0; c < 3; c++) { sum[c] += s[c]; sumSq[c] += q[c]; }
            pixels += x.shape[1];
        }
        var mean = sum.Select(s => s / pixels).ToArray();
        var std = sumSq.Select((q, c) => Math.Sqrt(Math.Max(0, q / pixels - mean[c] * mean[c]))).ToArray();
        return new ChannelNormalization(mean, std);
    }
}

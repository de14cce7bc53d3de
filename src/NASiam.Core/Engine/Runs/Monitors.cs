using NASiam.Core.Data;
using NASiam.Core.Data.Augmentation;
using NASiam.Core.Engine.Evaluation;
using NASiam.Core.Methods;
using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Engine.Runs;

/// <summary>How many images one inference pass outside training takes (collapse probe, kNN monitor, linear-eval test pass).</summary>
public static class InferenceChunks
{
    /// <summary>
    /// Images per forward pass at <paramref name="imageSide"/> px: 64 at 32 px, fewer for larger images
    /// (64·32²/S², at least 8). TorchSharp keeps every intermediate of a forward alive until its dispose
    /// scope ends, even without autograd: a MoCo ResNet-18 embedding of 256 images at 32 px held 1.1 GiB
    /// (measured), which made the collapse probe the peak of a search run (2.9 GiB against a 1.4 GiB
    /// working set). Per image the outputs are the same in any chunk (eval mode).
    /// </summary>
    public static int For(int imageSide) => Math.Clamp(64 * 32 * 32 / Math.Max(1, imageSide * imageSide), 8, 64);

    /// <summary>Images per pass of <paramref name="transform"/> over <paramref name="data"/>: its crop, or the stored images' side when it does not crop.</summary>
    public static int For(EvalTransform transform, IImageDataSet data) => For(transform.CropSize ?? data.ImageSize);

    /// <summary>
    /// Reads images 0..<paramref name="count"/>−1 of a split through <paramref name="read"/> in chunks of
    /// <paramref name="chunk"/>, in order, and calls <paramref name="body"/> on each batch inside its own
    /// dispose scope (move what must outlive it to the outer scope), without autograd; the engine's periodic
    /// collection runs every <see cref="NativeMemory.CollectEvery"/> chunks. The kNN monitor and the linear
    /// evaluation's test pass read their splits this way.
    /// </summary>
    public static void ForEach(long count, int chunk, Func<long[], ImageBatch> read, Action<ImageBatch> body)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunk, 1);
        using var _ = no_grad();
        for (long start = 0; start < count; start += chunk)
        {
            using var scope = NewDisposeScope();
            var idx = Enumerable.Range(0, (int)Math.Min(chunk, count - start)).Select(i => start + i).ToArray();
            using (var batch = read(idx)) body(batch);
            NativeMemory.MaybeCollect(start / chunk + 1);
        }
    }
}

/// <summary>
/// A fixed probe batch (the first up-to-256 training images, two SSL views drawn once from a
/// fixed seed) on which the collapse metrics are measured each epoch, so epochs compare alike.
/// </summary>
public sealed class CollapseProbe : IDisposable
{
    readonly Tensor _view1, _view2;

    public CollapseProbe(StageEnvironment env, int size = 256)
    {
        long n = Math.Min(size, env.Data.TrainCount);
        using var batch = env.Data.ReadTrain(Enumerable.Range(0, (int)n).Select(i => (long)i).ToArray());
        using var g = new Generator(env.AugmentationSeed(77));
        (_view1, _view2) = env.SslAugmenter().TwoViews(batch.Images, g);
        Size = (int)n;
    }

    public int Size { get; }

    /// <summary>Collapse metrics of the model's embedding on the probe (eval mode, no grad; the mode is restored).</summary>
    public CollapseReport Measure(SiameseModel model)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        bool training = model.training;
        model.eval();
        try
        {
            return CollapseMetrics.Compute(Embed(model, _view1), Embed(model, _view2));
        }
        finally { model.train(training); }
    }

    /// <summary>The embedding of <paramref name="views"/> in chunks (<see cref="InferenceChunks"/>), each chunk's intermediates freed before the next.</summary>
    static Tensor Embed(SiameseModel model, Tensor views)
    {
        long n = views.size(0), chunk = InferenceChunks.For((int)views.size(2));
        var parts = new List<Tensor>();
        for (long start = 0; start < n; start += chunk)
        {
            using var scope = NewDisposeScope();
            parts.Add(model.Embedding(views.narrow(0, start, Math.Min(chunk, n - start))).MoveToOuterDisposeScope());
        }
        return parts.Count == 1 ? parts[0] : cat(parts, 0);
    }

    public void Dispose() { _view1.Dispose(); _view2.Dispose(); }
}

/// <summary>
/// The kNN monitor of method doc 6.4: bank = the whole training split through the test
/// transform, queries = the test split, model in eval mode, L2-normalised monitor features.
/// </summary>
public static class KnnMonitor
{
    /// <summary>Top-1/top-5 and the protocol text ("k=..., weight=..., feature=..., bank=train (N), queries=test (M)").</summary>
    public static (Accuracy Accuracy, string Protocol) Evaluate(StageEnvironment env, SiameseModel model)
    {
        var o = env.Options;
        var protocol = KnnProtocol.For(o.Framework, o.Pretrain.KnnK, o.Heads.Temperature);
        var transform = env.EvalTransform();
        int batch = InferenceChunks.For(transform, env.Data);
        bool training = model.training;
        model.eval();
        try
        {
            using var bank = Features(env.Data.TrainCount, idx => env.Data.ReadTrain(idx), model, transform, batch, env.Device, out var bankLabels);
            using var queries = Features(env.Data.TestCount, idx => env.Data.ReadTest(idx), model, transform, batch, env.Device, out var queryLabels);
            using (bankLabels)
            using (queryLabels)
            {
                var acc = KnnClassifier.Evaluate(bank, bankLabels, queries, queryLabels, env.Data.ClassCount, protocol);
                return (acc, $"{protocol}, feature={model.MonitorFeatureDescription} (l2-normalised), bank=train ({env.Data.TrainCount}), queries=test ({env.Data.TestCount})");
            }
        }
        finally { model.train(training); }
    }

    /// <summary>Monitor features [count, D] of a split (no grad), labels on the same device.</summary>
    static Tensor Features(long count, Func<long[], ImageBatch> read, SiameseModel model, EvalTransform transform, int batchSize,
        Device device, out Tensor labels)
    {
        var parts = new List<Tensor>();
        var labelParts = new List<Tensor>();
        InferenceChunks.ForEach(count, batchSize, read, batch =>
        {
            parts.Add(model.MonitorFeatures(transform.Apply(batch.Images)).MoveToOuterDisposeScope());
            labelParts.Add(batch.Labels.to(device).MoveToOuterDisposeScope());
        });
        labels = cat(labelParts, 0);
        var features = cat(parts, 0);
        foreach (var t in parts.Concat(labelParts)) t.Dispose();
        return features;
    }
}

// Streams two-view ImageNet-recipe batches from an image folder as a training run does
// (ImageFolderDataSet + BatchPrefetcher + TwoViewAugmenter on the CPU) and prints images/s and RSS.
// usage: DataBench FOLDER [--workers 2] [--batch 64] [--size 224] [--epochs 1] [--threads 0]
using System.Diagnostics;
using NASiam.Core.Data;
using NASiam.Core.Data.Augmentation;
using NASiam.Core.Data.Streaming;
using static TorchSharp.torch;

string Arg(string name, string fallback) { var i = Array.IndexOf(args, name); return i >= 0 ? args[i + 1] : fallback; }
var folder = args[0];
int workers = int.Parse(Arg("--workers", "2")), batchSize = int.Parse(Arg("--batch", "64")), size = int.Parse(Arg("--size", "224"));
int epochs = int.Parse(Arg("--epochs", "1")), threads = int.Parse(Arg("--threads", "0")), maxBatches = int.Parse(Arg("--batches", "0"));
if (threads > 0) set_num_threads(threads);

static long RssKb() => long.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmRSS:")).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);

using var data = DataSets.Open("folder", folder, new DataSetOpenOptions { ImageSize = size, Workers = workers });
var augmenter = new TwoViewAugmenter(AugmentationRecipe.ImageNet, ChannelNormalization.ImageNet, CPU, size);
var batches = new BatchProvider(new IndexRange(0, data.TrainCount), batchSize, seed: 0);
using var generator = new Generator(0);
var rss = new List<string>();
var total = Stopwatch.StartNew();
long images = 0, batchCount = 0;
var augmentClock = new Stopwatch();
Console.Error.WriteLine($"opened {data.TrainCount} images");
// A warm-up batch (JIT, thread pool, torch kernels) is not timed.
using (var warm = ((ImageFolderDataSet)data).ReadTrainViews(batches.Epoch(0).First(), 0.2, 1.0, 1))
{
    var (a, b) = augmenter.TwoViews(warm, generator);
    a.Dispose(); b.Dispose();
}
Console.Error.WriteLine("warm-up done");
if (args.Contains("--profile"))
{
    // Cost of the batched augmentation by part, on one pre-cropped batch: flip only (linear-eval recipe),
    // + jitter + gray (SimSiam CIFAR ops), + blur (the ImageNet recipe).
    using var probe = ((ImageFolderDataSet)data).ReadTrainViews(batches.Epoch(0).First(), 0.2, 1.0, 2);
    foreach (var recipe in new[] { AugmentationRecipe.LinearEvalImageNet, AugmentationRecipe.SimSiamCifar, AugmentationRecipe.ImageNet })
    {
        var a = new TwoViewAugmenter(recipe, ChannelNormalization.ImageNet, CPU, size);
        var w = Stopwatch.StartNew();
        for (int i = 0; i < 2; i++) using (var s = NewDisposeScope()) { var (x1, x2) = a.TwoViews(probe, generator); _ = x1.sum().item<float>() + x2.sum().item<float>(); }
        Console.WriteLine($"profile {recipe}: {w.Elapsed.TotalMilliseconds / 2:F0} ms per two-view batch of {probe.Count}");
    }
    return;
}
var clock = Stopwatch.StartNew();
var lastSample = TimeSpan.Zero;
rss.Add($"0.0s:{RssKb() / 1024}MB");
for (int epoch = 0; epoch < epochs; epoch++)
    foreach (var batch in BatchPrefetcher.Prefetch(batches.Epoch(epoch).Take(maxBatches > 0 ? maxBatches : int.MaxValue), (idx, k) =>
                 ((ImageFolderDataSet)data).ReadTrainViews(idx, augmenter.CropScale.Min, augmenter.CropScale.Max, (ulong)(epoch * 100_000 + k))))
    {
        using (batch)
        using (var scope = NewDisposeScope())
        {
            augmentClock.Start();
            var (v1, v2) = augmenter.TwoViews(batch, generator);
            _ = v1.sum().item<float>() + v2.sum().item<float>(); // force the work
            augmentClock.Stop();
            images += batch.Count;
            batchCount++;
        }
        if (clock.Elapsed - lastSample >= TimeSpan.FromSeconds(2))
        {
            lastSample = clock.Elapsed;
            rss.Add($"{clock.Elapsed.TotalSeconds:F1}s:{RssKb() / 1024}MB");
        }
    }
var seconds = clock.Elapsed.TotalSeconds;
rss.Add($"{seconds:F1}s:{RssKb() / 1024}MB");
Console.WriteLine($"nasiam: {images / seconds:F1} images/s (two views of {size} px each, batch {batchSize}, {workers} decode workers, torch threads {get_num_threads()}), {images} images in {seconds:F1} s");
Console.WriteLine($"nasiam RSS: {string.Join(" ", rss)}");
Console.WriteLine($"nasiam phases: batched augmentation (jitter, gray, blur, flip, normalise; main thread) {augmentClock.Elapsed.TotalMilliseconds / batchCount:F0} ms/batch; " +
    $"waiting for decoded batches {(seconds * 1000 - augmentClock.Elapsed.TotalMilliseconds) / batchCount:F0} ms/batch");

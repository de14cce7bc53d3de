// Streams two-view ImageNet-recipe batches from an image folder as a training run does
// (ImageFolderDataSet + BatchPrefetcher + TwoViewAugmenter on the CPU) and prints images/s, the
// load and foreign CPU beside it, and an RSS series (with the managed and C heaps) over the run.
// usage: DataBench FOLDER [--path fused|batched] [--workers 2] [--batch 64] [--size 224] [--epochs 1]
//                         [--batches 0 (all)] [--threads 0] [--profile]
//   fused   (what a CPU run does): the whole per-image recipe in the decode workers (FusedAugmentation)
//   batched (what a GPU run does, here on the CPU): uint8 crops from the workers, colour operators
//           batched on the main thread (TwoViewAugmenter.Apply) — the path before the fused kernel
using System.Diagnostics;
using NASiam.Core.Data;
using NASiam.Core.Data.Augmentation;
using NASiam.Core.Data.Streaming;
using NASiam.Core.Engine;
using static TorchSharp.torch;

string Arg(string name, string fallback) { var i = Array.IndexOf(args, name); return i >= 0 ? args[i + 1] : fallback; }
var folder = args[0];
var path = Arg("--path", "fused");
if (path is not ("fused" or "batched")) { Console.Error.WriteLine($"--path must be fused or batched; got '{path}'."); return 2; }
int workers = int.Parse(Arg("--workers", "2")), batchSize = int.Parse(Arg("--batch", "64")), size = int.Parse(Arg("--size", "224"));
int epochs = int.Parse(Arg("--epochs", "1")), threads = int.Parse(Arg("--threads", "0")), maxBatches = int.Parse(Arg("--batches", "0"));
if (threads > 0) set_num_threads(threads);

static long RssKb() => long.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmRSS:")).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
static string Load() => string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
// Busy jiffies of the whole host and of this process, to tell our CPU from everyone else's.
static (long Host, long Self) Jiffies()
{
    var cpu = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(long.Parse).ToArray();
    long host = cpu.Sum() - cpu[3] - (cpu.Length > 4 ? cpu[4] : 0);           // minus idle and iowait
    var self = File.ReadAllText("/proc/self/stat");
    var f = self[(self.LastIndexOf(')') + 2)..].Split(' ');
    return (host, long.Parse(f[11]) + long.Parse(f[12]));                    // utime + stime
}
string Heaps()
{
    var native = NativeMemory.Heap() is { } h ? $", C heap {h.InUseMib:F0} used/{h.ArenaFreeMib:F0} free" : "";
    return $"managed {GC.GetTotalMemory(false) >> 20}{native}";
}
string Sample(TimeSpan at) => $"{at.TotalSeconds:F1}s:{RssKb() / 1024}MB";

using var data = (ImageFolderDataSet)DataSets.Open("folder", folder, new DataSetOpenOptions { ImageSize = size, Workers = workers });
var augmenter = new TwoViewAugmenter(AugmentationRecipe.ImageNet, ChannelNormalization.ImageNet, CPU, size);
var batches = new BatchProvider(new IndexRange(0, data.TrainCount), batchSize, seed: 0);
using var generator = new Generator(0);
ImageBatch Read(long[] indices, ulong key) => path == "fused"
    ? data.ReadTrainViews(indices, augmenter, key)
    : data.ReadTrainViews(indices, augmenter.CropScale.Min, augmenter.CropScale.Max, key);
Console.Error.WriteLine($"opened {data.TrainCount} images");
// A warm-up batch (JIT, thread pool, torch kernels) is not timed.
using (var warm = Read(batches.Epoch(0).First(), 1))
using (var scope = NewDisposeScope())
    _ = augmenter.TwoViews(warm, generator);
if (args.Contains("--profile"))
{
    // Cost of the augmentation on one decoded batch, by path: batched on the main thread (per recipe part),
    // and the fused kernel alone on one thread.
    using var probe = data.ReadTrainViews(batches.Epoch(0).First(), 0.2, 1.0, 2);
    foreach (var recipe in new[] { AugmentationRecipe.LinearEvalImageNet, AugmentationRecipe.SimSiamCifar, AugmentationRecipe.ImageNet })
    {
        var a = new TwoViewAugmenter(recipe, ChannelNormalization.ImageNet, CPU, size);
        var w = Stopwatch.StartNew();
        for (int i = 0; i < 2; i++) using (var s = NewDisposeScope()) { var (x1, x2) = a.TwoViews(probe, generator); _ = x1.sum().item<float>() + x2.sum().item<float>(); }
        Console.WriteLine($"profile batched {recipe}: {w.Elapsed.TotalMilliseconds / 2:F0} ms per two-view batch of {probe.Count} (torch threads {get_num_threads()})");
    }
    var spec = AugmentationSpec.For(AugmentationRecipe.ImageNet);
    var hwc = probe.Images.permute(0, 2, 3, 1).contiguous().data<byte>().ToArray();
    var one = 3 * size * size;
    var outBuf = new float[one];
    // CPU time of this process (robust to other processes on a shared host), one thread busy.
    static double CpuMs() => Process.GetCurrentProcess().TotalProcessorTime.TotalMilliseconds;
    var views = new List<(int B, int V)>();
    for (int v = 0; v < 2; v++) for (int b = 0; b < probe.Count; b++) views.Add((b, v));
    void Fused(Func<ViewDraw, ViewDraw> only)
    {
        foreach (var (b, v) in views)
            FusedAugmentation.Apply(hwc.AsSpan(b * one, one), size, only(probe.Draws![v][b]), spec, ChannelNormalization.ImageNet, outBuf);
    }
    Fused(d => d);
    foreach (var (name, only) in new (string, Func<ViewDraw, ViewDraw>)[]
             {
                 ("convert + normalise only", _ => ViewDraw.Identity),
                 ("+ jitter", d => d with { Gray = false, BlurSigma = 0, Flip = false }),
                 ("+ jitter + gray + flip", d => d with { BlurSigma = 0 }),
                 ("whole recipe", d => d),
             })
    {
        var (wall, cpu) = (Stopwatch.StartNew(), CpuMs());
        Fused(only);
        Console.WriteLine($"profile fused ImageNet, {name}: {(CpuMs() - cpu) / views.Count:F2} ms CPU per view ({wall.Elapsed.TotalMilliseconds / views.Count:F2} ms wall), one thread");
    }
    var files = batches.Epoch(0).First().Select(i => data.TrainImages[(int)i].Path).ToArray();
    var crop = new byte[2 * one];
    var (wallD, cpuD) = (Stopwatch.StartNew(), CpuMs());
    ulong st = 1;
    foreach (var f in files)
        CropDecoder.DecodeCrops(f, size, (w, h) => [CropGeometry.RandomResizedCrop(w, h, 0.2, 1, ref st), CropGeometry.RandomResizedCrop(w, h, 0.2, 1, ref st)], crop);
    Console.WriteLine($"profile decode + 2 crops (ImageSharp): {(CpuMs() - cpuD) / files.Length:F2} ms CPU per image ({wallD.Elapsed.TotalMilliseconds / files.Length:F2} ms wall), one thread");
    return 0;
}
var rss = new List<string>();
var heaps = new List<string>();
var augmentClock = new Stopwatch();
long images = 0, batchCount = 0;
var loadBefore = Load();
var j0 = Jiffies();
var clock = Stopwatch.StartNew();
var lastSample = TimeSpan.Zero;
rss.Add(Sample(TimeSpan.Zero));
for (int epoch = 0; epoch < epochs; epoch++)
    foreach (var batch in BatchPrefetcher.Prefetch(batches.Epoch(epoch).Take(maxBatches > 0 ? maxBatches : int.MaxValue), (idx, k) => Read(idx, (ulong)(epoch * 100_000 + k))))
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
            rss.Add(Sample(clock.Elapsed));
            heaps.Add(Heaps());
        }
    }
var seconds = clock.Elapsed.TotalSeconds;
var j1 = Jiffies();
rss.Add(Sample(clock.Elapsed));
heaps.Add(Heaps());
double hz = 100, ours = (j1.Self - j0.Self) / hz / seconds, foreign = Math.Max(0, (j1.Host - j0.Host - (j1.Self - j0.Self)) / hz / seconds);
var what = path == "fused" ? "fused recipe in the decode workers" : "batched recipe on the main thread";
Console.WriteLine($"nasiam {path}: {images / seconds:F1} images/s (two views of {size} px each, batch {batchSize}, {workers} decode workers, {what}, torch threads {get_num_threads()}), " +
    $"{images} images in {seconds:F1} s; load before {loadBefore}, after {Load()}; CPU: ours {ours:F2} cores, foreign {foreign:F2} cores of {Environment.ProcessorCount}");
Console.WriteLine($"nasiam {path} RSS: {string.Join(" ", rss)}");
// The heaps at (up to) 8 of the RSS samples, evenly spread: managed (GC) heap, C heap in use / free held in glibc's arenas.
var picks = Enumerable.Range(0, Math.Min(8, heaps.Count)).Select(i => heaps.Count <= 8 ? i : i * (heaps.Count - 1) / 7).Distinct();
Console.WriteLine($"nasiam {path} heaps (MiB): {string.Join(" | ", picks.Select(i => $"{rss[i + 1].Split(':')[0]} {heaps[i]}"))}");
Console.WriteLine($"nasiam {path} phases: main thread per batch {augmentClock.Elapsed.TotalMilliseconds / batchCount:F0} ms " +
    $"({(path == "fused" ? "hand-over + sum" : "batched augmentation + sum")}); waiting for decoded batches {(seconds * 1000 - augmentClock.Elapsed.TotalMilliseconds) / batchCount:F0} ms");
return 0;

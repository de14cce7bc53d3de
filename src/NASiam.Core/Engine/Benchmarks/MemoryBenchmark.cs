using NASiam.Core.Engine.Optimization;
using NASiam.Core.Methods;
using NASiam.Core.Options;
using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Engine.Benchmarks;

/// <summary>What <see cref="MemoryBenchmark"/> runs.</summary>
public sealed record MemoryBenchmarkOptions
{
    public Framework Framework { get; init; } = Framework.MoCo;
    public string Backbone { get; init; } = "resnet18";
    public int BatchSize { get; init; } = 32;
    /// <summary>Search steps (architecture + weight step each).</summary>
    public int Steps { get; init; } = 1000;
    /// <summary>Steps between two points of the series.</summary>
    public int Every { get; init; } = 100;
    /// <summary>Torch threads (0 = all cores).</summary>
    public int Threads { get; init; }
    /// <summary>Steps between forced collections, GC + finalizers without a trim, as the engine's periodic one (<see cref="NativeMemory.CollectEvery"/>; 0 = never).</summary>
    public int CollectEvery { get; init; } = NativeMemory.CollectEvery;
    /// <summary>
    /// Inputs: 0 = random 32×32 tensors (the step alone); N > 0 = the built-in synthetic data set of N
    /// training images read batch by batch and sent through the framework's two-view SSL augmentation,
    /// as a search run feeds its steps (the data path included).
    /// </summary>
    public int SyntheticImages { get; init; }
}

/// <summary>
/// One point of the series, after step <paramref name="Step"/>: RSS now, the largest RSS seen after
/// any step since the previous point, the C heap in use and the free bytes its arenas hold (glibc
/// mallinfo2; NaN elsewhere), the managed (.NET) heap's committed bytes, and the forced, gen-0 and
/// gen-2 collections so far.
/// </summary>
public sealed record MemoryPoint(long Step, double RssMib, double WindowMaxRssMib, double HeapInUseMib, double HeapFreeMib,
    double ManagedCommittedMib, int ForcedCollections, int Gen0Collections, int Gen2Collections);

/// <summary>The series and its verdict: the change of RSS (and of the window maximum) from the first point to the last, in percent.</summary>
public sealed record MemoryBenchmarkResult(IReadOnlyList<MemoryPoint> Points, double RssChangePercent, double WindowMaxChangePercent);

/// <summary>
/// The memory check: a search (MoCo ResNet-18 at batch 32 by default) on random 32×32
/// inputs or on the synthetic data set through the SSL augmentation, as <see cref="TrainingBenchmark"/> steps it, printing RSS every <see cref="MemoryBenchmarkOptions.Every"/>
/// steps. RSS is read after each step and before that step's collection (if any), so a point never
/// profits from a trim that just ran; the window maximum covers every step in between.
/// </summary>
public static class MemoryBenchmark
{
    public static MemoryBenchmarkResult Run(MemoryBenchmarkOptions o, Action<MemoryPoint>? progress = null)
    {
        if (o.BatchSize < 2 || o.Steps < 1 || o.Every < 1 || o.CollectEvery < 0 || o.SyntheticImages < 0)
            throw new ArgumentException("Memory benchmark needs batch >= 2, steps >= 1, every >= 1, a collection interval >= 0 and synthetic images >= 0.");
        TorchRuntime.SetThreads(o.Threads);
        var run = TrainingBenchmark.Recipe(o.Framework, o.Backbone, o.BatchSize);
        using var model = Runs.ModelBuilder.Create(run, true, null, CPU, cifarStem: true, seed: 0);
        using var wopt = OptimizerFactory.CreateWeightOptimizer(Runs.ModelBuilder.Groups(model), WeightOptimizerSettings.ForSearch(run.Search));
        using var aopt = OptimizerFactory.CreateAlphaOptimizer(model.ArchParameters(), run.Search);
        using var g = new Generator(1);
        using var data = o.SyntheticImages > 0 ? Data.SyntheticShapes.Open(o.SyntheticImages) : null;
        var augmenter = data is null ? null : Runs.StageEnvironment.SslAugmenterFor(o.Framework, data, CPU);
        long next = 0;
        // Two views of the next batch: random tensors, or the data set's images through the SSL augmentation.
        (Tensor, Tensor) Views()
        {
            if (data is null) return (randn([o.BatchSize, 3, 32, 32], generator: g), randn([o.BatchSize, 3, 32, 32], generator: g));
            var indices = new long[o.BatchSize];
            for (int i = 0; i < indices.Length; i++) indices[i] = next++ % data.TrainCount;
            using var batch = data.ReadTrain(indices);
            return augmenter!.TwoViews(batch, g);
        }
        model.train();
        var points = new List<MemoryPoint>();
        double windowMax = 0;
        int forced = 0;
        for (long step = 1; step <= o.Steps; step++)
        {
            using (var scope = NewDisposeScope())
            {
                var (a1, a2) = Views();
                aopt.ZeroGrad();
                var archLoss = model.ComputeLossForBackward(a1, a2, StepKind.Architecture);
                archLoss.backward();
                aopt.Step();
                var (w1, w2) = Views();
                wopt.ZeroGrad();
                var loss = model.ComputeLossForBackward(w1, w2, StepKind.Weight);
                loss.backward();
                wopt.Step();
                loss.ItemSingle();
            }
            double rss = NativeMemory.ProcessStatusMib("VmRSS");
            windowMax = Math.Max(windowMax, rss);
            if (step % o.Every == 0)
            {
                var heap = NativeMemory.Heap();
                var point = new MemoryPoint(step, rss, windowMax, heap?.InUseMib ?? double.NaN, heap?.ArenaFreeMib ?? double.NaN,
                    GC.GetGCMemoryInfo().TotalCommittedBytes / 1048576.0, forced, GC.CollectionCount(0), GC.CollectionCount(2));
                points.Add(point);
                progress?.Invoke(point);
                windowMax = 0;
            }
            if (o.CollectEvery > 0 && step % o.CollectEvery == 0) { NativeMemory.Collect(); forced++; }
        }
        double Change(Func<MemoryPoint, double> f) => points.Count < 2 ? double.NaN : 100 * (f(points[^1]) - f(points[0])) / f(points[0]);
        return new MemoryBenchmarkResult(points, Change(p => p.RssMib), Change(p => p.WindowMaxRssMib));
    }
}

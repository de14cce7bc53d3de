using System.Diagnostics;
using NASiam.Core.Engine.Optimization;
using NASiam.Core.Methods;
using NASiam.Core.Options;
using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Engine.Benchmarks;

/// <summary>What <see cref="TrainingBenchmark"/> measures with.</summary>
public sealed record TrainingBenchmarkOptions
{
    public Framework Framework { get; init; } = Framework.SimSiam;
    public string Backbone { get; init; } = "resnet18";
    public int BatchSize { get; init; } = 32;
    public int Steps { get; init; } = 10;
    public int Warmup { get; init; } = 2;
    /// <summary>Torch threads (0 = all cores).</summary>
    public int Threads { get; init; }
    public string Device { get; init; } = "cpu";
    /// <summary>Head widths; null = the framework's reference recipe (SimSiam 2048/512).</summary>
    public HeadOptions? Heads { get; init; }
    /// <summary>Measure the search step too (architecture + weight step).</summary>
    public bool Search { get; init; } = true;
    /// <summary>Measure the plain pre-training step (baseline heads).</summary>
    public bool Pretrain { get; init; } = true;
    /// <summary>Keep the model builder's channels-last trunk on CPU (false = back to NCHW, for comparison).</summary>
    public bool ChannelsLast { get; init; } = true;
    /// <summary>Steps between forced GCs, outside the timed region (0 = never: shows whether native memory stays flat without them).</summary>
    public int CollectEvery { get; init; } = 1;
}

/// <summary>Median seconds of the phases of a weight step: forward (loss), backward, optimizer (zero_grad + step).</summary>
public sealed record StepPhases(double Forward, double Backward, double Optimizer);

/// <summary>Median timings in seconds, throughput and memory (MiB, from /proc/self/status).</summary>
public sealed record TrainingBenchmarkResult(
    double SearchStepSeconds, double ArchStepSeconds, double WeightStepSeconds, double PretrainStepSeconds,
    double ImagesPerSecond, double SearchImagesPerSecond, double PeakRssMib, double RssBeforeMib, double RssAfterMib, int Threads)
{
    /// <summary>Phases of the search weight step (null when search was not measured).</summary>
    public StepPhases? SearchWeightPhases { get; init; }
    /// <summary>Phases of the pre-training step (null when pre-training was not measured).</summary>
    public StepPhases? PretrainPhases { get; init; }
    /// <summary>Peak RSS (MiB) at the end of the search part; the pre-training part runs after it in the same process.</summary>
    public double SearchPeakRssMib { get; init; } = double.NaN;
    /// <summary>Median seconds of one forced GC + finalizer pass (the engine does one every <see cref="NativeMemory.CollectEvery"/> steps).</summary>
    public double CollectSeconds { get; init; } = double.NaN;
}

/// <summary>
/// The model-only benchmark of the issue: random 32×32 inputs (no data pipeline, no augmentation),
/// CIFAR-stem backbone, the reference optimizers. A search step is one architecture step (alpha
/// optimizer) followed by one weight step, on two different random batches; a pre-training step is
/// one weight step of the baseline heads. Each step runs in its own dispose scope.
/// </summary>
public static class TrainingBenchmark
{
    public static TrainingBenchmarkResult Run(TrainingBenchmarkOptions o, Action<string>? progress = null)
    {
        if (o.BatchSize < 2 || o.Steps < 1 || o.Warmup < 0) throw new ArgumentException("Benchmark needs batch >= 2, steps >= 1 and warmup >= 0.");
        int threads = TorchRuntime.SetThreads(o.Threads);
        var device = TorchRuntime.ResolveDevice(o.Device);
        var recipe = RunPresets.ForFramework(o.Framework);
        var run = recipe with
        {
            Backbone = o.Backbone,
            Heads = (o.Heads ?? recipe.Heads) with { QueueSize = Math.Max(2 * o.BatchSize, (o.Heads ?? recipe.Heads).QueueSize / (2 * o.BatchSize) * 2 * o.BatchSize) },
            Search = recipe.Search with { BatchSize = o.BatchSize },
            Pretrain = recipe.Pretrain with { BatchSize = o.BatchSize },
        };
        lock (CollectTimes) CollectTimes.Clear();
        double rssBefore = Rss("VmRSS");
        double search = double.NaN, arch = double.NaN, weight = double.NaN, pretrain = double.NaN, searchPeak = double.NaN;
        var searchPhases = new List<StepPhases>();
        var pretrainPhases = new List<StepPhases>();
        using var g = new Generator(1);
        Tensor Input() => randn([o.BatchSize, 3, 32, 32], generator: g).to(device);

        if (o.Search)
        {
            using var model = Runs.ModelBuilder.Create(run, true, null, device, cifarStem: true, seed: 0);
            using var wopt = OptimizerFactory.CreateWeightOptimizer(Runs.ModelBuilder.Groups(model), WeightOptimizerSettings.ForSearch(run.Search));
            using var aopt = OptimizerFactory.CreateAlphaOptimizer(model.ArchParameters(), run.Search);
            var archTimes = new List<double>();
            var weightTimes = new List<double>();
            if (!o.ChannelsLast) RestoreNchw(model);
            model.train();
            for (int i = 0; i < o.Warmup + o.Steps; i++)
            {
                using var scope = NewDisposeScope();
                var (a1, a2, w1, w2) = (Input(), Input(), Input(), Input());
                var clock = Stopwatch.StartNew();
                aopt.ZeroGrad();
                var archLoss = model.ComputeLossForBackward(a1, a2, StepKind.Architecture);
                archLoss.backward();
                aopt.Step();
                archLoss.item<float>();
                var archSeconds = clock.Elapsed.TotalSeconds;
                clock.Restart();
                var phases = TimedWeightStep(model, wopt, w1, w2);
                var weightSeconds = clock.Elapsed.TotalSeconds;
                MaybeCollect(o, i);
                if (i >= o.Warmup) { archTimes.Add(archSeconds); weightTimes.Add(weightSeconds); searchPhases.Add(phases); }
                progress?.Invoke($"search step {i + 1}/{o.Warmup + o.Steps}: {archSeconds + weightSeconds:0.000}s{Diagnostics()}");
            }
            arch = Median(archTimes);
            weight = Median(weightTimes);
            search = Median(archTimes.Zip(weightTimes, (x, y) => x + y).ToList());
            searchPeak = Rss("VmHWM");
        }
        if (o.Pretrain)
        {
            using var model = Runs.ModelBuilder.Create(run, false, null, device, cifarStem: true, seed: 0);
            using var opt = OptimizerFactory.CreateWeightOptimizer(Runs.ModelBuilder.Groups(model), WeightOptimizerSettings.ForPretrain(run.Pretrain));
            var times = new List<double>();
            if (!o.ChannelsLast) RestoreNchw(model);
            model.train();
            for (int i = 0; i < o.Warmup + o.Steps; i++)
            {
                using var scope = NewDisposeScope();
                var (x1, x2) = (Input(), Input());
                var clock = Stopwatch.StartNew();
                var phases = TimedWeightStep(model, opt, x1, x2);
                var seconds = clock.Elapsed.TotalSeconds;
                MaybeCollect(o, i);
                if (i >= o.Warmup) { times.Add(seconds); pretrainPhases.Add(phases); }
                progress?.Invoke($"pretrain step {i + 1}/{o.Warmup + o.Steps}: {seconds:0.000}s{Diagnostics()}");
            }
            pretrain = Median(times);
        }
        return new TrainingBenchmarkResult(search, arch, weight, pretrain,
            o.BatchSize / pretrain, o.BatchSize / search, Rss("VmHWM"), rssBefore, Rss("VmRSS"), threads)
        {
            SearchWeightPhases = MedianPhases(searchPhases),
            PretrainPhases = MedianPhases(pretrainPhases),
            SearchPeakRssMib = searchPeak,
            CollectSeconds = MedianCollectSeconds(),
        };
    }

    /// <summary>One weight step, timing its phases; the loss is read back so the step has completed.</summary>
    static StepPhases TimedWeightStep(SiameseModel model, ScheduledOptimizer optimizer, Tensor x1, Tensor x2)
    {
        var clock = Stopwatch.StartNew();
        optimizer.ZeroGrad();
        var loss = model.ComputeLossForBackward(x1, x2, StepKind.Weight);
        var forward = clock.Elapsed.TotalSeconds;
        loss.backward();
        var backward = clock.Elapsed.TotalSeconds - forward;
        optimizer.Step();
        loss.item<float>();
        return new StepPhases(forward, backward, clock.Elapsed.TotalSeconds - forward - backward);
    }

    /// <summary>Undoes the builder's channels-last layout (for comparison runs).</summary>
    static void RestoreNchw(SiameseModel model)
    {
        foreach (var trunk in model.modules().OfType<Backbones.ResNet>()) trunk.UseNchw();
    }

    /// <summary>RSS and TorchSharp's wrapper counts: tensors created outside any dispose scope are left to finalizers.</summary>
    static string Diagnostics()
    {
        var st = DisposeScopeManager.Statistics;
        return FormattableString.Invariant($"  RSS {Rss("VmRSS"):0} MiB, tensors live {st.ThreadTotalLiveCount}, created outside scopes {st.CreatedOutsideScopeCount}");
    }

    static readonly List<double> CollectTimes = [];

    static void MaybeCollect(TrainingBenchmarkOptions o, int step)
    {
        if (o.CollectEvery <= 0 || (step + 1) % o.CollectEvery != 0) return;
        var clock = Stopwatch.StartNew();
        NativeMemory.Collect(); // outside the timed region, but timed itself
        lock (CollectTimes) CollectTimes.Add(clock.Elapsed.TotalSeconds);
    }

    /// <summary>Median seconds of one forced collection in the last benchmark (NaN when none ran).</summary>
    static double MedianCollectSeconds()
    {
        lock (CollectTimes) return Median(CollectTimes);
    }

    static StepPhases? MedianPhases(List<StepPhases> phases) => phases.Count == 0 ? null :
        new StepPhases(Median(phases.Select(p => p.Forward).ToList()), Median(phases.Select(p => p.Backward).ToList()),
            Median(phases.Select(p => p.Optimizer).ToList()));

    static double Median(List<double> values)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>A /proc/self/status field in MiB (VmRSS current, VmHWM peak); NaN where unavailable.</summary>
    public static double Rss(string field)
    {
        try
        {
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith(field + ":", StringComparison.Ordinal));
            if (line is null) return double.NaN;
            var kb = long.Parse(line.Split(':', StringSplitOptions.TrimEntries)[1].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
            return kb / 1024.0;
        }
        catch (IOException) { return double.NaN; }
    }
}

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
    /// <summary>
    /// Measure the trunk alone: the backbone's forward and backward on both views, as a pre-training
    /// step runs them, without heads, loss or optimizer. No step that trains this backbone on these
    /// inputs can be faster, whoever implements it with the same kernels: the floor of the others.
    /// </summary>
    public bool Trunk { get; init; } = true;
    /// <summary>
    /// True: keep the model builder's trunk setting (on CPU the kernel self-check's choice, see
    /// <see cref="Numerics.KernelSelfCheck"/>). False: force the NCHW layout, with the strided-1x1
    /// workaround when the self-check found plain NCHW wrong or crashing on this host (a
    /// <see cref="Numerics.KernelCheckException"/> when no NCHW setting is correct).
    /// </summary>
    public bool ChannelsLast { get; init; } = true;
    /// <summary>Force this exact CPU setting, unchecked (comparison runs; a wrong setting gives wrong timings of wrong numbers, a crashing one kills the process). Null = as <see cref="ChannelsLast"/> says.</summary>
    public Numerics.KernelSetting? Setting { get; init; }
    /// <summary>Steps between forced collections (GC + finalizers, as the engine's periodic one), outside the timed region (default: the engine's <see cref="NativeMemory.CollectEvery"/>; 0 = never).</summary>
    public int CollectEvery { get; init; } = NativeMemory.CollectEvery;
    /// <summary>Backbone precision of the training steps (bf16 = autocast, heads fp32).</summary>
    public BackbonePrecision BackbonePrecision { get; init; } = BackbonePrecision.Fp32;
    /// <summary>Heads once on both views (the engine's default, <see cref="Methods.SiameseModel.ViewBatchedHeads"/>); false = once per view, for A/B runs.</summary>
    public bool ViewBatchedHeads { get; init; } = true;
}

/// <summary>
/// Median seconds of the phases of a weight step: forward (loss), backward, optimizer (zero_grad + step),
/// and data: making the step's random input batches (the benchmark has no data pipeline; `nasiam bench data` times augmentation).
/// </summary>
public sealed record StepPhases(double Forward, double Backward, double Optimizer)
{
    /// <summary>Seconds spent making the step's inputs.</summary>
    public double Data { get; init; }
    /// <summary>Process CPU seconds (all threads) of the step (forward + backward + optimizer): on a shared host less disturbed than wall time.</summary>
    public double Cpu { get; init; } = double.NaN;
    /// <summary>Minor page faults during the step (memory the kernel had to map and zero again).</summary>
    public double MinorFaults { get; init; } = double.NaN;
}

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
    /// <summary>The host the figures were measured on (CPU model, ISA flags, threads, library versions).</summary>
    public Numerics.HostInfo? Host { get; init; }
    /// <summary>Median seconds of the trunk alone (see <see cref="TrainingBenchmarkOptions.Trunk"/>); NaN when not measured.</summary>
    public double TrunkStepSeconds { get; init; } = double.NaN;
    /// <summary>Median seconds of both views' trunk forward without autograd (an architecture step's trunk); NaN when not measured.</summary>
    public double TrunkForwardSeconds { get; init; } = double.NaN;
    /// <summary>Trunk forwards without autograd (of both views) in one search step besides the weight step's forward + backward: see <see cref="TrainingBenchmark.TrunkForwardsPerSearchStep"/>.</summary>
    public int TrunkForwardsPerSearchStep { get; init; } = 1;
    /// <summary>
    /// The search step's floor with these kernels: the weight step's trunk forward + backward
    /// (<see cref="TrunkStepSeconds"/>) plus the trunk forwards without autograd the step also needs
    /// (<see cref="TrunkForwardSeconds"/> × <see cref="TrunkForwardsPerSearchStep"/>). The reference's
    /// search step divided by this is the largest ratio any search step of ours could reach here.
    /// </summary>
    public double SearchFloorSeconds => TrunkStepSeconds + TrunkForwardSeconds * TrunkForwardsPerSearchStep;
    /// <summary>
    /// Convolution GFLOP of one trunk step (2 FLOP per multiply-accumulate; both views; forward, grad-input
    /// except the stem's, grad-weight: see <see cref="Numerics.BackboneConvShapes.Macs"/>). Divided by
    /// <see cref="TrunkStepSeconds"/> it is the rate the convolutions reach on this host.
    /// </summary>
    public double TrunkGflop { get; init; } = double.NaN;
    /// <summary>
    /// Median rate (GFLOP/s) of a square fp32 matrix product of side <see cref="TrainingBenchmark.GemmSide"/>
    /// on the run's device and threads: what this host's multiply-add units reach on the easiest dense
    /// work, one product after each trunk iteration, so that both see the host at the same moments. <see cref="TrunkGflop"/> / <see cref="TrunkStepSeconds"/> against it
    /// says how close the convolutions are to the host's ceiling, and so how much faster any fp32 step
    /// can get here, ours or the reference's. NaN when the trunk was not measured.
    /// </summary>
    public double GemmGflopPerSecond { get; init; } = double.NaN;
    /// <summary>The convolution setting the trunks ran with ("nchw", "channels-last+s1x1", ...; see <see cref="Numerics.KernelSetting.Name"/>).</summary>
    public string ConvSetting { get; init; } = "";
    /// <summary>What the thread governor changed during the benchmark (one line each, as a run logs them); empty when nothing changed.</summary>
    public IReadOnlyList<string> ThreadChanges { get; init; } = [];
}

/// <summary>
/// The model-only benchmark of the issue: random 32×32 inputs (no data pipeline, no augmentation),
/// CIFAR-stem backbone, the reference optimizers. A search step is one architecture step (alpha
/// optimizer) followed by one weight step, on two different random batches; a pre-training step is
/// one weight step of the baseline heads. Each step runs in its own dispose scope.
/// </summary>
public static class TrainingBenchmark
{
    /// <summary>Side of the random square input images (CIFAR's 32 pixels), for the steps and the trunk's FLOP count alike.</summary>
    const int ImageSize = 32;

    public static TrainingBenchmarkResult Run(TrainingBenchmarkOptions o, Action<string>? progress = null)
    {
        if (o.BatchSize < 2 || o.Steps < 1 || o.Warmup < 0) throw new ArgumentException("Benchmark needs batch >= 2, steps >= 1 and warmup >= 0.");
        int threads = TorchRuntime.SetThreads(o.Threads);
        var device = TorchRuntime.ResolveDevice(o.Device);
        // As a run: the thread governor ticks after each step (outside the timings), so a loaded host is measured as a run would meet it.
        var threadChanges = new List<string>();
        var governor = device.type == DeviceType.CPU ? CpuThreadGovernor.ForRun(threads) : null;
        void Govern()
        {
            if (governor?.AfterStep() is not { } change) return;
            threadChanges.Add(change);
            progress?.Invoke(change);
        }
        var run = Recipe(o.Framework, o.Backbone, o.BatchSize, o.Heads) with { BackbonePrecision = o.BackbonePrecision };
        lock (CollectTimes) CollectTimes.Clear();
        double rssBefore = NativeMemory.ProcessStatusMib("VmRSS");
        double search = double.NaN, arch = double.NaN, weight = double.NaN, pretrain = double.NaN, searchPeak = double.NaN;
        var searchPhases = new List<StepPhases>();
        var pretrainPhases = new List<StepPhases>();
        string convSetting = "";
        using var g = new Generator(1);
        Tensor Input() => randn([o.BatchSize, 3, ImageSize, ImageSize], generator: g).to(device);

        if (o.Search)
        {
            using var model = Runs.ModelBuilder.Create(run, true, null, device, cifarStem: true, seed: 0);
            using var wopt = OptimizerFactory.CreateWeightOptimizer(Runs.ModelBuilder.Groups(model), WeightOptimizerSettings.ForSearch(run.Search));
            using var aopt = OptimizerFactory.CreateAlphaOptimizer(model.ArchParameters(), run.Search);
            var archTimes = new List<double>();
            var weightTimes = new List<double>();
            convSetting = ApplySetting(o, model, device);
            model.ViewBatchedHeads = o.ViewBatchedHeads;
            model.train();
            for (int i = 0; i < o.Warmup + o.Steps; i++)
            {
                using var scope = NewDisposeScope();
                var dataClock = Stopwatch.StartNew();
                var (a1, a2, w1, w2) = (Input(), Input(), Input(), Input());
                var dataSeconds = dataClock.Elapsed.TotalSeconds;
                var clock = Stopwatch.StartNew();
                aopt.ZeroGrad();
                var archLoss = model.ComputeLossForBackward(a1, a2, StepKind.Architecture);
                archLoss.backward();
                aopt.Step();
                archLoss.ItemSingle();
                var archSeconds = clock.Elapsed.TotalSeconds;
                clock.Restart();
                var phases = TimedWeightStep(model, wopt, w1, w2) with { Data = dataSeconds };
                var weightSeconds = clock.Elapsed.TotalSeconds;
                MaybeCollect(o, i);
                Govern();
                if (i >= o.Warmup) { archTimes.Add(archSeconds); weightTimes.Add(weightSeconds); searchPhases.Add(phases); }
                progress?.Invoke($"search step {i + 1}/{o.Warmup + o.Steps}: {archSeconds + weightSeconds:0.000}s{Diagnostics()}");
            }
            arch = Median(archTimes);
            weight = Median(weightTimes);
            search = Median(archTimes.Zip(weightTimes, (x, y) => x + y).ToList());
            searchPeak = NativeMemory.ProcessStatusMib("VmHWM");
        }
        if (o.Pretrain)
        {
            using var model = Runs.ModelBuilder.Create(run, false, null, device, cifarStem: true, seed: 0);
            using var opt = OptimizerFactory.CreateWeightOptimizer(Runs.ModelBuilder.Groups(model), WeightOptimizerSettings.ForPretrain(run.Pretrain));
            var times = new List<double>();
            convSetting = ApplySetting(o, model, device);
            model.ViewBatchedHeads = o.ViewBatchedHeads;
            model.train();
            for (int i = 0; i < o.Warmup + o.Steps; i++)
            {
                using var scope = NewDisposeScope();
                var dataClock = Stopwatch.StartNew();
                var (x1, x2) = (Input(), Input());
                var dataSeconds = dataClock.Elapsed.TotalSeconds;
                var clock = Stopwatch.StartNew();
                var phases = TimedWeightStep(model, opt, x1, x2) with { Data = dataSeconds };
                var seconds = clock.Elapsed.TotalSeconds;
                MaybeCollect(o, i);
                Govern();
                if (i >= o.Warmup) { times.Add(seconds); pretrainPhases.Add(phases); }
                progress?.Invoke($"pretrain step {i + 1}/{o.Warmup + o.Steps}: {seconds:0.000}s{Diagnostics()}");
            }
            pretrain = Median(times);
        }
        double trunk = double.NaN, trunkForward = double.NaN, gemmRate = double.NaN;
        if (o.Trunk)
        {
            using var model = Runs.ModelBuilder.Create(run, false, null, device, cifarStem: true, seed: 0);
            convSetting = ApplySetting(o, model, device);
            model.train();
            var weights = model.Backbone.parameters().ToArray();
            List<double> times = [], forwardTimes = [], gemmTimes = [];
            // The ceiling's product runs in the same iterations as the trunk, so both see the host as it is then
            // (its speed moved by a third within an hour on a shared host).
            using var gemm = new GemmProbe(device);
            for (int i = 0; i < o.Warmup + o.Steps; i++)
            {
                using var scope = NewDisposeScope();
                var (x1, x2) = (Input(), Input());
                Optimization.InPlace.ZeroGradients(weights);
                var clock = Stopwatch.StartNew();
                // Each part in its own scope: the forward + backward's activation handles are released
                // before the forward starts, as the engine's steps release theirs (ComputeLossForBackward).
                using (NewDisposeScope())
                {
                    Tensor loss;
                    using (Backbones.Autocast.For(o.BackbonePrecision, device))
                    {
                        // Any scalar of the features will do: the trunk's backward costs the same whatever gradient arrives.
                        var (f1, f2) = (model.Backbone.call(x1).to(ScalarType.Float32), model.Backbone.call(x2).to(ScalarType.Float32));
                        loss = f1.mul(f1).sum().add(f2.mul(f2).sum(), Scalars.One);
                    }
                    loss.backward();
                    loss.ItemSingle();
                }
                var seconds = clock.Elapsed.TotalSeconds;

                // The same views forward only, without autograd, as an architecture step runs the trunk
                // (SiameseModel.ArchitectureStepWithoutBackboneGraph): the search step's other floor.
                clock.Restart();
                using (NewDisposeScope())
                using (no_grad())
                using (Backbones.Autocast.For(o.BackbonePrecision, device))
                    // Summed in fp32: under bf16 autocast the trunk's output is bf16 (item<float> refuses it).
                    model.Backbone.call(x1).sum(ScalarType.Float32).add(model.Backbone.call(x2).sum(ScalarType.Float32), Scalars.One).ItemSingle();
                var forward = clock.Elapsed.TotalSeconds;
                var product = gemm.Time();
                MaybeCollect(o, i);
                Govern();
                if (i >= o.Warmup) { times.Add(seconds); forwardTimes.Add(forward); gemmTimes.Add(product); }
                progress?.Invoke($"trunk step {i + 1}/{o.Warmup + o.Steps}: {seconds:0.000}s, forward without autograd {forward:0.000}s{Diagnostics()}");
            }
            trunk = Median(times);
            trunkForward = Median(forwardTimes);
            gemmRate = GemmProbe.Gflop / Median(gemmTimes);
        }
        return new TrainingBenchmarkResult(search, arch, weight, pretrain,
            o.BatchSize / pretrain, o.BatchSize / search, NativeMemory.ProcessStatusMib("VmHWM"), rssBefore, NativeMemory.ProcessStatusMib("VmRSS"), threads)
        {
            SearchWeightPhases = MedianPhases(searchPhases),
            PretrainPhases = MedianPhases(pretrainPhases),
            SearchPeakRssMib = searchPeak,
            CollectSeconds = MedianCollectSeconds(),
            ConvSetting = convSetting,
            ThreadChanges = threadChanges,
            TrunkStepSeconds = trunk,
            TrunkForwardSeconds = trunkForward,
            TrunkForwardsPerSearchStep = TrunkForwardsPerSearchStep(o.Framework),
            TrunkGflop = o.Trunk ? TrunkGflop(o.Backbone, o.BatchSize) : double.NaN,
            GemmGflopPerSecond = gemmRate,
            Host = Numerics.HostInfo.Current(),
        };
    }

    /// <summary>
    /// The benchmarks' run options: the framework's CIFAR recipe with <paramref name="backbone"/>,
    /// <paramref name="batchSize"/> for search and pre-training, and the MoCo queue rounded to a multiple
    /// of the two views' keys per step (2·batch), at least one step's worth.
    /// </summary>
    internal static RunOptions Recipe(Framework framework, string backbone, int batchSize, HeadOptions? heads = null)
    {
        var recipe = RunPresets.ForFramework(framework);
        var h = heads ?? recipe.Heads;
        return recipe with
        {
            Backbone = backbone,
            Heads = h with { QueueSize = Math.Max(2 * batchSize, h.QueueSize / (2 * batchSize) * 2 * batchSize) },
            Search = recipe.Search with { BatchSize = batchSize },
            Pretrain = recipe.Pretrain with { BatchSize = batchSize },
        };
    }

    /// <summary>
    /// Trunk forwards of both views without autograd in one search step, besides the weight step's
    /// trunk forward + backward: the architecture step's (method doc 5.4, without the backbone graph);
    /// MoCo adds the key encoder's, one in each of the two steps (4.2), so 3.
    /// </summary>
    public static int TrunkForwardsPerSearchStep(Framework framework) => framework == Framework.MoCo ? 3 : 1;

    /// <summary>Convolution GFLOP of one trunk step on two views of <paramref name="batchSize"/> benchmark images (see <see cref="TrainingBenchmarkResult.TrunkGflop"/>).</summary>
    public static double TrunkGflop(string backbone, int batchSize)
    {
        var (total, stem) = Numerics.BackboneConvShapes.Macs(backbone, cifarStem: true, ImageSize);
        // forward + grad-weight of every convolution + grad-input of all but the stem; 2 FLOP per MAC; 2 views.
        return 2.0 * 2 * batchSize * (3.0 * total - stem) / 1e9;
    }

    /// <summary>Side of the square matrices of <see cref="TrainingBenchmarkResult.GemmGflopPerSecond"/>: large enough that the product runs at the kernel's full rate (2·1536³ = 7.2 GFLOP).</summary>
    public const int GemmSide = 1536;

    /// <summary>One fp32 product [GemmSide, GemmSide] × [GemmSide, GemmSide] on a device, timed and read back (see <see cref="TrainingBenchmarkResult.GemmGflopPerSecond"/>).</summary>
    sealed class GemmProbe : IDisposable
    {
        /// <summary>GFLOP of one product (2·side³).</summary>
        public const double Gflop = 2.0 * GemmSide * GemmSide * GemmSide / 1e9;
        readonly Tensor _a, _b;

        public GemmProbe(Device device)
        {
            using var g = new Generator(2);
            _a = randn([GemmSide, GemmSide], generator: g).to(device);
            _b = randn([GemmSide, GemmSide], generator: g).to(device);
            Time(); // the first product allocates and warms the kernel
        }

        /// <summary>Seconds of one product, read back so that it has completed on any device.</summary>
        public double Time()
        {
            var clock = Stopwatch.StartNew();
            using (var c = _a.mm(_b))
            using (var first = c[0, 0])
                first.ItemSingle();
            return clock.Elapsed.TotalSeconds;
        }

        public void Dispose()
        {
            _a.Dispose();
            _b.Dispose();
        }
    }

    /// <summary>One weight step, timing its phases; the loss is read back so the step has completed.</summary>
    static StepPhases TimedWeightStep(SiameseModel model, ScheduledOptimizer optimizer, Tensor x1, Tensor x2)
    {
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        long faults0 = NativeMemory.MinorFaults();
        var clock = Stopwatch.StartNew();
        optimizer.ZeroGrad();
        var loss = model.ComputeLossForBackward(x1, x2, StepKind.Weight);
        var forward = clock.Elapsed.TotalSeconds;
        loss.backward();
        var backward = clock.Elapsed.TotalSeconds - forward;
        optimizer.Step();
        loss.ItemSingle();
        var wall = clock.Elapsed.TotalSeconds;
        return new StepPhases(forward, backward, wall - forward - backward) { Cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds, MinorFaults = NativeMemory.MinorFaults() - faults0 };
    }

    /// <summary>Applies a forced setting (see <see cref="TrainingBenchmarkOptions.ChannelsLast"/> and <see cref="TrainingBenchmarkOptions.Setting"/>); returns the setting the trunks run with.</summary>
    static string ApplySetting(TrainingBenchmarkOptions o, SiameseModel model, Device device)
    {
        var trunks = model.modules().OfType<Backbones.ResNet>().ToList();
        Numerics.KernelSetting? forced = o.Setting;
        if (forced is null && !o.ChannelsLast)
        {
            if (device.type == DeviceType.CPU)
            {
                // NCHW forced: the fastest NCHW candidate the self-check found correct on this host.
                var report = Numerics.KernelSelfCheck.Run(new Numerics.KernelCheckOptions { Backbone = o.Backbone, CifarStem = true });
                var nchw = report.Candidates.Where(c => c.Status == Numerics.CandidateStatus.Correct && c.Setting.Layout == Numerics.ConvLayout.Nchw)
                    .OrderBy(c => c.PassSeconds ?? double.MaxValue).FirstOrDefault()
                    ?? throw new Numerics.KernelCheckException($"NCHW was forced, but no NCHW setting computes {report.Subject} correctly on this CPU: " +
                        string.Join("; ", report.Candidates.Select(c => $"{c.Setting.Name} {c.Status.ToString().ToLowerInvariant()}: {c.Detail}")));
                forced = nchw.Setting;
            }
            else
            {
                forced = new Numerics.KernelSetting(Numerics.ConvLayout.Nchw, false);
            }
        }
        if (forced is not null) foreach (var t in trunks) forced.ApplyTo(t);
        var t0 = trunks.FirstOrDefault();
        return t0 is null ? "" : new Numerics.KernelSetting(t0.IsChannelsLast ? Numerics.ConvLayout.ChannelsLast : Numerics.ConvLayout.Nchw, t0.UsesStrided1x1Workaround).Name;
    }

    /// <summary>RSS and TorchSharp's wrapper counts: tensors created outside any dispose scope are left to finalizers.</summary>
    static string Diagnostics()
    {
        var st = DisposeScopeManager.Statistics;
        return FormattableString.Invariant($"  RSS {NativeMemory.ProcessStatusMib("VmRSS"):0} MiB, tensors live {st.ThreadTotalLiveCount}, created outside scopes {st.CreatedOutsideScopeCount}");
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
            Median(phases.Select(p => p.Optimizer).ToList())) { Data = Median(phases.Select(p => p.Data).ToList()), Cpu = Median(phases.Select(p => p.Cpu).ToList()), MinorFaults = Median(phases.Select(p => p.MinorFaults).ToList()) };

    static double Median(List<double> values)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}

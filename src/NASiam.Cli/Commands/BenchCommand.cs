using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using NASiam.Core;
using NASiam.Core.Data.Augmentation;
using NASiam.Core.Engine;
using NASiam.Core.Engine.Benchmarks;
using NASiam.Core.Options;

namespace NASiam.Cli.Commands;

/// <summary><c>nasiam bench</c>: model step timings on random inputs; <c>nasiam bench data</c>: augmentation throughput.</summary>
public static class BenchCommand
{
    /// <summary>The bench verb and its data sub-command.</summary>
    public static Command Create(CliContext context)
    {
        Option<int> Batch(int fallback) => new("--batch-size") { HelpName = "N", Description = $"Images per step (default {fallback}).", DefaultValueFactory = _ => fallback };
        Option<int> Steps() => new("--steps") { HelpName = "S", Description = "Measured steps (default 10).", DefaultValueFactory = _ => 10 };
        Option<int> Warmup() => new("--warmup") { HelpName = "W", Description = "Warm-up steps, not measured (default 2).", DefaultValueFactory = _ => 2 };
        Option<int> Threads() => new("--threads") { HelpName = "T", Description = "Torch CPU threads (default 0: all cores)." };
        Option<string> Device() => new("--device") { HelpName = "auto|cpu|cuda[:N]", Description = "Device (default cpu).", DefaultValueFactory = _ => "cpu" };
        Option<bool> Json() => new("--json") { Description = "Print one JSON line (search_step_s, pretrain_step_s, images_per_s, peak_rss_mib, ...)." };

        var (batch, steps, warmup, threads, device, json) = (Batch(32), Steps(), Warmup(), Threads(), Device(), Json());
        var framework = new Option<string>("--framework") { HelpName = string.Join("|", EnumNames.All<Framework>()), Description = "Framework (default simsiam)." };
        var backbone = new Option<string>("--backbone") { HelpName = string.Join("|", RunOptionsValidator.Backbones), Description = "Backbone (default resnet18).", DefaultValueFactory = _ => "resnet18" };
        var dim = new Option<int?>("--dim") { HelpName = "N", Description = "Projector output width (default: the framework's)." };
        var predDim = new Option<int?>("--pred-dim") { HelpName = "N", Description = "Predictor hidden width (default: the framework's)." };
        var only = new Option<string>("--only") { HelpName = "search|pretrain|trunk", Description = "Measure one part only (peak RSS of that part alone); trunk = the backbone's forward + backward on both views alone, the floor of any pre-training step, and its forward without autograd (with it, the search step's floor)." };
        only.AcceptOnlyFromAmong("search", "pretrain", "trunk");
        var gcEvery = new Option<int>("--gc-every") { HelpName = "N", Description = $"Force a GC every N steps outside the timings (default {NativeMemory.CollectEvery}, as the engine; 0 = never).", DefaultValueFactory = _ => NativeMemory.CollectEvery };
        var noChannelsLast = new Option<bool>("--no-channels-last") { Description = "Keep NCHW instead of channels-last." };
        var convSetting = new Option<string>("--conv-setting")
        {
            HelpName = string.Join("|", NASiam.Core.Engine.Numerics.KernelSetting.All.Select(k => k.Name)),
            Description = "Force this CPU convolution setting, unchecked (A/B runs; default: the kernel self-check's choice for this host).",
        };
        convSetting.AcceptOnlyFromAmong([.. NASiam.Core.Engine.Numerics.KernelSetting.All.Select(k => k.Name)]);
        var precision = new Option<string>("--backbone-precision") { HelpName = string.Join("|", EnumNames.All<BackbonePrecision>()), Description = "Backbone precision in the steps (default fp32; bf16 = autocast, heads fp32).", DefaultValueFactory = _ => "fp32" };
        precision.AcceptOnlyFromAmong([.. EnumNames.All<BackbonePrecision>()]);
        var perViewHeads = new Option<bool>("--per-view-heads") { Description = "Run the heads once per view instead of once on both views stacked (the default), for A/B runs; MoCo is always per view." };
        var command = new Command("bench",
            "Benchmark search/pre-training steps on random 32x32 inputs (no data pipeline): median seconds per search step " +
            "(architecture + weight step) and per pre-training step, images/s and peak RSS.")
        { framework, backbone, batch, steps, warmup, threads, device, dim, predDim, only, gcEvery, noChannelsLast, convSetting, precision, perViewHeads, json };
        command.SetAction(p =>
        {
            Check(p.GetValue(batch), p.GetValue(steps), p.GetValue(warmup), p.GetValue(threads));
            AtLeast(p.GetValue(gcEvery), 0, "--gc-every");
            var fw = p.GetValue(framework) is { } f ? FrameworkNames.Parse(f) : Framework.SimSiam;
            var heads = RunPresets.ForFramework(fw).Heads;
            if (p.GetValue(dim) is { } d) heads = heads with { Dim = d };
            if (p.GetValue(predDim) is { } pd) heads = heads with { PredDim = pd };
            return Model(context, fw, p.GetValue(backbone)!, heads, p.GetValue(batch), p.GetValue(steps), p.GetValue(warmup), p.GetValue(threads),
                p.GetValue(device)!, p.GetValue(only), p.GetValue(gcEvery), !p.GetValue(noChannelsLast), p.GetValue(json),
                EnumNames.Parse<BackbonePrecision>(p.GetValue(precision)!),
                p.GetValue(convSetting) is { } cs ? NASiam.Core.Engine.Numerics.KernelSetting.Parse(cs) : null, !p.GetValue(perViewHeads));
        });

        var (dBatch, dSteps, dWarmup, dThreads, dDevice, dJson) = (Batch(256), Steps(), Warmup(), Threads(), Device(), Json());
        var data = new Command("data", "Two-view augmentation throughput per recipe, next to one ResNet-18 pre-training step.")
        { dBatch, dSteps, dWarmup, dThreads, dDevice, dJson };
        data.SetAction(p =>
        {
            Check(p.GetValue(dBatch), p.GetValue(dSteps), p.GetValue(dWarmup), p.GetValue(dThreads));
            return Data(context, p.GetValue(dBatch), p.GetValue(dSteps), p.GetValue(dWarmup), p.GetValue(dThreads), p.GetValue(dDevice)!, p.GetValue(dJson));
        });
        command.Add(data);

        var (mBatch, mThreads, mJson) = (Batch(32), Threads(), Json());
        var mSteps = new Option<int>("--steps") { HelpName = "S", Description = "Search steps (default 1000).", DefaultValueFactory = _ => 1000 };
        var mEvery = new Option<int>("--every") { HelpName = "N", Description = "Print RSS every N steps (default 100).", DefaultValueFactory = _ => 100 };
        var mFramework = new Option<string>("--framework") { HelpName = string.Join("|", EnumNames.All<Framework>()), Description = "Framework (default moco)." };
        var mBackbone = new Option<string>("--backbone") { HelpName = string.Join("|", RunOptionsValidator.Backbones), Description = "Backbone (default resnet18).", DefaultValueFactory = _ => "resnet18" };
        var mGc = new Option<int>("--gc-every") { HelpName = "N", Description = $"Force a GC every N steps (default {NativeMemory.CollectEvery}, as the engine; 0 = never).", DefaultValueFactory = _ => NativeMemory.CollectEvery };
        var mSynthetic = new Option<int>("--synthetic") { HelpName = "N", Description = "Feed the steps from the built-in synthetic data set of N training images through the framework's SSL augmentation, as a search run does (default 0: random inputs, the step alone)." };
        var memory = new Command("memory",
            "RSS series of a search on random 32x32 inputs or, with --synthetic, on the synthetic data set through the SSL augmentation (default MoCo ResNet-18, batch 32, 1000 steps, a point every 100): " +
            "RSS after the step, the largest RSS since the previous point, the C heap in use and the free bytes it holds, and the change from the first point to the last.")
        { mFramework, mBackbone, mBatch, mSteps, mEvery, mThreads, mGc, mSynthetic, mJson };
        memory.SetAction(p =>
        {
            Check(p.GetValue(mBatch), p.GetValue(mSteps), 0, p.GetValue(mThreads));
            AtLeast(p.GetValue(mEvery), 1, "--every"); AtLeast(p.GetValue(mGc), 0, "--gc-every"); AtLeast(p.GetValue(mSynthetic), 0, "--synthetic");
            var fw = p.GetValue(mFramework) is { } f ? FrameworkNames.Parse(f) : Framework.MoCo;
            return Memory(context, new MemoryBenchmarkOptions
            {
                Framework = fw, Backbone = p.GetValue(mBackbone)!, BatchSize = p.GetValue(mBatch), Steps = p.GetValue(mSteps),
                Every = p.GetValue(mEvery), Threads = p.GetValue(mThreads), CollectEvery = p.GetValue(mGc), SyntheticImages = p.GetValue(mSynthetic),
            }, p.GetValue(mJson));
        });
        command.Add(memory);

        var (hBatch, hThreads, hJson) = (Batch(32), Threads(), Json());
        var hSteps = new Option<int>("--steps") { HelpName = "S", Description = "Measured steps per variant (default 30).", DefaultValueFactory = _ => 30 };
        var hWarmup = new Option<int>("--warmup") { HelpName = "W", Description = "Warm-up steps, not measured (default 5).", DefaultValueFactory = _ => 5 };
        var hVariants = new Option<string>("--variants") { HelpName = string.Join(",", HeadsVariants.Keys), Description = $"Head implementations to compare, measured alternately (default {string.Join(",", HeadsVariants.Keys)}).", DefaultValueFactory = _ => string.Join(",", HeadsVariants.Keys) };
        var heads = new Command("heads",
            "The SimSiam ResNet-18 search heads alone (projector cell 512x6, fc + BN, predictor cell 2048/512x4, SGD) on random features: " +
            "median forward, backward and optimizer seconds per variant, measured alternately in one process. Compare with bench/engine/heads_ref.py (PyTorch).")
        { hBatch, hSteps, hWarmup, hThreads, hVariants, hJson };
        heads.SetAction(p =>
        {
            Check(p.GetValue(hBatch), p.GetValue(hSteps), p.GetValue(hWarmup), p.GetValue(hThreads));
            var names = p.GetValue(hVariants)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var unknown = names.Where(n => !HeadsVariants.ContainsKey(n)).ToList();
            if (names.Length == 0 || unknown.Count > 0)
                throw new CliException($"--variants: unknown variant(s) {string.Join(", ", unknown)}; valid: {string.Join(", ", HeadsVariants.Keys)}.");
            return Heads(context, new HeadsBenchmarkOptions { BatchSize = p.GetValue(hBatch), Steps = p.GetValue(hSteps), Warmup = p.GetValue(hWarmup), Threads = p.GetValue(hThreads) },
                names.Select(n => HeadsVariants[n]).ToList(), p.GetValue(hJson));
        });
        command.Add(heads);
        return command;
    }

    static readonly Dictionary<string, HeadsBenchmark.Variant> HeadsVariants = new()
    {
        ["search-cells"] = HeadsBenchmark.SearchCells,
        ["view-batched"] = HeadsBenchmark.ViewBatchedSearchCells,
    };

    static int Heads(CliContext context, HeadsBenchmarkOptions o, IReadOnlyList<HeadsBenchmark.Variant> variants, bool json)
    {
        var (stdout, c) = (context.Stdout, CultureInfo.InvariantCulture);
        var load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "n/a";
        var timings = HeadsBenchmark.Run(o, variants, json ? null : line => context.Stderr.WriteLine(line));
        var loadEnd = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "n/a";
        if (json)
        {
            stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["impl"] = "nasiam", ["batch_size"] = o.BatchSize, ["threads"] = NASiam.Core.Engine.TorchRuntime.SetThreads(o.Threads), ["loadavg1_start"] = load, ["loadavg1_end"] = loadEnd,
                ["variants"] = timings.ToDictionary(t => t.Variant, t => new Dictionary<string, double>
                    { ["forward_s"] = t.Forward, ["backward_s"] = t.Backward, ["fwd_bwd_s"] = t.ForwardBackward, ["optimizer_s"] = t.Optimizer, ["fwd_bwd_cpu_s"] = t.CpuForwardBackward }),
            }));
            return ExitCodes.Ok;
        }
        stdout.WriteLine(string.Format(c, "SimSiam search heads alone, batch {0}, median of {1} steps per variant (load average {2} → {3}):", o.BatchSize, o.Steps, load, loadEnd));
        foreach (var t in timings)
            stdout.WriteLine(string.Format(c, "  {0,-16} forward {1:0.0000} s  backward {2:0.0000} s  forward+backward {3:0.0000} s (CPU {5:0.0000} s)  optimizer {4:0.0000} s",
                t.Variant, t.Forward, t.Backward, t.ForwardBackward, t.Optimizer, t.CpuForwardBackward));
        return ExitCodes.Ok;
    }

    static void Check(int batch, int steps, int warmup, int threads)
    {
        AtLeast(batch, 2, "--batch-size"); AtLeast(steps, 1, "--steps"); AtLeast(warmup, 0, "--warmup"); AtLeast(threads, 0, "--threads");
    }

    static int Model(CliContext context, Framework framework, string backbone, HeadOptions heads, int batch, int steps, int warmup, int threads,
        string device, string? only, int gcEvery, bool channelsLast, bool json, BackbonePrecision precision, NASiam.Core.Engine.Numerics.KernelSetting? setting,
        bool viewBatchedHeads)
    {
        var (stdout, stderr) = (context.Stdout, context.Stderr);
        var options = new TrainingBenchmarkOptions
        {
            Framework = framework, Backbone = backbone, BatchSize = batch, Steps = steps, Warmup = warmup, Threads = threads, Device = device, Heads = heads,
            Search = only is null or "search", Pretrain = only is null or "pretrain", Trunk = only is null or "trunk", CollectEvery = gcEvery, ChannelsLast = channelsLast,
            BackbonePrecision = precision, Setting = setting, ViewBatchedHeads = viewBatchedHeads,
        };
        var r = TrainingBenchmark.Run(options, json ? null : line => stderr.WriteLine(line));
        if (json)
        {
            stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                // A part not measured (--only) is NaN; JSON has no NaN, so it is written as null.
                ["framework"] = framework.ToName(), ["backbone"] = backbone, ["batch_size"] = batch, ["steps"] = steps, ["threads"] = r.Threads,
                ["search_step_s"] = r.SearchStepSeconds, ["arch_step_s"] = r.ArchStepSeconds, ["weight_step_s"] = r.WeightStepSeconds,
                ["pretrain_step_s"] = r.PretrainStepSeconds, ["trunk_step_s"] = r.TrunkStepSeconds, ["trunk_forward_s"] = r.TrunkForwardSeconds, ["search_floor_s"] = r.SearchFloorSeconds, ["trunk_gflop"] = r.TrunkGflop, ["sgemm_gflop_per_s"] = r.GemmGflopPerSecond, ["images_per_s"] = r.ImagesPerSecond, ["search_images_per_s"] = r.SearchImagesPerSecond,
                ["peak_rss_mib"] = r.PeakRssMib, ["search_peak_rss_mib"] = r.SearchPeakRssMib, ["rss_before_mib"] = r.RssBeforeMib, ["rss_after_mib"] = r.RssAfterMib,
                ["channels_last"] = channelsLast, ["gc_every"] = gcEvery, ["gc_s"] = r.CollectSeconds,
                ["search_weight_phases_s"] = Phases(r.SearchWeightPhases), ["pretrain_phases_s"] = Phases(r.PretrainPhases),
                ["conv_setting"] = r.ConvSetting, ["thread_changes"] = r.ThreadChanges, ["backbone_precision"] = precision.ToString().ToLowerInvariant(),
                ["view_batched_heads"] = viewBatchedHeads && framework != Framework.MoCo, ["host"] = Host(r.Host),
            }.ToDictionary(kv => kv.Key, kv => kv.Value is double d && !double.IsFinite(d) ? null : kv.Value)));
            return ExitCodes.Ok;
        }
        var c = CultureInfo.InvariantCulture;
        if (r.Host is { } h)
            stdout.WriteLine(string.Format(c, "host: {0}, {1}, ISA {2}; libtorch {3}, TorchSharp {4}, {5} threads, OpenMP wait {6}, LD_PRELOAD={7}, malloc tuning {9}, convolutions {8}",
                h.CpuModel, h.Architecture, string.Join(" ", h.IsaFlags), h.LibTorchVersion, h.TorchSharpVersion, h.Threads,
                TorchRuntime.WaitDescription, Environment.GetEnvironmentVariable("LD_PRELOAD") ?? "none", r.ConvSetting, NativeMemory.AllocatorTuning));
        stdout.WriteLine(string.Format(c, "{0} {1}, batch {2}, {3} threads, dims {4}/{5}, heads {7}, median of {6} steps:", framework.ToName(), backbone, batch, r.Threads, heads.Dim, heads.PredDim, steps,
            viewBatchedHeads && framework != Framework.MoCo ? "once on both views" : "once per view"));
        // A part left out with --only is said to be, not printed as NaN.
        const string NotMeasured = "not measured (--only)";
        stdout.WriteLine(double.IsNaN(r.SearchStepSeconds) ? "  search step      " + NotMeasured
            : string.Format(c, "  search step      {0:0.000} s  (architecture {1:0.000} s + weight {2:0.000} s)  {3:0.0} img/s", r.SearchStepSeconds, r.ArchStepSeconds, r.WeightStepSeconds, r.SearchImagesPerSecond));
        if (r.SearchWeightPhases is { } sw) stdout.WriteLine("    weight step    " + PhasesText(sw));
        stdout.WriteLine(double.IsNaN(r.PretrainStepSeconds) ? "  pretrain step    " + NotMeasured
            : string.Format(c, "  pretrain step    {0:0.000} s  {1:0.0} img/s", r.PretrainStepSeconds, r.ImagesPerSecond));
        if (r.PretrainPhases is { } pw) stdout.WriteLine("                   " + PhasesText(pw));
        if (double.IsNaN(r.TrunkStepSeconds)) stdout.WriteLine("  trunk alone      " + NotMeasured);
        else
        {
            stdout.WriteLine(string.Format(c, "  trunk alone      {0:0.000} s  (both views' forward + backward, no heads, loss or optimizer: {1:0.0} GFLOP of convolutions, {2:0} GFLOP/s)",
                r.TrunkStepSeconds, r.TrunkGflop, r.TrunkGflop / r.TrunkStepSeconds));
            // The ceiling of any fp32 step on this host: the trunk's rate against the easiest dense work's.
            stdout.WriteLine(string.Format(c, "  fp32 sgemm       {0:0} GFLOP/s  ({1}×{1} matrices; the trunk's convolutions ran at {2:0}% of it{3})",
                r.GemmGflopPerSecond, TrainingBenchmark.GemmSide, 100 * r.TrunkGflop / r.TrunkStepSeconds / r.GemmGflopPerSecond,
                precision == BackbonePrecision.Fp32 ? "" : $", in {precision.ToString().ToLowerInvariant()}"));
            stdout.WriteLine(string.Format(c, "  trunk forward    {0:0.000} s  (both views without autograd, as an architecture step runs it; search-step floor = trunk alone + {1} × this = {2:0.000} s)",
                r.TrunkForwardSeconds, r.TrunkForwardsPerSearchStep, r.SearchFloorSeconds));
        }
        stdout.WriteLine(string.Format(c, "  peak RSS         {0:0} MiB  (RSS {1:0} → {2:0} MiB; {3})", r.PeakRssMib, r.RssBeforeMib, r.RssAfterMib, CollectText(gcEvery, r.CollectSeconds)));
        foreach (var change in r.ThreadChanges) stdout.WriteLine("  " + change);
        return ExitCodes.Ok;
    }

    /// <summary>The GC part of the RSS line: its period and median cost, or why there is no cost to show.</summary>
    internal static string CollectText(int gcEvery, double seconds) =>
        gcEvery <= 0 ? "no forced GC"
        : double.IsFinite(seconds) ? string.Format(CultureInfo.InvariantCulture, "GC every {0} steps, {1:0.000} s each", gcEvery, seconds)
        : $"GC every {gcEvery} steps, none within the measured steps";

    static object Phases(StepPhases? p) => p is null ? new Dictionary<string, double>() :
        new Dictionary<string, double> { ["forward"] = p.Forward, ["backward"] = p.Backward, ["optimizer"] = p.Optimizer, ["data"] = p.Data, ["cpu"] = p.Cpu, ["minor_faults"] = p.MinorFaults };

    static string PhasesText(StepPhases p) => string.Format(CultureInfo.InvariantCulture,
        "forward {0:0.000} s, backward {1:0.000} s, optimizer {2:0.000} s, data (random inputs) {3:0.000} s; process CPU {4:0.000} s, {5:0} minor page faults", p.Forward, p.Backward, p.Optimizer, p.Data, p.Cpu, p.MinorFaults);

    static object Host(NASiam.Core.Engine.Numerics.HostInfo? h) => h is null ? new Dictionary<string, object>() : new Dictionary<string, object>
    {
        ["cpu_model"] = h.CpuModel, ["architecture"] = h.Architecture, ["isa_flags"] = h.IsaFlags, ["threads"] = h.Threads,
        ["libtorch"] = h.LibTorchVersion, ["torchsharp"] = h.TorchSharpVersion,
        ["omp_wait_policy"] = Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") ?? "PASSIVE (engine default)",
        ["gomp_spincount"] = Environment.GetEnvironmentVariable("GOMP_SPINCOUNT") ?? (TorchRuntime.EngineManagesWaiting ? TorchRuntime.EngineSpinCount + " (engine default)" : ""),
        ["thread_governor"] = TorchRuntime.EngineManagesWaiting,
        ["ld_preload"] = Environment.GetEnvironmentVariable("LD_PRELOAD") ?? "",
        ["malloc_tuning"] = NativeMemory.AllocatorTuning ?? "",
    };

    static int Memory(CliContext context, MemoryBenchmarkOptions o, bool json)
    {
        var (stdout, c) = (context.Stdout, CultureInfo.InvariantCulture);
        if (!json)
            stdout.WriteLine(string.Format(c, "{0} {1} search, batch {2}, {3} steps, {5}, GC every {4} steps (0 = never), no trim; RSS after the step, before its collection:",
                o.Framework.ToName(), o.Backbone, o.BatchSize, o.Steps, o.CollectEvery,
                o.SyntheticImages > 0 ? $"synthetic data set of {o.SyntheticImages} images through the SSL augmentation" : "random inputs"));
        var r = MemoryBenchmark.Run(o, json ? null : p => stdout.WriteLine(string.Format(c,
            "  step {0,6}  RSS {1,7:0} MiB  max since last {2,7:0} MiB  C heap in use {3,6:0} MiB, free in arenas {4,6:0} MiB  .NET heap {5,5:0} MiB  forced GCs {6}, gen-0 {7}, gen-2 {8}",
            p.Step, p.RssMib, p.WindowMaxRssMib, p.HeapInUseMib, p.HeapFreeMib, p.ManagedCommittedMib, p.ForcedCollections, p.Gen0Collections, p.Gen2Collections)));
        if (json)
        {
            stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
            {
                ["framework"] = o.Framework.ToName(), ["backbone"] = o.Backbone, ["batch_size"] = o.BatchSize, ["steps"] = o.Steps, ["gc_every"] = o.CollectEvery, ["synthetic_images"] = o.SyntheticImages,
                ["rss_mib"] = r.Points.Select(p => new[] { p.Step, p.RssMib }).ToList(),
                ["window_max_rss_mib"] = r.Points.Select(p => new[] { p.Step, p.WindowMaxRssMib }).ToList(),
                ["rss_change_percent"] = double.IsFinite(r.RssChangePercent) ? r.RssChangePercent : null,
                ["window_max_change_percent"] = double.IsFinite(r.WindowMaxChangePercent) ? r.WindowMaxChangePercent : null,
            }));
            return ExitCodes.Ok;
        }
        if (r.Points.Count >= 2)
            stdout.WriteLine(string.Format(c, "RSS step {0} → {1}: {2:+0.0;-0.0}% (window maximum {3:+0.0;-0.0}%); target within ±5%: {4}",
                r.Points[0].Step, r.Points[^1].Step, r.RssChangePercent, r.WindowMaxChangePercent,
                Math.Abs(r.RssChangePercent) <= 5 && Math.Abs(r.WindowMaxChangePercent) <= 5 ? "met" : "NOT met"));
        return ExitCodes.Ok;
    }

    static int Data(CliContext context, int batch, int steps, int warmup, int threads, string device, bool json)
    {
        var stdout = context.Stdout;
        TorchRuntime.SetThreads(threads);
        var dev = TorchRuntime.ResolveDevice(device);
        var results = new[] { AugmentationRecipe.SimSiamCifar, AugmentationRecipe.MoCoCifar, AugmentationRecipe.LinearEvalCifar }
            .Select(r => AugmentationBenchmark.Run(dev, batch, steps, warmup, r)).ToList();
        var step = TrainingBenchmark.Run(new TrainingBenchmarkOptions
        {
            Backbone = "resnet18", BatchSize = batch, Steps = Math.Min(steps, 3), Warmup = Math.Min(warmup, 1), Threads = threads, Device = device, Search = false,
        });
        if (json)
        {
            stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["batch_size"] = batch,
                ["augmentation_ms_per_batch"] = results.ToDictionary(r => r.Recipe.ToString(), r => r.MillisecondsPerBatch),
                ["augmentation_images_per_s"] = results.ToDictionary(r => r.Recipe.ToString(), r => r.ImagesPerSecond),
                ["resnet18_pretrain_step_s"] = step.PretrainStepSeconds, ["peak_rss_mib"] = step.PeakRssMib,
            }));
            return ExitCodes.Ok;
        }
        var c = CultureInfo.InvariantCulture;
        stdout.WriteLine($"two-view augmentation, batch {batch} (32x32):");
        foreach (var r in results)
            stdout.WriteLine(string.Format(c, "  {0,-16} {1,8:0.0} ms/batch  {2,8:0} img/s", r.Recipe, r.MillisecondsPerBatch, r.ImagesPerSecond));
        stdout.WriteLine(string.Format(c, "one ResNet-18 SimSiam pre-training step at batch {0}: {1:0.000} s (augmentation is {2:0.0}% of it)",
            batch, step.PretrainStepSeconds, 100 * results[0].MillisecondsPerBatch / 1000 / step.PretrainStepSeconds));
        return ExitCodes.Ok;
    }

    /// <summary>A bad numeric flag names itself and the value given (exit code 2 through <see cref="CliException"/>).</summary>
    static void AtLeast(int value, int min, string flag)
    {
        if (value < min) throw new CliException($"{flag} must be >= {min} (got {value}).");
    }
}

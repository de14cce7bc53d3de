using System.Globalization;
using System.Text.Json;
using NASiam.Core;
using NASiam.Core.Data.Augmentation;
using NASiam.Core.Engine;
using NASiam.Core.Engine.Benchmarks;
using NASiam.Core.Options;

namespace NASiam.Cli.Commands;

/// <summary><c>nasiam bench</c>: model step timings on random inputs; <c>nasiam bench data</c>: augmentation throughput.</summary>
public sealed class BenchCommand : ICliCommand
{
    public string Name => "bench";
    public string Summary => "benchmark search/pre-training steps (random 32x32 inputs) or the augmentation";
    public string Help => """
        Usage:
          nasiam bench [--framework F] [--backbone B] [--batch-size N] [--steps S] [--warmup W]
                       [--threads T] [--device D] [--dim N] [--pred-dim N] [--only search|pretrain]
                       [--gc-every N] [--no-channels-last] [--json]
              Median seconds per search step (architecture + weight step) and per pre-training step,
              images/s and peak RSS, on random 32x32 inputs (no data pipeline). Defaults: simsiam,
              resnet18, batch 32, 10 steps, 2 warm-up, all cores, the framework's head widths.
              --only measures one part (peak RSS of that part alone); --gc-every N forces a GC every
              N steps outside the timings (default 1, 0 = never); --no-channels-last keeps NCHW.
          nasiam bench data [--batch-size N] [--steps S] [--warmup W] [--threads T] [--device D] [--json]
              Two-view augmentation throughput per recipe, next to one ResNet-18 pre-training step.
        --json prints one JSON line (search_step_s, pretrain_step_s, images_per_s, peak_rss_mib, ...).
        """;

    public int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var a = new CliArgs(args, new HashSet<string> { "json", "no-channels-last" });
        bool data = a.Positionals.Count > 0 && a.Positionals[0] == "data";
        if (a.Positionals.Count > (data ? 1 : 0)) throw new CliException($"unexpected argument '{a.Positionals[^1]}'; use 'nasiam bench' or 'nasiam bench data'.");
        var json = a.Flag("json");
        int batch = a.Int("batch-size") ?? (data ? 256 : 32);
        int steps = a.Int("steps") ?? 10;
        int warmup = a.Int("warmup") ?? 2;
        int threads = a.Int("threads") ?? 0;
        var device = a.String("device") ?? "cpu";
        if (batch < 2 || steps < 1 || warmup < 0 || threads < 0) throw new CliException("--batch-size must be >= 2, --steps >= 1, --warmup and --threads >= 0.");
        return data ? Data(a, batch, steps, warmup, threads, device, json, stdout) : Model(a, batch, steps, warmup, threads, device, json, stdout, stderr);
    }

    static int Model(CliArgs a, int batch, int steps, int warmup, int threads, string device, bool json, TextWriter stdout, TextWriter stderr)
    {
        var framework = a.String("framework") is { } f ? FrameworkNames.Parse(f) : Framework.SimSiam;
        var backbone = a.String("backbone") ?? "resnet18";
        var heads = RunPresets.ForFramework(framework).Heads;
        if (a.Int("dim") is { } dim) heads = heads with { Dim = dim };
        if (a.Int("pred-dim") is { } pred) heads = heads with { PredDim = pred };
        var only = a.String("only");
        if (only is not null and not "search" and not "pretrain") throw new CliException($"--only must be 'search' or 'pretrain', not '{only}'.");
        int gcEvery = a.Int("gc-every") ?? 1;
        if (gcEvery < 0) throw new CliException("--gc-every must be >= 0.");
        bool channelsLast = !a.Flag("no-channels-last");
        a.EnsureAllUsed();
        var options = new TrainingBenchmarkOptions
        {
            Framework = framework, Backbone = backbone, BatchSize = batch, Steps = steps, Warmup = warmup, Threads = threads, Device = device, Heads = heads,
            Search = only is null or "search", Pretrain = only is null or "pretrain", CollectEvery = gcEvery, ChannelsLast = channelsLast,
        };
        var r = TrainingBenchmark.Run(options, json ? null : line => stderr.WriteLine(line));
        if (json)
        {
            stdout.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                // A part not measured (--only) is NaN; JSON has no NaN, so it is written as null.
                ["framework"] = framework.ToName(), ["backbone"] = backbone, ["batch_size"] = batch, ["steps"] = steps, ["threads"] = r.Threads,
                ["search_step_s"] = r.SearchStepSeconds, ["arch_step_s"] = r.ArchStepSeconds, ["weight_step_s"] = r.WeightStepSeconds,
                ["pretrain_step_s"] = r.PretrainStepSeconds, ["images_per_s"] = r.ImagesPerSecond, ["search_images_per_s"] = r.SearchImagesPerSecond,
                ["peak_rss_mib"] = r.PeakRssMib, ["search_peak_rss_mib"] = r.SearchPeakRssMib, ["rss_before_mib"] = r.RssBeforeMib, ["rss_after_mib"] = r.RssAfterMib,
                ["channels_last"] = channelsLast, ["gc_every"] = gcEvery, ["gc_s"] = r.CollectSeconds,
                ["search_weight_phases_s"] = Phases(r.SearchWeightPhases), ["pretrain_phases_s"] = Phases(r.PretrainPhases),
            }.ToDictionary(kv => kv.Key, kv => kv.Value is double d && !double.IsFinite(d) ? null : kv.Value)));
            return ExitCodes.Ok;
        }
        var c = CultureInfo.InvariantCulture;
        stdout.WriteLine(string.Format(c, "{0} {1}, batch {2}, {3} threads, dims {4}/{5}, median of {6} steps:", framework.ToName(), backbone, batch, r.Threads, heads.Dim, heads.PredDim, steps));
        stdout.WriteLine(string.Format(c, "  search step      {0:0.000} s  (architecture {1:0.000} s + weight {2:0.000} s)  {3:0.0} img/s", r.SearchStepSeconds, r.ArchStepSeconds, r.WeightStepSeconds, r.SearchImagesPerSecond));
        stdout.WriteLine(string.Format(c, "  pretrain step    {0:0.000} s  {1:0.0} img/s", r.PretrainStepSeconds, r.ImagesPerSecond));
        stdout.WriteLine(string.Format(c, "  peak RSS         {0:0} MiB  (RSS {1:0} → {2:0} MiB)", r.PeakRssMib, r.RssBeforeMib, r.RssAfterMib));
        return ExitCodes.Ok;
    }

    static object Phases(StepPhases? p) => p is null ? new Dictionary<string, double>() :
        new Dictionary<string, double> { ["forward"] = p.Forward, ["backward"] = p.Backward, ["optimizer"] = p.Optimizer };

    static int Data(CliArgs a, int batch, int steps, int warmup, int threads, string device, bool json, TextWriter stdout)
    {
        a.EnsureAllUsed();
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
}

using NASiam.Core;
using NASiam.Core.Engine;
using NASiam.Core.Options;
using NASiam.Core.Reporting;

namespace NASiam.Cli.Commands;

/// <summary>
/// What search, pretrain, lincls and pipeline share: building <see cref="RunOptions"/> from a
/// preset plus command-line overrides, running the engine with console progress and
/// metrics.jsonl, and mapping the outcome to an exit code.
/// </summary>
public static class RunCommandSupport
{
    /// <summary>Help text of the options every run verb accepts.</summary>
    public const string CommonHelp = """
          --out DIR            output folder (required): genotype.txt, genotype.json, metrics.jsonl,
                               checkpoints/, result.json. Re-running into the same folder resumes.
          --preset NAME        quick-demo | simsiam-cifar10 | moco-cifar100 | ... (default: the framework's
                               reference recipe); see 'nasiam pipeline --help'
          --framework F        simsiam | moco | simclr (default simsiam; simclr for --preset quick-demo)
          --options FILE       run options JSON (as in result.json "options"); flags below override it
          --backbone B         resnet-tiny | resnet18 | resnet50
          --dataset D          synthetic | cifar10 | cifar100 | folder;  --data DIR  its folder
          --epochs N  --batch-size N  --lr X   for this verb's stage(s)
          --seed N  --device auto|cpu|cuda[:N]  --threads N  --max-steps N (cap per stage)
          --synthetic-size N   synthetic train images
          --fresh              ignore existing checkpoints in --out (start over)
        """;

    /// <summary>Reads the common options into run options of <paramref name="kind"/>.</summary>
    public static RunOptions BuildOptions(CliArgs a, RunKind kind)
    {
        var frameworkText = a.String("framework");
        Framework framework = frameworkText is null ? Framework.SimSiam : FrameworkNames.Parse(frameworkText);
        var preset = a.String("preset");
        var optionsFile = a.String("options");
        RunOptions o;
        if (optionsFile is not null)
        {
            if (!File.Exists(optionsFile)) throw new CliException($"--options: file '{optionsFile}' does not exist.");
            o = RunOptions.FromJson(File.ReadAllText(optionsFile));
            if (frameworkText is not null) o = o with { Framework = framework };
        }
        else if (preset is not null) o = RunPresets.Get(preset, frameworkText is null ? null : framework);
        else o = RunPresets.ForFramework(framework);
        o = o with { Kind = kind };

        if (a.String("backbone") is { } backbone) o = o with { Backbone = backbone };
        if (a.String("dataset") is { } dataset) o = o with { Dataset = dataset };
        if (a.String("data") is { } data) o = o with { DataPath = data };
        if (a.Int("synthetic-size") is { } size) o = o with { SyntheticTrainSize = size };
        if (a.Int("seed") is { } seed) o = o with { Seed = seed };
        if (a.String("device") is { } device) o = o with { Device = device };
        if (a.Int("threads") is { } threads) o = o with { Threads = threads };
        if (a.Long("max-steps") is { } steps) o = o with { MaxStepsPerStage = steps };

        var epochs = a.Int("epochs");
        var batch = a.Int("batch-size");
        var lr = a.Double("lr");
        bool all = kind == RunKind.Pipeline;
        if (kind is RunKind.Search || all)
            o = o with { Search = o.Search with { Epochs = epochs ?? o.Search.Epochs, BatchSize = batch ?? o.Search.BatchSize, Lr = lr ?? o.Search.Lr } };
        if (kind is RunKind.Pretrain || all)
            o = o with { Pretrain = o.Pretrain with { Epochs = epochs ?? o.Pretrain.Epochs, BatchSize = batch ?? o.Pretrain.BatchSize, Lr = lr ?? o.Pretrain.Lr } };
        if (kind is RunKind.LinCls || all)
            o = o with { Linear = o.Linear with { Epochs = epochs ?? o.Linear.Epochs, BatchSize = batch ?? o.Linear.BatchSize, Lr = lr ?? o.Linear.Lr } };
        if (kind is RunKind.Pretrain or RunKind.Pipeline && a.String("genotype") is { } genotype)
            o = o with { Pretrain = o.Pretrain with { Genotype = genotype } };
        if (kind == RunKind.Pipeline && a.String("genotype") is null)
            o = o with { Pretrain = o.Pretrain with { Genotype = null } }; // a pipeline pre-trains what it searched
        if (kind == RunKind.LinCls && a.String("checkpoint") is { } checkpoint)
            o = o with { Linear = o.Linear with { Checkpoint = Path.GetFullPath(checkpoint) } };
        if (kind is RunKind.Pretrain && o.Pretrain.Genotype is null) o = o with { Pretrain = o.Pretrain with { Genotype = "standard" } };
        return o;
    }

    /// <summary>Runs the engine with progress on <paramref name="stdout"/> and metrics.jsonl in the output folder.</summary>
    public static int Execute(CliArgs a, RunKind kind, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var outDir = a.String("out") ?? throw new CliException("--out DIR is required.");
        var fresh = a.Flag("fresh");
        var options = BuildOptions(a, kind);
        a.EnsureAllUsed();
        options.EnsureValid();
        outDir = Path.GetFullPath(outDir);
        if (fresh && Directory.Exists(Path.Combine(outDir, "checkpoints"))) Directory.Delete(Path.Combine(outDir, "checkpoints"), recursive: true);
        Directory.CreateDirectory(outDir);

        bool interactive = ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected;
        var result = default(RunResult);
        using (var metrics = new BackgroundObserver(new MetricsJsonlObserver(Path.Combine(outDir, "metrics.jsonl"))))
        using (var progress = new BackgroundObserver(new ConsoleProgressObserver(stdout, interactive)))
        {
            stdout.WriteLine($"nasiam {kind.ToString().ToLowerInvariant()}: {options.Framework.ToName()}, {options.Backbone}, {options.Dataset} → {outDir}");
            result = new NasiamEngine().Run(options, new RunContext { RunId = Guid.NewGuid(), OutputDirectory = outDir, Resume = true },
                new CompositeObserver(metrics, progress), cancellationToken);
        }
        if (result.GenotypeText is { } g) stdout.WriteLine($"genotype: {g}");
        foreach (var (k, v) in result.Metrics.OrderBy(kv => kv.Key)) stdout.WriteLine($"{k}: {v:0.####}");
        switch (result.Outcome)
        {
            case RunOutcome.Succeeded:
                stdout.WriteLine($"done: {Path.Combine(outDir, "result.json")}");
                return ExitCodes.Ok;
            case RunOutcome.Cancelled:
                stderr.WriteLine($"nasiam {kind.ToString().ToLowerInvariant()}: cancelled; run the same command again to resume ({result.Message})");
                return ExitCodes.Cancelled;
            default:
                stderr.WriteLine($"nasiam {kind.ToString().ToLowerInvariant()}: failed: {result.Message}");
                return ExitCodes.RunFailed;
        }
    }
}

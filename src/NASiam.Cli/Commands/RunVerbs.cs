using System.CommandLine;
using System.Text.Json.Nodes;
using NASiam.Core;
using NASiam.Core.Engine;
using NASiam.Core.Engine.Runs;
using NASiam.Core.Genotypes;
using NASiam.Core.Options;
using NASiam.Core.Reporting;

namespace NASiam.Cli.Commands;

/// <summary>
/// <c>nasiam search|pretrain|lincls|pipeline</c>. The flags only become a <see cref="RunRequest"/>
/// (preset, framework, genotype, checkpoint, and a JSON merge patch of overrides);
/// <see cref="RunRequestResolver"/> decides what the run means. The CLI adds no rules of its own:
/// it prints the resolver's errors (naming the flag) and notices, then runs the engine with
/// progress on the console and metrics.jsonl in the output folder.
/// </summary>
public static class RunVerbs
{
    /// <summary>The verb of a run kind: search, pretrain, lincls, pipeline.</summary>
    public static string VerbName(RunKind kind) => EnumNames.Name(kind);

    /// <summary>The command of one run verb.</summary>
    public static Command Create(RunKind kind, CliContext context)
    {
        var flags = new RunFlags(kind);
        var command = new Command(VerbName(kind), Description(kind));
        foreach (var option in flags.All) command.Add(option);
        command.SetAction(parse => Execute(kind, flags, parse, context));
        return command;
    }

    static string Description(RunKind kind) => kind switch
    {
        RunKind.Search =>
            "Search projector/predictor cells (first-order DARTS) and write the genotype.\n" +
            "Alternates an architecture step (held-out half) and a weight step (other half) per iteration, then writes " +
            "OUT/genotype.txt (reference format) and OUT/genotype.json. --epochs/--batch-size/--lr set search.*.",
        RunKind.Pretrain =>
            "Pre-train a genotype (or the framework's standard heads) with the kNN monitor.\n" +
            "kNN top-1 each epoch selects checkpoints/pretrain-best.ckpt. --epochs/--batch-size/--lr set pretrain.*.",
        RunKind.LinCls =>
            "Linear evaluation on frozen backbone features (top-1/top-5).\n" +
            "With --checkpoint, the framework, backbone, data set, heads and linear recipe come from the checkpoint's saved " +
            "options; flags override the recipe and the differences are printed. Without it the backbone is untrained: " +
            "the baseline a pre-training must beat. --epochs/--batch-size/--lr set linear.*.",
        RunKind.Pipeline =>
            "Search, pre-train the searched heads, evaluate linearly; result.json records the lineage.\n" +
            "--epochs/--batch-size/--lr apply to every stage. Presets: quick-demo (resnet-tiny, synthetic, minutes on a CPU), " +
            "<framework>-<dataset> (the method's CIFAR recipe, reference defects fixed) and <framework>-<dataset>-reference " +
            "(the defects reproduced); 'nasiam options --preset NAME' shows one's defaults.",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>Turns the parsed flags into a run request; errors name the flag.</summary>
    internal static (RunRequest? Request, List<string> Errors, List<string> Notices) BuildRequest(RunKind kind, RunFlags flags, ParseResult parse)
    {
        var errors = new List<string>();
        var notices = new List<string>();

        // 1. --options FILE: a merge patch, applied before the flags.
        JsonObject? filePatch = null;
        if (parse.GetValue(flags.OptionsFile) is { } file)
        {
            if (!File.Exists(file)) errors.Add($"--options: file '{file}' does not exist");
            else
            {
                var (patch, error) = RunRequestResolver.ParseOverrides(File.ReadAllText(file), "--options");
                if (error is not null) errors.Add($"--options {file}: {error.Message}");
                filePatch = patch;
            }
        }

        // 2. The flags, as a merge patch: the verb's short stage flags first, then the catalog's own flags.
        var flagPatch = new JsonObject();
        foreach (var (option, stagePaths) in flags.StageShorts)
            if (parse.GetResult(option) is { Implicit: false } && parse.GetValue(option) is { } text)
                foreach (var path in stagePaths) Set(path, text, option.Name);
        foreach (var (entry, option) in flags.Catalog)
        {
            if (parse.GetResult(option) is not { Implicit: false }) continue;
            if (option is Option<bool> flag) SetNode(flagPatch, entry.Path, JsonValue.Create(parse.GetValue(flag)));
            else if (parse.GetValue((Option<string>)option) is { } text) Set(entry.Path, text, option.Name);
        }

        // 3. The verb is the kind, and --framework is the framework: both win over the file's.
        if (filePatch is not null)
        {
            if (Key(filePatch, "kind") is { } kindKey)
            {
                var fileKind = filePatch[kindKey]?.ToString();
                filePatch.Remove(kindKey);
                if (fileKind is not null && !string.Equals(fileKind, VerbName(kind), StringComparison.OrdinalIgnoreCase)
                    && !(EnumNames.TryParse<RunKind>(fileKind, out var k) && k == kind))
                    notices.Add($"--options: its kind '{fileKind}' is replaced by the verb '{VerbName(kind)}'");
            }
            if (parse.GetValue(flags.Framework) is { } flagFramework && Key(filePatch, "framework") is { } fwKey)
            {
                var fileFramework = filePatch[fwKey]?.ToString();
                filePatch.Remove(fwKey);
                if (fileFramework is not null && !string.Equals(fileFramework, flagFramework, StringComparison.OrdinalIgnoreCase))
                    notices.Add($"--options: its framework '{fileFramework}' is replaced by --framework '{flagFramework}'");
            }
        }
        var overrides = filePatch ?? new JsonObject();
        MergePatches.LayerOnto(overrides, flagPatch);

        // --from RUN-FOLDER: the dashboard's "Pre-train this genotype" (that run's setup and genotype; the flags change it).
        if (flags.From is not null && parse.GetValue(flags.From) is { } from)
        {
            if (parse.GetValue(flags.Preset) is not null) errors.Add("--from: the run folder brings its own setup; give --from or --preset, not both");
            if (flags.Genotype is not null && parse.GetValue(flags.Genotype) is not null) errors.Add("--from: pre-trains that run's genotype; give --from or --genotype, not both");
            RunOptions? source = null;
            try { source = RunArtifacts.ReadOptions(from); }
            catch (ArgumentException e) { errors.Add($"--from: {e.Message}"); }
            if (source is not null && parse.GetValue(flags.Framework) is { } fw && !(FrameworkNames.TryParse(fw, out var f) && f == source.Framework))
                errors.Add($"--from: the run is a {source.Framework.ToName()} run; its genotype cannot be pre-trained as '{fw}'");
            if (errors.Count > 0 || source is null) return (null, errors, notices);
            var fromRun = GenotypePretraining.FromRun(source, Guid.Empty, source.Name, overrides, name: null, device: null) with { Genotype = Path.GetFullPath(from) };
            notices.Add($"--from: {GenotypePretraining.SetupSummary(source)} from {from}; the flags change it");
            return (fromRun, errors, notices);
        }

        var request = new RunRequest
        {
            Kind = kind,
            Preset = parse.GetValue(flags.Preset),
            Framework = parse.GetValue(flags.Framework),
            Genotype = flags.Genotype is null ? null : parse.GetValue(flags.Genotype),
            Checkpoint = flags.Checkpoint is null ? null : parse.GetValue(flags.Checkpoint),
            Overrides = overrides.Count == 0 ? null : overrides,
        };
        return (errors.Count == 0 ? request : null, errors, notices);

        void Set(string path, string text, string flagName)
        {
            var entry = OptionCatalog.Get(path);
            if (entry.TryParseText(text, out var value, out var why)) SetNode(flagPatch, path, value);
            else if (!errors.Contains($"{flagName}: {why}")) errors.Add($"{flagName}: {why}"); // --epochs sets up to three paths
        }
    }

    static void SetNode(JsonObject root, string path, JsonNode? value)
    {
        var parts = path.Split('.');
        var o = root;
        foreach (var part in parts[..^1])
        {
            if (o[part] is not JsonObject inner) o[part] = inner = new JsonObject();
            o = inner;
        }
        o[parts[^1]] = value;
    }

    static string? Key(JsonObject o, string name) =>
        o.Select(p => p.Key).FirstOrDefault(k => string.Equals(k, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>Resolves the request, prints errors or notices, then runs (or prints the options).</summary>
    static int Execute(RunKind kind, RunFlags flags, ParseResult parse, CliContext context)
    {
        var (stdout, stderr) = (context.Stdout, context.Stderr);
        var verb = "nasiam " + VerbName(kind);
        var (request, inputErrors, notices) = BuildRequest(kind, flags, parse);
        bool print = parse.GetValue(flags.PrintOptions), printMemory = parse.GetValue(flags.PrintMemory);
        var outDir = parse.GetValue(flags.Out);
        if (outDir is null && !print && !printMemory) inputErrors.Add("--out DIR is required (or --print-options to only show the resolved options, --print-memory their memory estimate)");
        if (inputErrors.Count > 0 || request is null)
        {
            foreach (var e in inputErrors) stderr.WriteLine($"{verb}: {e}");
            return ExitCodes.BadInput;
        }

        var resolution = RunRequestResolver.Resolve(request, RunRequestPolicy.CliOnThisHost());
        foreach (var n in notices.Concat(resolution.Notices)) stderr.WriteLine($"{verb}: note: {n}");
        if (!resolution.Ok)
        {
            foreach (var e in resolution.Errors) stderr.WriteLine($"{verb}: {flags.Describe(e)}");
            return ExitCodes.BadInput;
        }
        var options = resolution.Options!;
        if (print)
        {
            stdout.WriteLine(options.ToJson());
            return ExitCodes.Ok;
        }
        if (printMemory)
        {
            // One line a stage, its figure last (bench/engine/memory-estimate.sh reads it), then the host's.
            foreach (var stage in RunMemoryEstimate.For(options).Stages)
                stdout.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{stage.Stage}: {stage.Basis}: estimated peak MiB {stage.PeakBytes / 1048576.0:F0}"));
            stdout.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"host: memory MiB {RunMemoryEstimate.HostMemoryBytes() / 1048576.0:F0}"));
            return ExitCodes.Ok;
        }

        // The host's check of the device before anything is written: a run this host cannot start leaves no folder behind.
        try { NASiam.Core.Engine.TorchRuntime.ResolveDevice(options.Device); }
        catch (ArgumentException e)
        {
            stderr.WriteLine($"{verb}: {e.Message}");
            return ExitCodes.BadInput;
        }
        outDir = Path.GetFullPath(outDir!);
        if (parse.GetValue(flags.Fresh) && Directory.Exists(Path.Combine(outDir, "checkpoints")))
            Directory.Delete(Path.Combine(outDir, "checkpoints"), recursive: true);
        Directory.CreateDirectory(outDir);

        bool interactive = ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected;
        RunResult result;
        // metrics.jsonl is the engine's own (every door writes it).
        using (var progress = new BackgroundObserver(new ConsoleProgressObserver(stdout, interactive)))
        {
            stdout.WriteLine($"{verb}: {options.Framework.ToName()}, {options.Backbone}, {options.Dataset} → {outDir}");
            stdout.WriteLine($"options: {Path.Combine(outDir, "result.json")} (\"options\"); --print-options shows them without running");
            result = new NasiamEngine().Run(options, new RunContext { RunId = Guid.NewGuid(), OutputDirectory = outDir, Resume = true },
                progress, context.CancellationToken);
        }
        if (result.GenotypeText is { } g) stdout.WriteLine($"genotype: {g}");
        // The dashboard's labels, units and order (RunMetricCatalog), after the name result.json keys them by.
        var metrics = RunMetricCatalog.Describe(result.Metrics);
        if (metrics.Count > 0)
        {
            stdout.WriteLine("metrics (result.json \"metrics\"):");
            int nameWidth = metrics.Max(m => m.Name.Length), valueWidth = metrics.Max(m => m.Text.Length);
            foreach (var m in metrics)
                stdout.WriteLine(m.Label == m.Name ? $"  {m.Name.PadRight(nameWidth)}  {m.Text}" : $"  {m.Name.PadRight(nameWidth)}  {m.Text.PadRight(valueWidth)}  {m.Label}");
        }
        switch (result.Outcome)
        {
            case RunOutcome.Succeeded:
                stdout.WriteLine($"done: {Path.Combine(outDir, "result.json")}");
                return ExitCodes.Ok;
            case RunOutcome.Cancelled:
                stderr.WriteLine($"{verb}: cancelled; run the same command again to resume ({result.Message})");
                return ExitCodes.Cancelled;
            default:
                stderr.WriteLine($"{verb}: failed: {result.Message}");
                return ExitCodes.RunFailed;
        }
    }
}

/// <summary>
/// The flags of one run verb: the request's own (<c>--preset</c>, <c>--framework</c>,
/// <c>--options</c>, <c>--genotype</c>, <c>--checkpoint</c>), the host's (<c>--out</c>,
/// <c>--fresh</c>, <c>--print-options</c>), the verb's stage shorthands (<c>--epochs</c>,
/// <c>--batch-size</c>, <c>--lr</c>) and one flag per <see cref="OptionCatalog"/> entry the verb's
/// stages read, named after its path (<c>--search-epochs</c>, <c>--heads-dim</c>).
/// </summary>
internal sealed class RunFlags
{
    /// <summary>Short, familiar aliases of catalog flags.</summary>
    static readonly Dictionary<string, string[]> Aliases = new()
    {
        ["dataPath"] = ["--data"],
        ["maxStepsPerStage"] = ["--max-steps"],
        ["syntheticTrainSize"] = ["--synthetic-size"],
    };

    /// <summary>Catalog paths that are not flags: the verb is the kind, and --framework is a request field.</summary>
    static readonly HashSet<string> NotFlags = ["kind", "framework"];

    public Option<string> Out { get; } = new("--out") { HelpName = "DIR", Description = "Output folder (required): genotype.txt/json, metrics.jsonl, checkpoints/, result.json. Re-running into the same folder resumes." };
    public Option<bool> Fresh { get; } = new("--fresh") { Description = "Ignore existing checkpoints in --out and start over." };
    public Option<bool> PrintOptions { get; } = new("--print-options") { Description = "Print the resolved options JSON (what the run would use) and exit without running; --out is not needed." };
    public Option<bool> PrintMemory { get; } = new("--print-memory") { Description = "Print each stage's estimated peak memory on a CPU host (MiB, docs/memory.md) and this host's memory, and exit without running; --out is not needed." };
    public Option<string> Preset { get; } = new("--preset") { HelpName = "NAME", Description = $"Start from a preset: {string.Join(", ", RunPresets.Names)} (default: the framework's recipe). See docs/options.md." };
    public Option<string> Framework { get; } = new("--framework") { HelpName = string.Join("|", EnumNames.All<Core.Framework>()), Description = "Framework (case-insensitive). With no preset: its recipe (default simsiam); with quick-demo: its flavour (default simclr)." };
    public Option<string> OptionsFile { get; } = new("--options") { HelpName = "FILE", Description = "A JSON merge patch on the options (camelCase, as in result.json \"options\"; a UTF-8 BOM is fine), applied before the flags: {\"compat\": {\"mocoReferenceBatchNorm\": true}} changes that field only." };
    public Option<string>? Genotype { get; }
    public Option<string>? Checkpoint { get; }
    /// <summary>pretrain only: a run folder whose genotype to pre-train on its own setup.</summary>
    public Option<string>? From { get; }
    public Option<string> Epochs { get; }
    public Option<string> BatchSize { get; }
    public Option<string> Lr { get; }

    /// <summary>The stage shorthands and the paths each one sets for this verb.</summary>
    public List<(Option<string> Option, string[] Paths)> StageShorts { get; } = [];
    /// <summary>One flag per catalog entry the verb's stages read.</summary>
    public List<(OptionEntry Entry, Option Option)> Catalog { get; } = [];

    public RunFlags(RunKind kind)
    {
        string[] stages = kind switch
        {
            RunKind.Search => ["search"],
            RunKind.Pretrain => ["pretrain"],
            RunKind.LinCls => ["linear"],
            _ => ["search", "pretrain", "linear"],
        };
        var stageText = string.Join(", ", stages.Select(s => s + ".*"));
        Epochs = new("--epochs") { HelpName = "N", Description = $"Epochs of {stageText}." };
        BatchSize = new("--batch-size") { HelpName = "N", Description = $"Batch size of {stageText}." };
        Lr = new("--lr") { HelpName = "X", Description = $"Learning rate of {stageText} (see each stage's LR scaling)." };
        StageShorts.Add((Epochs, stages.Select(s => s + ".epochs").ToArray()));
        StageShorts.Add((BatchSize, stages.Select(s => s + ".batchSize").ToArray()));
        StageShorts.Add((Lr, stages.Select(s => s + ".lr").ToArray()));
        if (kind is RunKind.Pretrain or RunKind.Pipeline)
            Genotype = new("--genotype")
            {
                HelpName = "G",
                Description = kind == RunKind.Pipeline
                    ? "Pre-train G instead of the searched genotype: standard, a genotype preset (nasiam genotype presets), a file or genotype text."
                    : "The heads to pre-train: standard (the default), a genotype preset (nasiam genotype presets), a file or genotype text.",
            };
        if (kind == RunKind.Pretrain)
            From = new("--from")
            {
                HelpName = "RUN-FOLDER",
                Description = "Pre-train the genotype of a run's --out folder on that run's own setup (its result.json options: framework, backbone, data, " +
                              "step cap, seed, pre-training recipe; the run page's 'Pre-train this genotype'); other flags change it. Not with --preset or --genotype.",
            };
        if (kind == RunKind.LinCls)
            Checkpoint = new("--checkpoint") { HelpName = "FILE|RUN-FOLDER", Description = "A pretrain (or search) checkpoint, e.g. OUT/checkpoints/pretrain-best.ckpt, or a run's --out folder (the pre-training checkpoint its pipeline evaluates: pretrain-best.ckpt for SimSiam and MoCo, pretrain.ckpt for SimCLR or with linear.useBestCheckpoint false; else checkpoints/search.ckpt): its framework, backbone, data set and recipe are the defaults." };

        foreach (var entry in OptionCatalog.Entries.Where(e => e.UsedBy(kind) && !NotFlags.Contains(e.Path)))
        {
            var aliases = Aliases.GetValueOrDefault(entry.Path) ?? [];
            var description = $"{entry.FullHelp} [{entry.Path}{(entry.Unit is null ? "" : $", {entry.Unit}")}]";
            Option option = entry.Type == OptionValueType.Boolean && !entry.Nullable
                ? new Option<bool>(entry.Flag, aliases) { Description = description + " Alone means true; or give true/false.", Arity = ArgumentArity.ZeroOrOne }
                : new Option<string>(entry.Flag, aliases) { Description = description, HelpName = HelpName(entry) };
            Catalog.Add((entry, option));
        }
    }

    static string HelpName(OptionEntry e) => e.Type switch
    {
        OptionValueType.Choice => string.Join("|", e.Choices),
        OptionValueType.Integer => "N",
        OptionValueType.Number => "X",
        OptionValueType.Boolean => "true|false",
        _ => e.Path switch { "dataPath" => "DIR", "linear.checkpoint" => "FILE", "pretrain.genotype" => "G", _ => "TEXT" },
    } + (e.Nullable && e.Type != OptionValueType.Text ? "|null" : "");

    /// <summary>Every option of the verb, in help order.</summary>
    public IEnumerable<Option> All
    {
        get
        {
            yield return Out;
            yield return Preset;
            yield return Framework;
            yield return OptionsFile;
            if (Genotype is not null) yield return Genotype;
            if (Checkpoint is not null) yield return Checkpoint;
            if (From is not null) yield return From;
            yield return Epochs;
            yield return BatchSize;
            yield return Lr;
            yield return Fresh;
            yield return PrintOptions;
            yield return PrintMemory;
            foreach (var (_, option) in Catalog) yield return option;
        }
    }

    /// <summary>A resolver error as "path: message (--flag)", naming the flags that set that path on this verb.</summary>
    public string Describe(FieldError error)
    {
        var names = new List<string>();
        switch (error.Path)
        {
            case "preset": names.Add(Preset.Name); break;
            case "framework": names.Add(Framework.Name); break;
            case "checkpoint" when Checkpoint is not null: names.Add(Checkpoint.Name); break;
            case "pretrain.genotype" when Genotype is not null: names.Add(Genotype.Name); break;
        }
        foreach (var (option, paths) in StageShorts)
            if (paths.Contains(error.Path)) names.Add(option.Name);
        foreach (var (entry, option) in Catalog)
            if (string.Equals(entry.Path, error.Path, StringComparison.OrdinalIgnoreCase)) names.AddRange(option.Aliases.Prepend(option.Name));
        var text = error.ToString();
        return names.Count == 0 ? text : $"{text} ({string.Join(", ", names.Distinct())})";
    }
}

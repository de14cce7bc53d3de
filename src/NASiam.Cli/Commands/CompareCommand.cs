using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using NASiam.Core;
using NASiam.Core.Comparison;
using NASiam.Core.Engine;
using NASiam.Core.Options;
using NASiam.Core.Reporting;

namespace NASiam.Cli.Commands;

/// <summary>
/// <c>nasiam compare</c>: the genotype versus the framework's standard heads over seeds, in this
/// process, one child after another (optional searches, then per seed and arm a pre-training and a
/// linear evaluation). The plan and every child's options come from <see cref="ComparisonPlanner"/>
/// (hence <see cref="RunRequestResolver"/>). Re-running into the same folder resumes: finished
/// children are kept, an interrupted one continues from its checkpoint. Prints a table and writes
/// OUT/comparison.json and OUT/comparison.csv.
/// </summary>
public static class CompareCommand
{
    public static Command Create(CliContext context)
    {
        var outDir = new Option<string>("--out") { HelpName = "DIR", Description = "Output folder (required): one sub-folder per child run, comparison.json and comparison.csv. Re-running resumes." };
        var preset = new Option<string>("--preset") { HelpName = "NAME", Description = $"Recipe: {ComparisonPresets.QuickCompare} (2 seeds, ~10 CPU minutes on the synthetic set), or a run preset ({string.Join(", ", RunPresets.Names)})." };
        var framework = new Option<string>("--framework") { HelpName = string.Join("|", EnumNames.All<Framework>()), Description = "Framework (with quick presets: its flavour)." };
        var genotype = new Option<string>("--genotype") { HelpName = "G", Description = "The genotype to compare: a preset (nasiam genotype presets), a file or genotype text. Without it, a search runs first." };
        var seeds = new Option<string>("--seeds") { HelpName = "0,1,2", Description = "Seeds of the paired pre-trainings (default: the preset's, else 0,1,2)." };
        var searchSeeds = new Option<string>("--search-seeds") { HelpName = "0,1", Description = "Without --genotype: one search per seed; with 2 or more the modal genotype is compared and the search stability is reported." };
        var optionsFile = new Option<string>("--options") { HelpName = "FILE", Description = "A JSON merge patch on every child's options (as for the run verbs)." };
        var pretrainEpochs = new Option<int?>("--pretrain-epochs") { HelpName = "N", Description = "pretrain.epochs of both arms." };
        var linearEpochs = new Option<int?>("--linear-epochs") { HelpName = "N", Description = "linear.epochs of both arms." };
        var syntheticSize = new Option<int?>("--synthetic-size") { HelpName = "N", Description = "syntheticTrainSize (synthetic data set)." };
        var maxSteps = new Option<long?>("--max-steps") { HelpName = "N", Description = "maxStepsPerStage: cap on weight steps per stage (demos, tests)." };
        var threads = new Option<int?>("--threads") { HelpName = "N", Description = "CPU threads for torch (0 = all cores)." };
        var printOptions = new Option<bool>("--print-options") { Description = "Print the planned comparison (seeds, genotype, the recipe's resolved options) as JSON and exit without running; --out is not needed." };
        var command = new Command("compare",
            "Compare a genotype with the framework's standard heads: per seed both are pre-trained under the identical recipe, data order and seed, " +
            "then linear-evaluated. Prints per-seed results, mean ± std and the paired difference with a 95 % confidence interval (paired t).")
        {
            outDir, preset, framework, genotype, seeds, searchSeeds, optionsFile, pretrainEpochs, linearEpochs, syntheticSize, maxSteps, threads, printOptions,
        };
        command.SetAction(parse =>
        {
            var errors = new List<string>();
            JsonObject overrides = new();
            if (parse.GetValue(optionsFile) is { } file)
            {
                if (!File.Exists(file)) errors.Add($"--options: file '{file}' does not exist");
                else
                {
                    var (patch, error) = RunRequestResolver.ParseOverrides(File.ReadAllText(file), "--options");
                    if (error is not null) errors.Add($"--options {file}: {error.Message}");
                    else overrides = patch!;
                }
            }
            if (parse.GetValue(pretrainEpochs) is { } pe) Sub(overrides, "pretrain")["epochs"] = pe;
            if (parse.GetValue(linearEpochs) is { } le) Sub(overrides, "linear")["epochs"] = le;
            if (parse.GetValue(syntheticSize) is { } ss) overrides["syntheticTrainSize"] = ss;
            if (parse.GetValue(maxSteps) is { } ms) overrides["maxStepsPerStage"] = ms;
            if (parse.GetValue(threads) is { } th) overrides["threads"] = th;
            var seedList = ParseSeeds(parse.GetValue(seeds), "--seeds", errors);
            var searchList = ParseSeeds(parse.GetValue(searchSeeds), "--search-seeds", errors);
            var dir = parse.GetValue(outDir);
            bool print = parse.GetValue(printOptions);
            if (dir is null && !print) errors.Add("--out DIR is required (or --print-options to only show the planned comparison)");
            if (errors.Count > 0)
            {
                foreach (var e in errors) context.Stderr.WriteLine($"nasiam compare: {e}");
                return ExitCodes.BadInput;
            }
            var request = new ComparisonRequest
            {
                Preset = parse.GetValue(preset), Framework = parse.GetValue(framework), Genotype = parse.GetValue(genotype),
                Seeds = seedList, SearchSeeds = searchList, Overrides = overrides.Count == 0 ? null : overrides,
            };
            return print ? PrintPlan(request, context) : Execute(request, Path.GetFullPath(dir!), context);
        });
        return command;
    }

    static JsonObject Sub(JsonObject o, string name)
    {
        if (o[name] is not JsonObject inner) o[name] = inner = new JsonObject();
        return inner;
    }

    static int[]? ParseSeeds(string? text, string flag, List<string> errors)
    {
        if (text is null) return null;
        var list = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (int.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out var s)) list.Add(s);
            else errors.Add($"{flag}: '{part}' is not an integer (give e.g. 0,1,2)");
        }
        return list.ToArray();
    }

    /// <summary>
    /// <c>--print-options</c>: the plan the comparison planner gives (the API's), as JSON on stdout, its notices on
    /// stderr as a run prints them; nothing runs and nothing is written.
    /// </summary>
    static int PrintPlan(ComparisonRequest request, CliContext context)
    {
        var planned = ComparisonPlanner.Plan(request, RunRequestPolicy.CliOnThisHost());
        foreach (var n in planned.Notices) context.Stderr.WriteLine($"nasiam compare: note: {n}");
        if (!planned.Ok)
        {
            foreach (var e in planned.Errors) context.Stderr.WriteLine($"nasiam compare: {Flag(e)}");
            return ExitCodes.BadInput;
        }
        var plan = planned.Plan!;
        var json = new JsonObject
        {
            ["name"] = plan.Name,
            ["framework"] = plan.Framework.ToName(),
            ["preset"] = plan.Preset,
            ["seeds"] = new JsonArray(plan.Seeds.Select(s => (JsonNode)s).ToArray()),
            ["searchSeeds"] = new JsonArray(plan.SearchSeeds.Select(s => (JsonNode)s).ToArray()),
            // Null with search seeds: the searches find it.
            ["genotype"] = plan.GenotypeText,
            ["overrides"] = plan.Overrides?.DeepClone(),
            ["recipe"] = JsonNode.Parse(plan.Recipe.ToJson()),
            ["notices"] = new JsonArray(planned.Notices.Select(n => (JsonNode)n).ToArray()),
        };
        context.Stdout.WriteLine(json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return ExitCodes.Ok;
    }

    static int Execute(ComparisonRequest request, string outDir, CliContext context)
    {
        var (stdout, stderr) = (context.Stdout, context.Stderr);
        var planned = ComparisonPlanner.Plan(request, RunRequestPolicy.CliOnThisHost());
        foreach (var n in planned.Notices) stderr.WriteLine($"nasiam compare: note: {n}");
        if (!planned.Ok)
        {
            foreach (var e in planned.Errors) stderr.WriteLine($"nasiam compare: {Flag(e)}");
            return ExitCodes.BadInput;
        }
        var plan = planned.Plan!;
        Directory.CreateDirectory(outDir);
        stdout.WriteLine($"nasiam compare: {plan.Framework.ToName()}, {plan.Recipe.Backbone}, {plan.Recipe.Dataset}, seeds {string.Join(",", plan.Seeds)} → {outDir}");

        if (plan.GenotypeText is not null) stdout.WriteLine($"genotype: {plan.GenotypeText}");
        // The children and their order come from the one schedule the web's coordinator follows;
        // this door runs them one at a time, in the order given (an evaluation before the next pre-training).
        var children = new Dictionary<ComparisonChildKey, ComparisonChildView>();
        while (true)
        {
            var step = ComparisonSchedule.Next(plan, children.Values);
            if (step.PlanChanged)
            {
                plan = step.Plan;
                foreach (var n in step.Stability?.Notices ?? []) stderr.WriteLine($"nasiam compare: note: {n}");
                stdout.WriteLine($"genotype: {plan.GenotypeText}");
            }
            if (step.Done) break;
            if (step.Create.Count == 0) throw new InvalidOperationException("the comparison schedule waits, yet every child finished");
            var todo = step.Create[0];
            var dir = ChildDirectory(outDir, todo.Key);
            var child = RunChild(todo.Options, dir, Label(todo.Key), context);
            if (child.Exit != ExitCodes.Ok) return child.Exit;
            children[todo.Key] = new ComparisonChildView
            {
                Key = todo.Key, State = ComparisonChildState.Succeeded, Options = child.Options, Directory = dir,
                Artifacts = child.Artifacts, Metrics = child.Metrics, GenotypeText = child.Genotype,
                FinalAlphas = () => child.FinalAlphas, Measures = () => child.Measures,
            };
        }

        var report = ComparisonSchedule.Report(Guid.NewGuid(), plan, "succeeded", children.Values, finishedAt: DateTimeOffset.UtcNow);
        report.WriteFiles(outDir);
        stdout.Write(Table(report));
        foreach (var n in report.Notices.Except(planned.Notices)) stderr.WriteLine($"nasiam compare: note: {n}");
        stdout.WriteLine($"done: {Path.Combine(outDir, ComparisonReport.JsonFile)}, {Path.Combine(outDir, ComparisonReport.CsvFile)}");
        return ExitCodes.Ok;
    }

    /// <summary>
    /// A child's folder under the comparison's: search-seed1/, seed1/genotype/pretrain/, seed1/standard/lincls/. A folder
    /// a comparison made before the standard arm's rename (seed1/baseline/...) is kept, so a rerun resumes it.
    /// </summary>
    static string ChildDirectory(string outDir, ComparisonChildKey key)
    {
        if (key.Role == ComparisonRoles.Search) return Path.Combine(outDir, $"search-seed{key.Seed}");
        var dir = Path.Combine(outDir, $"seed{key.Seed}", key.Arm, key.Role);
        var legacy = Path.Combine(outDir, $"seed{key.Seed}", ComparisonArms.LegacyStandard, key.Role);
        return key.Arm == ComparisonArms.Standard && !Directory.Exists(dir) && Directory.Exists(legacy) ? legacy : dir;
    }

    static string Label(ComparisonChildKey key) => key.Role switch
    {
        ComparisonRoles.Search => $"search seed {key.Seed}",
        ComparisonRoles.Pretrain => $"seed {key.Seed} {key.Arm} pre-train",
        _ => $"seed {key.Seed} {key.Arm} linear eval",
    };

    static string Flag(FieldError e) => e.Path switch
    {
        "seeds" => $"{e} (--seeds)",
        "searchSeeds" => $"{e} (--search-seeds)",
        "genotype" => $"{e} (--genotype)",
        "preset" => $"{e} (--preset)",
        "framework" => $"{e} (--framework)",
        _ => e.ToString(),
    };

    /// <summary>The per-seed table and the summary lines, as printed.</summary>
    public static string Table(ComparisonReport report)
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new System.Text.StringBuilder();
        sb.AppendLine(string.Format(c, "{0,-5} {1,-9} {2,12} {3,12} {4,10} {5,12} {6,10}", "seed", "arm", "lincls top1", "lincls top5", "kNN top1", "pretrain s", "img/s"));
        foreach (var r in report.Results)
            sb.AppendLine(string.Format(c, "{0,-5} {1,-9} {2,12} {3,12} {4,10} {5,12} {6,10}", r.Seed, r.Arm, F(r.LinclsTop1), F(r.LinclsTop5), F(r.KnnTop1), F(r.PretrainSeconds), F(r.ImagesPerSecond)));
        sb.AppendLine();
        foreach (var m in report.Metrics.Concat(report.Cost))
            sb.AppendLine($"{m.Label}: genotype {S(m.Genotype)}, standard {S(m.Baseline)} {m.Unit}; genotype − standard {m.Words}");
        return sb.ToString();

        string F(double? v) => v is { } x ? x.ToString("0.00", c) : "—";
        string S(SampleSummary? s) => s is null ? "—" : s.Std is { } sd ? $"{s.Mean.ToString("0.00", c)} ± {sd.ToString("0.00", c)}" : s.Mean.ToString("0.00", c);
    }

    sealed record Child(int Exit, RunOptions? Options, IReadOnlyDictionary<string, double> Metrics, IReadOnlyDictionary<string, string> Artifacts,
        ChildMeasures Measures, string? Genotype, IReadOnlyList<CellAlphas>? FinalAlphas);

    const string MeasuresFile = "measures.json";

    /// <summary>
    /// Runs one child into <paramref name="dir"/> (resuming), or keeps it when its result.json says
    /// it succeeded with these options and its measures were saved.
    /// </summary>
    static Child RunChild(RunResolution resolution, string dir, string label, CliContext context)
    {
        var (stdout, stderr) = (context.Stdout, context.Stderr);
        if (!resolution.Ok)
        {
            foreach (var e in resolution.Errors) stderr.WriteLine($"nasiam compare: {label}: {e}");
            return new(ExitCodes.BadInput, null, new Dictionary<string, double>(), new Dictionary<string, string>(), new([], null, null), null, null);
        }
        var options = resolution.Options!;
        var resultPath = Path.Combine(dir, "result.json");
        var measuresPath = Path.Combine(dir, MeasuresFile);
        if (File.Exists(resultPath) && File.Exists(measuresPath))
        {
            var root = JsonNode.Parse(File.ReadAllText(resultPath))!.AsObject();
            var saved = RunOptions.FromJson(root["options"]!.ToJsonString());
            if ((string?)root["outcome"] == "succeeded" && saved with { Threads = 0 } == options with { Threads = 0 })
            {
                stdout.WriteLine($"{label}: finished earlier, kept ({dir})");
                var m = root["metrics"]!.AsObject().ToDictionary(kv => kv.Key, kv => (double)kv.Value!);
                var a = root["artifacts"]!.AsObject().ToDictionary(kv => kv.Key, kv => (string)kv.Value!);
                var saveds = JsonSerializer.Deserialize<SavedMeasures>(File.ReadAllText(measuresPath), ComparisonReport.Json)!;
                return new(ExitCodes.Ok, options, m, a, saveds.Measures, (string?)root["genotype"], saveds.FinalAlphas);
            }
        }

        Directory.CreateDirectory(dir);
        stdout.WriteLine($"{label} → {dir}");
        var recorder = new RecordingObserver();
        RunResult result;
        using (var metrics = new BackgroundObserver(new MetricsJsonlObserver(Path.Combine(dir, "metrics.jsonl"))))
        using (var progress = new BackgroundObserver(new ConsoleProgressObserver(stdout, interactive: false)))
            result = new NasiamEngine().Run(options, new RunContext { RunId = Guid.NewGuid(), OutputDirectory = dir, Resume = true },
                new CompositeObserver(recorder, metrics, progress), context.CancellationToken);
        var measures = ChildMeasures.From(recorder.Events);
        var alphas = recorder.Events.OfType<AlphasLogged>().LastOrDefault()?.Cells;
        switch (result.Outcome)
        {
            case RunOutcome.Succeeded:
                NASiam.Core.IO.AtomicFile.WriteAllText(measuresPath, JsonSerializer.Serialize(new SavedMeasures(measures, alphas), ComparisonReport.Json));
                return new(ExitCodes.Ok, options, result.Metrics, result.Artifacts, measures, result.GenotypeText, alphas);
            case RunOutcome.Cancelled:
                stderr.WriteLine($"nasiam compare: {label} cancelled; run the same command again to resume (finished children are kept)");
                return new(ExitCodes.Cancelled, options, result.Metrics, result.Artifacts, measures, null, null);
            default:
                stderr.WriteLine($"nasiam compare: {label} failed: {result.Message}");
                return new(ExitCodes.RunFailed, options, result.Metrics, result.Artifacts, measures, null, null);
        }
    }

    /// <summary>A finished child's measures, kept so a resumed comparison need not re-read its events.</summary>
    sealed record SavedMeasures(ChildMeasures Measures, IReadOnlyList<CellAlphas>? FinalAlphas);
}

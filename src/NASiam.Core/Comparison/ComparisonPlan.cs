using System.Text.Json;
using System.Text.Json.Nodes;
using NASiam.Core.Genotypes;
using NASiam.Core.Options;

namespace NASiam.Core.Comparison;

/// <summary>
/// A request for a genotype-versus-baseline comparison, as every door (form, API, CLI) gives it.
/// The recipe (preset, framework, overrides) is a <see cref="RunRequest"/>'s; the comparison adds
/// what is compared and over which seeds.
/// </summary>
public sealed record ComparisonRequest
{
    public string? Name { get; init; }
    /// <summary>A <see cref="RunPresets"/> name, or <see cref="ComparisonPresets.QuickCompare"/>.</summary>
    public string? Preset { get; init; }
    public string? Framework { get; init; }
    /// <summary>Partial run options (JSON merge patch) applied to every child, as in <see cref="RunRequest.Overrides"/>.</summary>
    public JsonObject? Overrides { get; init; }
    /// <summary>
    /// The genotype to compare (a <see cref="GenotypeReference"/>: preset name, text, JSON, a file where
    /// allowed; the web also takes a run or library id). Null or "searched" = a fresh search first.
    /// </summary>
    public string? Genotype { get; init; }
    /// <summary>Seeds of the paired pre-trainings; null = the preset's (quick comparison) or [0, 1, 2].</summary>
    public IReadOnlyList<int>? Seeds { get; init; }
    /// <summary>Seeds of the fresh searches (only without a genotype); null = the first comparison seed. Two or more give a stability analysis and the modal genotype is compared.</summary>
    public IReadOnlyList<int>? SearchSeeds { get; init; }
    /// <summary>
    /// The options of the run whose genotype is compared (a source run), with <see cref="SourceName"/>: without a
    /// preset the arms start from them (its backbone, data, heads and stage recipes), not from the framework's full
    /// recipe, which for a quick demo's search was a ResNet-50 at 800 epochs that ran a host out of memory.
    /// </summary>
    public RunOptions? SourceOptions { get; init; }
    /// <summary>How notices name the source run ("run ID ('NAME')").</summary>
    public string? SourceName { get; init; }
}

/// <summary>A validated comparison: the resolved genotype (or the searches that will find it) and the recipe's request.</summary>
public sealed record ComparisonPlan
{
    public required string Name { get; init; }
    public required Framework Framework { get; init; }
    public required IReadOnlyList<int> Seeds { get; init; }
    /// <summary>Searches to run first (fresh search); empty when the genotype is given.</summary>
    public required IReadOnlyList<int> SearchSeeds { get; init; }
    /// <summary>The compared genotype in reference text; null until the searches have found it.</summary>
    public string? GenotypeText { get; init; }
    /// <summary>The run preset the children start from (a comparison preset resolves to its run preset).</summary>
    public string? Preset { get; init; }
    /// <summary>The overrides every child gets (the comparison preset's, then the request's).</summary>
    public JsonObject? Overrides { get; init; }
    /// <summary>The baseline pre-training of the first seed: the recipe both arms share (for display and files).</summary>
    public required RunOptions Recipe { get; init; }
    public IReadOnlyList<string> Notices { get; init; } = [];
}

/// <summary>The result of planning: the plan, or every field error; notices either way.</summary>
public sealed record ComparisonPlanResult(ComparisonPlan? Plan, IReadOnlyList<FieldError> Errors, IReadOnlyList<string> Notices)
{
    public bool Ok => Plan is not null && Errors.Count == 0;
}

/// <summary>
/// Named comparison starting points. <c>quick-compare</c>: the quick demo's recipe on the built-in
/// synthetic set, 2 seeds, a search first when no genotype is given: 1 search, 4 pre-trainings and 4
/// linear evaluations, about ten minutes on 2 quiet CPU cores for SimCLR (README "Genotype versus baseline").
/// </summary>
public static class ComparisonPresets
{
    public const string QuickCompare = "quick-compare";

    public static IReadOnlyDictionary<string, string> Descriptions { get; } = new Dictionary<string, string>
    {
        [QuickCompare] = "the quick demo's recipe on the synthetic set, 2 seeds: about 10 minutes on 2 CPU cores (SimCLR)",
    };

    /// <summary>The run preset, default seeds and overrides of a comparison preset; null when <paramref name="name"/> is not one.</summary>
    public static (string RunPreset, int[] Seeds, JsonObject Overrides)? Find(string? name)
    {
        if (!string.Equals(name?.Trim(), QuickCompare, StringComparison.OrdinalIgnoreCase)) return null;
        // The quick demo's recipe as is (18 pre-training epochs of 32 steps, 10 linear epochs, resnet-tiny): with 8
        // pre-training epochs MoCo stayed near the untrained level (README, genotype vs baseline).
        return (RunPresets.QuickDemo, [0, 1], new JsonObject());
    }
}

/// <summary>
/// Turns a <see cref="ComparisonRequest"/> into the options of each child run. Every child's options
/// come from <see cref="RunRequestResolver"/> (the one place a run's meaning is decided): the two arms
/// of a seed differ only in <c>pretrain.genotype</c> (the genotype versus "standard"), so recipe,
/// data order and seed are identical. Linear evaluations resolve from their pre-training checkpoint.
/// </summary>
public static class ComparisonPlanner
{
    /// <summary>The most seeds one comparison may have (each seed is two pre-trainings).</summary>
    public const int MaxSeeds = 20;

    /// <summary>The longest comparison name: its children's names add up to 41 characters (" · seed 2147483647 · standard linear eval").</summary>
    public const int MaxNameLength = RunOptionsValidator.MaxNameLength - 50;

    /// <summary>
    /// The children's policy: the recipe was checked with the door's at planning; a child is created later, maybe
    /// on a node that does not see the workers' data folders, so its folder is left to the run.
    /// </summary>
    static readonly RunRequestPolicy ChildPolicy = RunRequestPolicy.Cli with { CheckDataFolders = false };

    /// <summary>Validates <paramref name="request"/> under <paramref name="policy"/>; never throws for bad input.</summary>
    public static ComparisonPlanResult Plan(ComparisonRequest request, RunRequestPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(request);
        var errors = new List<FieldError>();
        var notices = new List<string>();
        string? preset = request.Preset;
        JsonObject? overrides = request.Overrides?.DeepClone().AsObject();
        int[] seeds = request.Seeds?.ToArray() ?? [0, 1, 2];
        // An unknown name: the run presets' message, plus the comparison preset it does not know.
        if (!string.IsNullOrWhiteSpace(request.Preset) && ComparisonPresets.Find(request.Preset) is null)
        {
            try { RunPresets.Get(request.Preset); }
            catch (ArgumentException e) { return new(null, [new FieldError("preset", $"{e.Message.TrimEnd('.')}; or the comparison preset {ComparisonPresets.QuickCompare}")], notices); }
        }
        if (string.IsNullOrWhiteSpace(request.Preset) && request.SourceOptions is { } source)
        {
            var based = SourceRecipe(source);
            if (overrides is not null) MergePatches.LayerOnto(based, overrides);
            overrides = based;
            notices.Add($"preset: none given, so the arms take the recipe {request.SourceName ?? "the source run"} was queued with " +
                        $"({source.Backbone}, {source.Dataset}, pre-training {source.Pretrain.Epochs} epochs at batch {source.Pretrain.BatchSize}" +
                        $"{(source.MaxStepsPerStage is { } sourceCap ? $", at most {sourceCap} steps a stage" : "")}); give a preset for another");
        }
        if (ComparisonPresets.Find(request.Preset) is { } cp)
        {
            preset = cp.RunPreset;
            if (request.Seeds is null) seeds = cp.Seeds;
            var merged = cp.Overrides;
            if (overrides is not null) MergePatches.LayerOnto(merged, overrides);
            overrides = merged;
        }

        // A comparison sets each child's kind and seed itself: the same fields in the options would be overwritten.
        if (request.Overrides is { } given)
        {
            foreach (var (key, message) in new[] { ("kind", "a comparison decides its children's kinds; leave kind out"), ("seed", "a comparison's seeds are given by seeds (and searchSeeds); leave seed out") })
            {
                if (given.FirstOrDefault(p => string.Equals(p.Key, key, StringComparison.OrdinalIgnoreCase)) is not { Key: { } found }) continue;
                errors.Add(new("overrides." + key, message));
                overrides?.Remove(found);
            }
            // Each arm's heads are the comparison's own (the genotype, and the standard heads): a genotype in the
            // options was overwritten without a word.
            if (given.FirstOrDefault(p => string.Equals(p.Key, "pretrain", StringComparison.OrdinalIgnoreCase)).Value is JsonObject pre
                && pre.FirstOrDefault(p => string.Equals(p.Key, "genotype", StringComparison.OrdinalIgnoreCase)) is { Key: { } genotypeKey })
            {
                errors.Add(new("overrides.pretrain.genotype", "a comparison pre-trains its genotype against the standard heads: give the genotype as genotype (top level) or sourceRunId, and leave pretrain.genotype out"));
                (overrides?[RunRequestResolver.FindKey(overrides, "pretrain") ?? "pretrain"] as JsonObject)?.Remove(genotypeKey);
            }
        }
        if (seeds.Length == 0) errors.Add(new("seeds", "give at least one seed"));
        if (seeds.Length > MaxSeeds) errors.Add(new("seeds", $"at most {MaxSeeds} seeds"));
        if (seeds.Distinct().Count() != seeds.Length) errors.Add(new("seeds", "seeds must be distinct (a repeated seed is the same pair twice)"));
        if (seeds.Any(s => s < 0)) errors.Add(new("seeds", "seeds must be 0 or more"));

        bool fresh = GenotypeReference.IsSearched(request.Genotype) || string.IsNullOrWhiteSpace(request.Genotype);
        int[] searchSeeds = fresh ? request.SearchSeeds?.ToArray() ?? (seeds.Length > 0 ? [seeds[0]] : []) : [];
        if (!fresh && request.SearchSeeds is { Count: > 0 })
            errors.Add(new("searchSeeds", "only with a fresh search (no genotype given)"));
        // Defaulted from seeds, searchSeeds would repeat the seeds' own error: checked only when given.
        if (fresh && request.SearchSeeds is not null && (searchSeeds.Length == 0 || searchSeeds.Length > MaxSeeds || searchSeeds.Distinct().Count() != searchSeeds.Length || searchSeeds.Any(s => s < 0)))
            errors.Add(new("searchSeeds", $"give 1 to {MaxSeeds} distinct seeds, each 0 or more"));

        // The recipe: the baseline pre-training of the first seed, through the resolver (with seed 0 where
        // the seeds are already reported bad, so their error is not repeated as the options' seed).
        int recipeSeed = seeds.Length > 0 && seeds[0] >= 0 ? seeds[0] : 0;
        var recipe = RunRequestResolver.Resolve(ChildRequest(preset, request.Framework, overrides, RunKind.Pretrain, recipeSeed, GenotypeReference.Standard), policy);
        // The recipe is resolved as a pre-training; which fields go unused is the comparison's (its children's kinds) to say, below.
        notices.AddRange(recipe.Notices.Where(n => !n.StartsWith("pretrain.genotype", StringComparison.Ordinal) && !n.StartsWith(RunRequestResolver.UnusedNoticePrefix, StringComparison.Ordinal)));
        if (!recipe.Ok)
        {
            // The genotype's own error in the same answer where the framework is known without the recipe (a form
            // otherwise showed it only after the options were fixed).
            if (!fresh && FrameworkNames.TryParse(request.Framework, out var asked) && recipe.Errors.All(e => e.Path != "framework"))
                GenotypeError(asked);
            return new(null, [.. errors, .. recipe.Errors], notices);
        }
        var options = recipe.Options!;

        string? genotypeText = null;
        if (!fresh && GenotypeError(options.Framework) is { } resolved)
            genotypeText = GenotypeText.Write(resolved);
        else if (fresh)
        {
            var search = RunRequestResolver.Resolve(ChildRequest(preset, request.Framework, overrides, RunKind.Search, Math.Max(0, searchSeeds.FirstOrDefault()), null), policy);
            if (!search.Ok) errors.AddRange(search.Errors);
            notices.AddRange(search.Notices.Where(n => n.StartsWith(RunMemoryEstimate.NoticePrefix, StringComparison.Ordinal)).Select(n => $"search child: {n}"));
            notices.Add(searchSeeds.Length > 1
                ? $"no genotype given: {searchSeeds.Length} searches run first; their modal genotype is compared"
                : "no genotype given: a search runs first and its genotype is compared");
        }
        if (errors.Count > 0) return new(null, errors, notices);
        RunKind[] childKinds = fresh ? [RunKind.Search, RunKind.Pretrain, RunKind.LinCls] : [RunKind.Pretrain, RunKind.LinCls];
        // linear.useBestCheckpoint is read here, not by a child: the comparison picks each pre-training's evaluated
        // checkpoint by the pipeline's rule (EvaluatedCheckpoint).
        if (RunRequestResolver.UnusedNotice(recipe.ChangedFields.Where(p => p is not ("seed" or "name" or "linear.useBestCheckpoint")), options.Framework, childKinds) is { } unused)
            notices.Add(unused);
        if (seeds.Length == 1) notices.Add(ComparisonReport.OneSeedNotice);
        // Each capped stage succeeds: without this the report read as the recipe's epochs.
        if (options.MaxStepsPerStage is { } cap)
            notices.Add($"maxStepsPerStage {cap}: every stage of every child stops after at most {cap} steps, so the arms are compared on " +
                        "shortened training, not the recipe's epochs (each run's log says where its stages ended)");

        var name = string.IsNullOrWhiteSpace(request.Name) ? $"compare {options.Framework.ToName()} {options.Backbone} {options.Dataset}" : request.Name.Trim();
        // Checked here, not as each child's name: a long one failed as its children's "name must be at most 200 characters".
        if (DisplayNames.Problem(name, MaxNameLength) is { } nameProblem) return new(null, [new FieldError("name", nameProblem)], notices);
        return new(new ComparisonPlan
        {
            Name = name, Framework = options.Framework, Seeds = seeds, SearchSeeds = searchSeeds, GenotypeText = genotypeText,
            Preset = preset, Overrides = overrides, Recipe = options, Notices = notices,
        }, [], notices);

        // The given genotype under framework: its errors and notices are added; the genotype, or null.
        Genotype? GenotypeError(Framework framework)
        {
            try
            {
                var g = GenotypeReference.Resolve(request.Genotype, framework, policy.AllowServerFiles, policy.GenotypeById, policy.GenotypeByName, out var stored);
                if (g is null) errors.Add(new("genotype", "'standard' is the baseline itself; give the genotype to compare with it (or none for a fresh search)"));
                else notices.AddRange(GenotypeReference.Notices(request.Genotype, policy.AllowServerFiles, stored).Select(n => $"genotype: {n}"));
                return g;
            }
            catch (Exception e) when (e is ArgumentException or FormatException or IOException or UnauthorizedAccessException)
            {
                errors.Add(new("genotype", e.Message));
                return null;
            }
        }
    }

    /// <summary>Options of the search child for <paramref name="seed"/>.</summary>
    public static RunResolution SearchOptions(ComparisonPlan plan, int seed) =>
        RunRequestResolver.Resolve(ChildRequest(plan.Preset, plan.Framework.ToName(), plan.Overrides, RunKind.Search, seed, null, $"{plan.Name} · search seed {seed}"), ChildPolicy);

    /// <summary>
    /// Options of the pre-training child of <paramref name="arm"/> for <paramref name="seed"/>; the
    /// genotype arm needs <see cref="ComparisonPlan.GenotypeText"/> (set once the searches finished).
    /// </summary>
    /// <exception cref="InvalidOperationException">The genotype arm before the genotype is known.</exception>
    public static RunResolution PretrainOptions(ComparisonPlan plan, int seed, string arm)
    {
        string genotype = arm == ComparisonArms.Standard ? GenotypeReference.Standard
            : plan.GenotypeText ?? throw new InvalidOperationException("The comparison's genotype is not known yet (its searches have not finished).");
        return RunRequestResolver.Resolve(ChildRequest(plan.Preset, plan.Framework.ToName(), plan.Overrides, RunKind.Pretrain, seed, genotype, $"{plan.Name} · seed {seed} · {arm} pre-train"), ChildPolicy);
    }

    /// <summary>
    /// Options of the linear evaluation of a finished pre-training: its checkpoint is the base (the
    /// recipe, the seed and the linear settings are the pre-training's own).
    /// </summary>
    public static RunResolution LinearOptions(ComparisonPlan plan, int seed, string arm, string checkpointPath) =>
        RunRequestResolver.Resolve(new RunRequest
        {
            Kind = RunKind.LinCls, Checkpoint = checkpointPath,
            Overrides = new JsonObject { ["name"] = $"{plan.Name} · seed {seed} · {arm} linear eval" },
        }, ChildPolicy);

    /// <summary>
    /// Which checkpoint of a finished pre-training the linear evaluation reads: the kNN-best or the
    /// last, by the same rule as a pipeline (<see cref="Engine.NasiamEngine.EvaluatesBestCheckpoint"/>),
    /// so both arms are evaluated alike. Paths are relative to the pre-training's folder.
    /// </summary>
    public static string EvaluatedCheckpoint(RunOptions pretrainOptions, IReadOnlyDictionary<string, string> artifacts) =>
        Engine.NasiamEngine.EvaluatesBestCheckpoint(pretrainOptions) && artifacts.TryGetValue("pretrain-best", out var best) ? best
            : artifacts.TryGetValue("pretrain", out var last) ? last
            : throw new InvalidDataException("the pre-training left no checkpoint");

    static RunRequest ChildRequest(string? preset, string? framework, JsonObject? overrides, RunKind kind, int seed, string? genotype, string? name = null)
    {
        var patch = overrides?.DeepClone().AsObject() ?? new JsonObject();
        patch["seed"] = seed;
        if (name is not null) patch["name"] = name;
        return new RunRequest { Preset = preset, Framework = framework, Kind = kind, Overrides = patch, Genotype = genotype };
    }

    /// <summary>
    /// A source run's options as a merge patch for the arms: what the comparison decides itself (kind, seed, name, the
    /// pre-training genotype, the evaluated checkpoint) is left out, and so are unset (null) members (a patch's null removes).
    /// </summary>
    static JsonObject SourceRecipe(RunOptions source)
    {
        var json = JsonSerializer.SerializeToNode(source, RunOptions.Json)!.AsObject();
        foreach (var own in new[] { "kind", "seed", "name" }) json.Remove(own);
        (json["pretrain"] as JsonObject)?.Remove("genotype");
        (json["linear"] as JsonObject)?.Remove("checkpoint");
        RemoveNulls(json);
        return json;

        static void RemoveNulls(JsonObject o)
        {
            foreach (var (k, v) in o.ToArray())
                if (v is null) o.Remove(k);
                else if (v is JsonObject inner) RemoveNulls(inner);
        }
    }
}

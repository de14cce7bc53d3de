using NASiam.Core.Options;
using NASiam.Core.Reporting;

namespace NASiam.Core.Comparison;

/// <summary>The roles of a comparison's children.</summary>
public static class ComparisonRoles
{
    public const string Search = "search";
    public const string Pretrain = "pretrain";
    public const string Lincls = "lincls";
}

/// <summary>Where a comparison child stands, as its door stores it.</summary>
public enum ComparisonChildState
{
    /// <summary>Created and not finished (queued or running).</summary>
    Active,
    Succeeded,
    Failed,
    Cancelled,
}

/// <summary>Identity of one child: its role, its arm ("" for a search) and its seed.</summary>
public sealed record ComparisonChildKey(string Role, string Arm, int Seed)
{
    /// <summary>"search seed 1", "pretrain genotype seed 2", as messages name a child.</summary>
    public override string ToString() => $"{Role} {(Arm.Length > 0 ? Arm + " " : "")}seed {Seed}";
}

/// <summary>
/// What a door knows about one existing child: its state and, once it succeeded, its results.
/// Expensive parts (events) are lazy: the schedule reads them only when it needs them.
/// </summary>
public sealed record ComparisonChildView
{
    public required ComparisonChildKey Key { get; init; }
    public required ComparisonChildState State { get; init; }
    /// <summary>The child's failure or cancellation message, if any.</summary>
    public string? Message { get; init; }
    /// <summary>The child's resolved options (needed of a succeeded pre-training: which checkpoint to evaluate).</summary>
    public RunOptions? Options { get; init; }
    /// <summary>Folder the child's artefact paths are relative to.</summary>
    public string? Directory { get; init; }
    /// <summary>Artefact paths relative to <see cref="Directory"/> (e.g. "pretrain", "pretrain-best").</summary>
    public IReadOnlyDictionary<string, string> Artifacts { get; init; } = new Dictionary<string, string>();
    /// <summary>Final metrics (lincls_top1, lincls_top5, knn_top1, … in percent).</summary>
    public IReadOnlyDictionary<string, double> Metrics { get; init; } = new Dictionary<string, double>();
    /// <summary>The derived genotype of a succeeded search.</summary>
    public string? GenotypeText { get; init; }
    /// <summary>The last alphas a search logged (for <see cref="SearchStabilityReport"/>); null when none.</summary>
    public Func<IReadOnlyList<CellAlphas>?> FinalAlphas { get; init; } = () => null;
    /// <summary>Cost and kNN curve from the child's events.</summary>
    public Func<ChildMeasures> Measures { get; init; } = () => new([], null, null);
    /// <summary>The door's id of the child run, if it has one (web: the run id).</summary>
    public Guid? RunId { get; init; }
}

/// <summary>A child the schedule says to create now, with its options and the key of its parent (lineage).</summary>
public sealed record ComparisonChildToCreate(ComparisonChildKey Key, RunResolution Options, ComparisonChildKey? Parent);

/// <summary>
/// The order children are listed in (API, page): by seed, then pipeline stage (search, pretrain, lincls, as
/// <see cref="Engine.Runs.StageEnvironment.PipelineStages"/> runs them), then arm (<see cref="ComparisonArms.All"/>:
/// genotype, standard). A seed's linear evaluation comes after its pre-training.
/// </summary>
public static class ComparisonChildOrder
{
    /// <summary><paramref name="items"/> sorted by their keys in this order (stable; unknown roles or arms last).</summary>
    public static IEnumerable<T> Sort<T>(IEnumerable<T> items, Func<T, ComparisonChildKey> key) =>
        items.OrderBy(x => key(x).Seed)
            .ThenBy(x => Rank(Engine.Runs.StageEnvironment.PipelineStages, key(x).Role))
            .ThenBy(x => Rank(ComparisonArms.All, key(x).Arm));

    static int Rank(IReadOnlyList<string> order, string value)
    {
        for (int i = 0; i < order.Count; i++) if (order[i] == value) return i;
        return order.Count;
    }
}

/// <summary>
/// The schedule's answer for the current children: the plan (with the genotype filled in once the
/// searches finished), children to create, and whether the comparison stopped or is done.
/// </summary>
public sealed record ComparisonStep
{
    public required ComparisonPlan Plan { get; init; }
    /// <summary>True when the plan's genotype was set by this step (the door stores the plan).</summary>
    public bool PlanChanged { get; init; }
    /// <summary>Stability of the fresh searches, on the step that derived the genotype from them.</summary>
    public SearchStabilityReport? Stability { get; init; }
    /// <summary>Children whose inputs are ready; evaluations of finished pre-trainings come first.</summary>
    public IReadOnlyList<ComparisonChildToCreate> Create { get; init; } = [];
    /// <summary>A child failed or was cancelled: the comparison stops with that state and message.</summary>
    public (ComparisonChildState State, string Message)? Stopped { get; init; }
    /// <summary>Every child exists and succeeded: the report can be written.</summary>
    public bool Done { get; init; }
}

/// <summary>
/// The one rule for how a genotype-versus-baseline comparison proceeds (method doc, "comparison"):
/// fresh searches (one per search seed) → the modal genotype → per seed and arm a pre-training
/// (parent: the source or seed's search) → a linear evaluation of each finished pre-training's
/// evaluated checkpoint (parent: that pre-training). Pure: every door (the web's coordinator, the
/// CLI's sequential loop) gives it the children it has and creates what it returns, so both run the
/// same children with the same options and lineage, and report them alike (<see cref="Report"/>).
/// </summary>
public static class ComparisonSchedule
{
    /// <summary>
    /// The next step for <paramref name="plan"/> given the existing <paramref name="children"/>
    /// (at most one per key).
    /// </summary>
    /// <exception cref="InvalidDataException">A succeeded search has no genotype, or a succeeded pre-training no checkpoint.</exception>
    public static ComparisonStep Next(ComparisonPlan plan, IReadOnlyCollection<ComparisonChildView> children)
    {
        var byKey = children.ToDictionary(c => c.Key);
        ComparisonChildView? Find(string role, string arm, int seed) => byKey.GetValueOrDefault(new ComparisonChildKey(role, arm, seed));

        foreach (var c in children)
            if (c.State is ComparisonChildState.Failed or ComparisonChildState.Cancelled)
                return new ComparisonStep { Plan = plan, Stopped = (c.State, $"{c.Key} {c.State.ToString().ToLowerInvariant()}: {c.Message}") };

        var create = new List<ComparisonChildToCreate>();
        // 1. Searches (fresh search only).
        foreach (var seed in plan.SearchSeeds)
            if (Find(ComparisonRoles.Search, "", seed) is null)
                create.Add(new(new(ComparisonRoles.Search, "", seed), ComparisonPlanner.SearchOptions(plan, seed), null));
        if (create.Count > 0) return new ComparisonStep { Plan = plan, Create = create };

        bool changed = false;
        SearchStabilityReport? stability = null;
        if (plan.SearchSeeds.Count > 0)
        {
            var searches = plan.SearchSeeds.Select(s => Find(ComparisonRoles.Search, "", s)!).ToArray();
            if (searches.Any(s => s.State != ComparisonChildState.Succeeded)) return new ComparisonStep { Plan = plan };
            if (plan.GenotypeText is null)
            {
                // Once: the door stores the plan with its genotype, so later steps skip reading the alphas.
                stability = Stability(plan, searches);
                plan = plan with { GenotypeText = stability.ModalGenotypeText };
                changed = true;
            }
        }

        // 3 before 2 in the list: a sequential door evaluates a finished pre-training before it starts the next one.
        foreach (var seed in plan.Seeds)
            foreach (var arm in ComparisonArms.All)
            {
                var pre = Find(ComparisonRoles.Pretrain, arm, seed);
                if (pre?.State != ComparisonChildState.Succeeded || Find(ComparisonRoles.Lincls, arm, seed) is not null) continue;
                var options = pre.Options ?? throw new InvalidDataException($"{pre.Key} has no options");
                var checkpoint = Path.Combine(pre.Directory ?? "", ComparisonPlanner.EvaluatedCheckpoint(options, pre.Artifacts));
                create.Add(new(new(ComparisonRoles.Lincls, arm, seed), ComparisonPlanner.LinearOptions(plan, seed, arm, checkpoint), pre.Key));
            }
        foreach (var seed in plan.Seeds)
            foreach (var arm in ComparisonArms.All)
            {
                if (Find(ComparisonRoles.Pretrain, arm, seed) is not null) continue;
                ComparisonChildKey? parent = plan.SearchSeeds.Count == 0 ? null
                    : new(ComparisonRoles.Search, "", plan.SearchSeeds.Contains(seed) ? seed : plan.SearchSeeds[0]);
                create.Add(new(new(ComparisonRoles.Pretrain, arm, seed), ComparisonPlanner.PretrainOptions(plan, seed, arm), parent));
            }

        bool done = create.Count == 0 && children.All(c => c.State == ComparisonChildState.Succeeded)
                    && plan.Seeds.All(s => ComparisonArms.All.All(a => Find(ComparisonRoles.Lincls, a, s) is not null));
        return new ComparisonStep { Plan = plan, PlanChanged = changed, Stability = stability, Create = create, Done = done };
    }

    /// <summary>Stability of the plan's fresh searches (all succeeded).</summary>
    /// <exception cref="InvalidDataException">A search has no genotype.</exception>
    public static SearchStabilityReport Stability(ComparisonPlan plan, IEnumerable<ComparisonChildView> searches) =>
        SearchStabilityReport.Analyze(searches.Select(s => new SearchOutcome(s.Key.Seed,
            s.GenotypeText ?? throw new InvalidDataException($"{s.Key} finished without a genotype"), s.FinalAlphas())).ToArray(), plan.Framework);

    /// <summary>
    /// The comparison's report from its children as they stand (an unfinished child contributes
    /// nothing; the statistics cover the seeds with both arms). Accuracies in percent, times in seconds.
    /// </summary>
    public static ComparisonReport Report(Guid id, ComparisonPlan plan, string status, IReadOnlyCollection<ComparisonChildView> children,
        IEnumerable<string>? extraNotices = null, DateTimeOffset? finishedAt = null)
    {
        var byKey = children.ToDictionary(c => c.Key);
        var rows = new List<ComparisonSeedResult>();
        foreach (var seed in plan.Seeds)
            foreach (var arm in ComparisonArms.All)
            {
                var pre = byKey.GetValueOrDefault(new(ComparisonRoles.Pretrain, arm, seed));
                var lin = byKey.GetValueOrDefault(new(ComparisonRoles.Lincls, arm, seed));
                bool preOk = pre?.State == ComparisonChildState.Succeeded, linOk = lin?.State == ComparisonChildState.Succeeded;
                // A running pre-training's kNN curve and throughput are shown live; its time only once it finished.
                var pm = pre?.Measures();
                var lm = linOk ? lin!.Measures() : null;
                rows.Add(new ComparisonSeedResult
                {
                    Seed = seed, Arm = arm,
                    LinclsTop1 = linOk ? Finite(lin!.Metrics, "lincls_top1") : null,
                    LinclsTop5 = linOk ? Finite(lin!.Metrics, "lincls_top5") : null,
                    KnnTop1 = preOk ? Finite(pre!.Metrics, "knn_top1") ?? pm!.KnnCurve.LastOrDefault()?.Top1 : null,
                    HeadParameters = preOk && Finite(pre!.Metrics, "head_parameters") is { } hp ? (long)hp : null,
                    PretrainSeconds = preOk ? pm!.WallSeconds : null, LinclsSeconds = lm?.WallSeconds, ImagesPerSecond = pm?.ImagesPerSecond,
                    PretrainRunId = pre?.RunId, LinclsRunId = lin?.RunId, KnnCurve = pm?.KnnCurve ?? [],
                });
            }

        var notices = new List<string>(plan.Notices);
        if (extraNotices is not null) notices.AddRange(extraNotices);
        SearchStabilityReport? stability = null;
        var searches = plan.SearchSeeds.Select(s => byKey.GetValueOrDefault(new(ComparisonRoles.Search, "", s))).ToArray();
        if (searches.Length > 0 && searches.All(s => s?.State == ComparisonChildState.Succeeded))
        {
            try { stability = Stability(plan, searches!); }
            catch (Exception e) when (e is ArgumentException or InvalidDataException) { notices.Add($"search stability could not be computed: {e.Message}"); }
        }
        var o = plan.Recipe;
        return new ComparisonReport
        {
            Id = id, Name = plan.Name, Framework = o.Framework.ToName(), Backbone = o.Backbone, Dataset = o.Dataset, Seeds = plan.Seeds,
            GenotypeText = plan.GenotypeText, Status = status, Results = rows, Stability = stability,
            Recipe = System.Text.Json.JsonSerializer.SerializeToElement(o with { Name = null }, RunOptions.Json),
            Complete = rows.All(r => r.LinclsTop1 is not null && r.KnnTop1 is not null), Notices = notices, FinishedAt = finishedAt,
        }.WithStatistics();
    }

    // A non-finite metric is reported as missing (the report's Complete flag then says so), never as a number.
    static double? Finite(IReadOnlyDictionary<string, double> m, string key) => m.TryGetValue(key, out var v) && double.IsFinite(v) ? v : null;
}

using System.Text.Json;
using NASiam.Core;
using NASiam.Core.Comparison;
using NASiam.Core.Genotypes;
using NASiam.Core.Options;
using NASiam.Core.Reporting;
using NASiam.Web.Runs;

namespace NASiam.Web.Jobs;

/// <summary>The result of creating a comparison: the record, or the field errors; notices either way.</summary>
public sealed record ComparisonCreateResult(ComparisonRecord? Comparison, IReadOnlyList<FieldError> Errors, IReadOnlyList<string> Notices)
{
    public bool Ok => Comparison is not null && Errors.Count == 0;
}

/// <summary>
/// Genotype-versus-baseline comparisons on the web. A comparison is its own entity
/// (<see cref="ComparisonStore"/>), not a run: it never occupies a device worker. Its children are
/// ordinary runs queued through <see cref="RunScheduler.Create"/>: optional searches, then per seed
/// and arm a pre-training (parent: the source search) and a linear evaluation of its checkpoint
/// (parent: that pre-training). <see cref="Advance"/> moves a comparison on when children finish
/// (called by <see cref="ComparisonCoordinator"/>); it is idempotent, so a child that already exists
/// is never created twice and a finished child is never re-run.
/// </summary>
public sealed class ComparisonService(ComparisonStore comparisons, RunStore runs, RunScheduler scheduler, RunPaths paths, ILogger<ComparisonService> log)
{
    readonly Lock _gate = new();

    /// <summary>The comparison's child runs (role, arm, seed, run id).</summary>
    public IReadOnlyList<ComparisonChild> Children(Guid id) => comparisons.Children(id);

    /// <summary>Folder of a comparison's files (comparison.json, comparison.csv).</summary>
    public string Directory(Guid id) => Path.Combine(paths.DataDirectory, "comparisons", id.ToString("N"));

    /// <summary>
    /// Plans <paramref name="request"/> (web policy: no server paths; a run or library id as the
    /// genotype is looked up here) and queues its first children.
    /// </summary>
    public ComparisonCreateResult Create(ComparisonRequest request, Guid? sourceRunId = null)
    {
        var errors = new List<FieldError>();
        if (sourceRunId is { } src)
        {
            var run = runs.Get(src);
            if (run is null) return new(null, [new("sourceRunId", $"run {src} does not exist")], []);
            if (run.GenotypeText is null) return new(null, [new("sourceRunId", $"run {src} has no genotype (only a finished search or pipeline has one)")], []);
            if (request.Genotype is not null) return new(null, [new("genotype", "give a genotype or a source run, not both")], []);
            request = request with { Genotype = run.GenotypeText, Framework = request.Framework ?? run.Framework.ToName() };
        }
        else if (Guid.TryParse(request.Genotype?.Trim(), out var gid))
        {
            var text = runs.GenotypeTextById(gid);
            if (text is null) return new(null, [new("genotype", $"no genotype library entry or run with a genotype has id {gid}")], []);
            if (runs.Get(gid) is not null) sourceRunId = gid;
            request = request with { Genotype = text };
        }
        var planned = ComparisonPlanner.Plan(request, RunRequestPolicy.Web);
        if (!planned.Ok) return new(null, planned.Errors, planned.Notices);
        // The host's check of the device before anything is queued (the children would each fail it).
        var device = planned.Plan!.Recipe.Device;
        if (DeviceSpec.TryParse(device, out var spec) && spec.Kind != "auto" && !scheduler.Devices.Contains(spec.ToString()))
            return new(null, [new("device", $"'{device}' is not a device of this server; configured: {string.Join(", ", scheduler.Devices)}")], planned.Notices);

        var record = new ComparisonRecord
        {
            Id = Guid.NewGuid(), Name = planned.Plan.Name, Plan = planned.Plan, Status = RunStatus.Queued,
            SourceRunId = sourceRunId, CreatedAt = DateTimeOffset.UtcNow,
        };
        comparisons.Insert(record);
        TryAdvance(record.Id);
        return new(comparisons.Get(record.Id), errors, planned.Notices);
    }

    /// <summary>Cancels every active child; the comparison stops creating children. False when it is not active.</summary>
    public bool Cancel(Guid id)
    {
        lock (_gate)
        {
            var c = comparisons.Get(id);
            if (c is null || !c.IsActive) return false;
            comparisons.SetStatus(id, RunStatus.Cancelled, "Cancelled; resume continues with the unfinished children.", finished: true);
            foreach (var child in comparisons.Children(id))
                if (runs.Get(child.RunId) is { IsActive: true }) scheduler.Cancel(child.RunId);
            return true;
        }
    }

    /// <summary>
    /// Resumes a cancelled or failed comparison: stopped children continue from their checkpoints,
    /// finished ones are kept as they are, missing ones are created. False when there is nothing to resume.
    /// </summary>
    public bool Resume(Guid id)
    {
        lock (_gate)
        {
            var c = comparisons.Get(id);
            if (c is null || c.IsActive || c.Status == RunStatus.Succeeded) return false;
            comparisons.SetStatus(id, RunStatus.Running, null, finished: false);
            foreach (var child in comparisons.Children(id))
                if (runs.Get(child.RunId) is { CanResume: true }) scheduler.Resume(child.RunId);
        }
        TryAdvance(id);
        return true;
    }

    /// <summary>Deletes the comparison record and its files; its child runs stay (they are ordinary runs).</summary>
    public bool Delete(Guid id)
    {
        lock (_gate)
        {
            if (comparisons.Get(id) is null) return false;
            Cancel(id);
            comparisons.Delete(id);
            try { if (System.IO.Directory.Exists(Directory(id))) System.IO.Directory.Delete(Directory(id), true); }
            catch (IOException e) { log.LogWarning("Could not delete {Dir}: {Message}", Directory(id), e.Message); }
            return true;
        }
    }

    /// <summary>Moves every active comparison on (see <see cref="Advance"/>).</summary>
    public void AdvanceAll()
    {
        foreach (var c in comparisons.Active()) TryAdvance(c.Id);
    }

    /// <summary>
    /// <see cref="Advance"/>, where a comparison that cannot go on (a child left no checkpoint, a file
    /// is unreadable) is marked failed with the reason, instead of the error reaching the caller
    /// (the coordinator's loop, or the request that created or resumed it, which would answer 500).
    /// </summary>
    void TryAdvance(Guid id)
    {
        try { Advance(id); }
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or JsonException)
        {
            log.LogError(e, "Comparison {Id} could not advance", id);
            comparisons.SetStatus(id, RunStatus.Failed, e.Message, finished: true);
        }
    }

    /// <summary>
    /// One step of a comparison's state machine: create the children whose inputs are ready,
    /// derive the status from the children, and write comparison.json/csv when every child finished.
    /// </summary>
    public void Advance(Guid id)
    {
        lock (_gate)
        {
            var c = comparisons.Get(id);
            if (c is null || !c.IsActive) return;
            var plan = c.Plan;
            var children = comparisons.Children(id).ToList();
            RunRecord? Run(ComparisonChild ch) => runs.Get(ch.RunId);
            ComparisonChild? Find(string role, string arm, int seed) => children.FirstOrDefault(x => x.Role == role && x.Arm == arm && x.Seed == seed);

            // A failed or cancelled child stops the comparison (its resume resumes the child).
            foreach (var ch in children)
            {
                var r = Run(ch);
                if (r is null) { Finish(c, RunStatus.Failed, $"child run {ch.RunId} ({ch.Role} {ch.Arm} seed {ch.Seed}) was deleted"); return; }
                if (r.Status is RunStatus.Failed or RunStatus.Cancelled)
                {
                    Finish(c, r.Status, $"{ch.Role} {(ch.Arm.Length > 0 ? ch.Arm + " " : "")}seed {ch.Seed} {r.Status.ToString().ToLowerInvariant()}: {r.Message}");
                    return;
                }
            }

            // 1. Searches (fresh search only).
            foreach (var seed in plan.SearchSeeds)
            {
                if (Find("search", "", seed) is not null) continue;
                var o = ComparisonPlanner.SearchOptions(plan, seed);
                if (!Spawn(c, o, "search", "", seed, c.SourceRunId, children)) return;
            }
            if (plan.GenotypeText is null)
            {
                var searches = plan.SearchSeeds.Select(s => (Seed: s, Run: Run(Find("search", "", s)!))).ToArray();
                if (searches.Any(s => s.Run?.Status != RunStatus.Succeeded)) { Running(c, children); return; }
                var stability = Stability(plan, searches.Select(s => s.Run!).ToArray());
                plan = plan with { GenotypeText = stability.ModalGenotypeText };
                comparisons.SetPlan(id, plan);
                c = c with { Plan = plan };
            }

            // 2. Pre-trainings of both arms, every seed.
            foreach (var seed in plan.Seeds)
                foreach (var arm in ComparisonArms.All)
                {
                    if (Find("pretrain", arm, seed) is not null) continue;
                    var parent = c.SourceRunId ?? (plan.SearchSeeds.Count > 0 ? Find("search", "", plan.SearchSeeds.Contains(seed) ? seed : plan.SearchSeeds[0])?.RunId : null);
                    if (!Spawn(c, ComparisonPlanner.PretrainOptions(plan, seed, arm), "pretrain", arm, seed, parent, children)) return;
                }

            // 3. A linear evaluation of each finished pre-training's checkpoint.
            foreach (var seed in plan.Seeds)
                foreach (var arm in ComparisonArms.All)
                {
                    if (Find("lincls", arm, seed) is not null) continue;
                    var pre = Run(Find("pretrain", arm, seed)!);
                    if (pre?.Status != RunStatus.Succeeded) continue;
                    var artifacts = pre.ArtifactsJson is null ? new Dictionary<string, string>() : JsonSerializer.Deserialize<Dictionary<string, string>>(pre.ArtifactsJson)!;
                    var checkpoint = Path.Combine(paths.RunDirectory(pre.Id), ComparisonPlanner.EvaluatedCheckpoint(pre.Options(), artifacts));
                    if (!Spawn(c, ComparisonPlanner.LinearOptions(plan, seed, arm, checkpoint), "lincls", arm, seed, pre.Id, children)) return;
                }

            bool done = children.Count > 0 && children.All(ch => Run(ch)?.Status == RunStatus.Succeeded)
                        && plan.Seeds.All(s => ComparisonArms.All.All(a => Find("lincls", a, s) is not null));
            if (!done) { Running(c, children); return; }
            var report = Report(c with { Status = RunStatus.Succeeded }, finished: true);
            report.WriteFiles(Directory(id));
            Finish(c, RunStatus.Succeeded, report.Headline);
        }
    }

    bool Spawn(ComparisonRecord c, RunResolution resolution, string role, string arm, int seed, Guid? parent, List<ComparisonChild> children)
    {
        if (!resolution.Ok)
        {
            Finish(c, RunStatus.Failed, $"{role} {arm} seed {seed}: " + string.Join("; ", resolution.Errors.Select(e => e.ToString())));
            return false;
        }
        if (parent is { } p && runs.Get(p) is null) parent = null;
        var created = scheduler.Create(resolution.Options!, parent);
        if (!created.Ok)
        {
            Finish(c, RunStatus.Failed, $"{role} {arm} seed {seed}: " + string.Join("; ", created.Errors.Select(e => e.ToString())));
            return false;
        }
        var child = new ComparisonChild(c.Id, role, arm, seed, created.Run!.Id);
        comparisons.AddChild(child);
        children.Add(child);
        return true;
    }

    void Running(ComparisonRecord c, List<ComparisonChild> children)
    {
        var status = children.Any(ch => runs.Get(ch.RunId)?.Status is RunStatus.Running or RunStatus.Succeeded) ? RunStatus.Running : RunStatus.Queued;
        if (status != c.Status) comparisons.SetStatus(c.Id, status, null, finished: false);
    }

    void Finish(ComparisonRecord c, RunStatus status, string? message)
    {
        comparisons.SetStatus(c.Id, status, message, finished: true);
        log.LogInformation("Comparison {Id} {Status}: {Message}", c.Id, status, message);
    }

    SearchStabilityReport Stability(ComparisonPlan plan, IReadOnlyList<RunRecord> searches) =>
        SearchStabilityReport.Analyze(searches.Select(r => new SearchOutcome(r.Options().Seed, r.GenotypeText
                ?? throw new InvalidDataException($"search {r.Id} finished without a genotype"),
            runs.Read(r.Id, types: ["alphas"]).Events.OfType<AlphasLogged>().LastOrDefault()?.Cells)).ToArray(), plan.Framework);

    /// <summary>
    /// The comparison's report as of now, from its children's stored results and events
    /// (unfinished children contribute nothing; the statistics cover the seeds with both arms).
    /// </summary>
    public ComparisonReport Report(ComparisonRecord c, bool finished = false)
    {
        var children = comparisons.Children(c.Id);
        var rows = new List<ComparisonSeedResult>();
        foreach (var seed in c.Plan.Seeds)
            foreach (var arm in ComparisonArms.All)
            {
                var pre = children.FirstOrDefault(x => x.Role == "pretrain" && x.Arm == arm && x.Seed == seed);
                var lin = children.FirstOrDefault(x => x.Role == "lincls" && x.Arm == arm && x.Seed == seed);
                var preRun = pre is null ? null : runs.Get(pre.RunId);
                var linRun = lin is null ? null : runs.Get(lin.RunId);
                var preEvents = preRun is null ? [] : runs.Read(preRun.Id, types: ["knn", "throughput", "stage_started", "stage_finished"]).Events;
                var linEvents = linRun is null ? [] : runs.Read(linRun.Id, types: ["stage_started", "stage_finished"]).Events;
                var preMetrics = Metrics(preRun);
                var linMetrics = Metrics(linRun);
                var pm = ChildMeasures.From(preEvents);
                var lm = ChildMeasures.From(linEvents);
                rows.Add(new ComparisonSeedResult
                {
                    Seed = seed, Arm = arm,
                    LinclsTop1 = linRun?.Status == RunStatus.Succeeded ? Get(linMetrics, "lincls_top1") : null,
                    LinclsTop5 = linRun?.Status == RunStatus.Succeeded ? Get(linMetrics, "lincls_top5") : null,
                    KnnTop1 = preRun?.Status == RunStatus.Succeeded ? Get(preMetrics, "knn_top1") ?? pm.KnnCurve.LastOrDefault()?.Top1 : null,
                    PretrainSeconds = preRun?.Status == RunStatus.Succeeded ? pm.WallSeconds : null,
                    LinclsSeconds = linRun?.Status == RunStatus.Succeeded ? lm.WallSeconds : null,
                    ImagesPerSecond = pm.ImagesPerSecond,
                    PretrainRunId = preRun?.Id, LinclsRunId = linRun?.Id, KnnCurve = pm.KnnCurve,
                });
            }
        SearchStabilityReport? stability = null;
        var searchRuns = children.Where(x => x.Role == "search").Select(x => runs.Get(x.RunId)).ToArray();
        var notices = new List<string>(c.Plan.Notices);
        if (searchRuns.Length > 0 && searchRuns.All(r => r?.Status == RunStatus.Succeeded))
        {
            try { stability = Stability(c.Plan, searchRuns!); }
            catch (Exception e) when (e is ArgumentException or InvalidDataException) { notices.Add($"search stability could not be computed: {e.Message}"); }
        }
        var o = c.Plan.Recipe;
        return new ComparisonReport
        {
            Id = c.Id, Name = c.Name, Framework = o.Framework.ToName(), Backbone = o.Backbone, Dataset = o.Dataset, Seeds = c.Plan.Seeds,
            GenotypeText = c.Plan.GenotypeText, Status = c.Status.ToString().ToLowerInvariant(), Results = rows, Stability = stability,
            Complete = rows.All(r => r.LinclsTop1 is not null && r.KnnTop1 is not null), Notices = notices,
            FinishedAt = finished ? DateTimeOffset.UtcNow : c.FinishedAt,
        }.WithStatistics();
    }

    static Dictionary<string, double> Metrics(RunRecord? r) =>
        r?.MetricsJson is null ? [] : JsonSerializer.Deserialize<Dictionary<string, double>>(r.MetricsJson) ?? [];

    static double? Get(Dictionary<string, double> m, string key) => m.TryGetValue(key, out var v) ? v : null;
}

/// <summary>
/// Wakes on every run status change (and every few seconds as a safety net) and advances the
/// active comparisons: a comparison waits without holding any device worker.
/// </summary>
public sealed class ComparisonCoordinator(ComparisonService service, RunNotificationService notifications,
    Microsoft.Extensions.Options.IOptions<NASiam.Web.Options.NasiamWebOptions> options, ILogger<ComparisonCoordinator> log) : BackgroundService
{
    readonly SemaphoreSlim _wake = new(0);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Comparisons are advanced where they are created and watched: on web nodes (roles web and all).
        if (!options.Value.ServesWeb) return;
        using var sub = notifications.Subscribe(null, u =>
        {
            if (u.Record is { } r && r.Status is RunStatus.Succeeded or RunStatus.Failed or RunStatus.Cancelled or RunStatus.Running && _wake.CurrentCount == 0)
                _wake.Release();
            return Task.CompletedTask;
        });
        while (!stoppingToken.IsCancellationRequested)
        {
            try { await _wake.WaitAsync(TimeSpan.FromSeconds(5), stoppingToken); }
            catch (OperationCanceledException) { break; }
            try { await Task.Run(service.AdvanceAll, stoppingToken); }
            catch (OperationCanceledException) { break; }
            catch (Exception e) { log.LogError(e, "Advancing comparisons failed"); }
        }
    }
}

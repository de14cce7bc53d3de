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
public sealed class ComparisonService(ComparisonStore comparisons, RunStore runs, RunScheduler scheduler, RunPaths paths, NodeIdentity node, ILogger<ComparisonService> log)
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
        string? provisional = null;
        if (sourceRunId is { } src)
        {
            var run = runs.Get(src);
            if (run is null) return new(null, [new("sourceRunId", $"run {src} does not exist")], []);
            if (run.GenotypeText is null) return new(null, [new("sourceRunId", $"run {src} has no genotype (only a finished search or pipeline has one)")], []);
            if (request.Genotype is not null) return new(null, [new("genotype", "give a genotype or a source run, not both")], []);
            // Said of the source run, not as a parse error of its genotype under another framework's fields.
            if (request.Framework is { } asked && FrameworkNames.TryParse(asked, out var f) && f != run.Framework)
                return new(null, [new("sourceRunId", $"run {src} ('{run.Name}') searched {run.Framework.ToName()} heads; its genotype cannot be compared as {f.ToName()}: leave framework out, or give {run.Framework.ToName()}")], []);
            request = request with { Genotype = run.GenotypeText, Framework = request.Framework ?? run.Framework.ToName(), SourceOptions = OptionsOf(run), SourceName = $"run {src} ('{run.Name}')" };
            // A running or stopped search's genotype is its alphas' current argmax: said, as for a genotype given by the run's id.
            if (runs.ProvisionalGenotype(run) is { } notice) provisional = $"sourceRunId: {notice}";
        }
        // A run's id as the genotype: the comparison descends from that run (the planner resolves the genotype).
        else if (Guid.TryParse(request.Genotype?.Trim(), out var gid) && runs.Get(gid) is { GenotypeText: not null } byId)
        {
            sourceRunId = gid;
            request = request with { SourceOptions = OptionsOf(byId), SourceName = $"run {gid} ('{byId.Name}')" };
        }
        var planned = ComparisonPlanner.Plan(request, scheduler.Policy);
        if (provisional is not null) planned = planned with { Notices = [provisional, .. planned.Notices] };
        if (!planned.Ok) return new(null, planned.Errors, planned.Notices);
        // The host's check of the device before anything is queued (the children would each fail it).
        var device = planned.Plan!.Recipe.Device;
        if (DeviceSpec.TryParse(device, out var spec) && spec.Kind != "auto" && !scheduler.Devices.Contains(spec.ToString()))
            return new(null, [new("device", $"'{device}' is not a device of this server; configured: {string.Join(", ", scheduler.Devices)}")], planned.Notices);

        var record = new ComparisonRecord
        {
            // The plan keeps every notice it was queued with (a source run's provisional genotype was in the create
            // response only): the report, GET and the page show them.
            Id = Guid.NewGuid(), Name = planned.Plan.Name, Plan = planned.Plan with { Notices = planned.Notices }, Status = RunStatus.Queued,
            SourceRunId = sourceRunId, CreatedAt = DateTimeOffset.UtcNow,
        };
        comparisons.Insert(record);
        TryAdvance(record.Id);
        return new(comparisons.Get(record.Id), errors, planned.Notices);
    }

    // A record whose options do not read (an old schema) gives no recipe: the framework's, as before.
    static NASiam.Core.Options.RunOptions? OptionsOf(RunRecord run)
    {
        try { return run.Options(); }
        catch (Exception e) when (e is System.Text.Json.JsonException or ArgumentException or NotSupportedException) { return null; }
    }

    /// <summary>
    /// Cancels every active child; the comparison stops creating children. It reads Cancelled only once
    /// every child has stopped (a child's process may take minutes to checkpoint); until then it stays
    /// active with a "Cancelling: …" message (<see cref="ComparisonRecord.IsCancelling"/>) and
    /// <see cref="Advance"/> settles it. False when it is not active.
    /// </summary>
    public bool Cancel(Guid id)
    {
        lock (_gate)
        {
            var c = comparisons.Get(id);
            if (c is null || !c.IsActive) return false;
            var children = comparisons.Children(id);
            // Marked before the children are cancelled: an advance in between must not create a child.
            comparisons.SetStatus(id, c.Status, CancellingMessage(children.Count), finished: false);
            foreach (var child in children)
                if (runs.Get(child.RunId) is { IsActive: true }) scheduler.Cancel(child.RunId);
            SettleCancel(comparisons.Get(id)!);
            return true;
        }
    }

    const string CancelledMessage = "Cancelled; resume continues with the unfinished children.";

    static string CancellingMessage(int children) => $"{ComparisonRecord.CancellingPrefix}waiting for {children} child run(s) to stop.";

    /// <summary>A cancelling comparison: Cancelled once no child is active, else its message counts those still stopping.</summary>
    void SettleCancel(ComparisonRecord c)
    {
        int active = comparisons.Children(c.Id).Count(ch => runs.Get(ch.RunId) is { IsActive: true });
        if (active == 0) Finish(c, RunStatus.Cancelled, CancelledMessage);
        else if (c.Message != CancellingMessage(active)) comparisons.SetStatus(c.Id, c.Status, CancellingMessage(active), finished: false);
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
        // Every web node runs a coordinator over the shared database: the comparison's lease lets one
        // node at a time advance it, so two nodes never create the same child twice.
        if (!runs.Leases.TryAcquire(id, node.Id, AdvanceLease, recordExecution: false)) return;
        try { Advance(id); }
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or JsonException)
        {
            log.LogError(e, "Comparison {Id} could not advance", id);
            comparisons.SetStatus(id, RunStatus.Failed, e.Message, finished: true);
        }
        finally { runs.Leases.Release(id, node.Id); }
    }

    /// <summary>Longer than one advance takes (it queues children and may write the report); a crashed node's lease simply expires.</summary>
    static readonly TimeSpan AdvanceLease = TimeSpan.FromMinutes(2);

    /// <summary>
    /// One step of a comparison (the rule: <see cref="ComparisonSchedule.Next"/>): create the
    /// children whose inputs are ready, derive the status from the children, and write
    /// comparison.json/csv when every child finished.
    /// </summary>
    public void Advance(Guid id)
    {
        lock (_gate)
        {
            var c = comparisons.Get(id);
            if (c is null || !c.IsActive) return;
            if (c.IsCancelling) { SettleCancel(c); return; }
            var children = comparisons.Children(id).ToList();
            var views = new List<ComparisonChildView>();
            foreach (var ch in children)
            {
                if (runs.Get(ch.RunId) is not { } r) { Finish(c, RunStatus.Failed, $"child run {ch.RunId} ({Key(ch)}) was deleted"); return; }
                views.Add(View(ch, r));
            }
            var step = ComparisonSchedule.Next(c.Plan, views);
            if (step.Stopped is { } stop) { Finish(c, stop.State == ComparisonChildState.Cancelled ? RunStatus.Cancelled : RunStatus.Failed, stop.Message); return; }
            if (step.PlanChanged)
            {
                comparisons.SetPlan(id, step.Plan);
                c = c with { Plan = step.Plan };
            }
            foreach (var todo in step.Create)
                if (!Spawn(c, todo, children)) return;
            if (!step.Done) { Running(c, children); return; }
            var report = Report(c with { Status = RunStatus.Succeeded }, finished: true);
            report.WriteFiles(Directory(id));
            Finish(c, RunStatus.Succeeded, report.Headline);
        }
    }

    static ComparisonChildKey Key(ComparisonChild ch) => new(ch.Role, ch.Arm, ch.Seed);

    /// <summary>A stored child run as the schedule sees it; its events are read only if asked for.</summary>
    ComparisonChildView View(ComparisonChild ch, RunRecord r) => new()
    {
        Key = Key(ch), RunId = r.Id, Message = r.Message,
        State = r.Status switch
        {
            RunStatus.Succeeded => ComparisonChildState.Succeeded,
            RunStatus.Failed => ComparisonChildState.Failed,
            RunStatus.Cancelled => ComparisonChildState.Cancelled,
            _ => ComparisonChildState.Active,
        },
        Options = r.Options(), Directory = paths.RunDirectory(r.Id), GenotypeText = r.GenotypeText,
        Artifacts = r.ArtifactsJson is null ? new Dictionary<string, string>() : JsonSerializer.Deserialize<Dictionary<string, string>>(r.ArtifactsJson)!,
        Metrics = r.Metrics(),
        FinalAlphas = () => runs.Read(r.Id, types: ["alphas"]).Events.OfType<AlphasLogged>().LastOrDefault()?.Cells,
        Measures = () => ChildMeasures.From(runs.Read(r.Id, types: ["knn", "throughput", "stage_started", "stage_finished"]).Events),
    };

    bool Spawn(ComparisonRecord c, ComparisonChildToCreate todo, List<ComparisonChild> children)
    {
        var (key, resolution) = (todo.Key, todo.Options);
        if (!resolution.Ok)
        {
            Finish(c, RunStatus.Failed, $"{key}: " + string.Join("; ", resolution.Errors.Select(e => e.ToString())));
            return false;
        }
        // A comparison started from a finished search has no search child: that search is its pre-trainings' parent.
        Guid? parent = key.Role == ComparisonRoles.Pretrain && c.SourceRunId is { } source ? source
            : todo.Parent is { } pk ? children.FirstOrDefault(x => Key(x) == pk)?.RunId : null;
        if (parent is { } p && runs.Get(p) is null) parent = null;
        var created = scheduler.Create(resolution.Options!, parent, resolution.Notices);
        if (!created.Ok)
        {
            Finish(c, RunStatus.Failed, $"{key}: " + string.Join("; ", created.Errors.Select(e => e.ToString())));
            return false;
        }
        var child = new ComparisonChild(c.Id, key.Role, key.Arm, key.Seed, created.Run!.Id);
        comparisons.AddChild(child);
        children.Add(child);
        return true;
    }

    void Running(ComparisonRecord c, List<ComparisonChild> children)
    {
        var status = ActiveStatus(children.Select(ch => runs.Get(ch.RunId)?.Status).OfType<RunStatus>());
        if (status != c.Status) comparisons.SetStatus(c.Id, status, null, finished: false);
    }

    /// <summary>
    /// The one rule for an active comparison's status, from its children's: Running once any child runs or has
    /// succeeded, else Queued. The coordinator writes it when it advances; the API and the pages read it the same
    /// way meanwhile, so a child that started before the next advance does not sit under a "Queued" comparison.
    /// </summary>
    public static RunStatus ActiveStatus(IEnumerable<RunStatus> children) =>
        children.Any(s => s is RunStatus.Running or RunStatus.Succeeded) ? RunStatus.Running : RunStatus.Queued;

    void Finish(ComparisonRecord c, RunStatus status, string? message)
    {
        comparisons.SetStatus(c.Id, status, message, finished: true);
        log.LogInformation("Comparison {Id} {Status}: {Message}", c.Id, status, message);
    }

    /// <summary>
    /// The comparison's report as of now, from its children's stored results and events
    /// (<see cref="ComparisonSchedule.Report"/>).
    /// </summary>
    public ComparisonReport Report(ComparisonRecord c, bool finished = false)
    {
        var views = new List<ComparisonChildView>();
        foreach (var ch in comparisons.Children(c.Id))
            if (runs.Get(ch.RunId) is { } r) views.Add(View(ch, r));
        return ComparisonSchedule.Report(c.Id, c.Plan, c.Status.ToString().ToLowerInvariant(), views, finishedAt: finished ? DateTimeOffset.UtcNow : c.FinishedAt);
    }
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

using Hangfire;
using Hangfire.States;
using Microsoft.Extensions.Options;
using NASiam.Core;
using NASiam.Core.Options;
using NASiam.Web.Options;
using NASiam.Web.Runs;

namespace NASiam.Web.Jobs;

/// <summary>Result of a scheduling request: the run, or the reasons it was refused; notices either way.</summary>
public sealed record ScheduleResult(RunRecord? Run, IReadOnlyList<FieldError> Errors, IReadOnlyList<string>? Notices = null)
{
    public bool Ok => Run is not null && Errors.Count == 0;
}

/// <summary>What a run request would become (<see cref="RunScheduler.Plan"/>): the resolved options and parent, or the reasons it is refused; notices either way.</summary>
public sealed record RunPlan(RunOptions? Options, Guid? ParentId, IReadOnlyList<FieldError> Errors, IReadOnlyList<string> Notices)
{
    public bool Ok => Options is not null && Errors.Count == 0;

    internal static RunPlan Refused(IReadOnlyList<FieldError> errors, IReadOnlyList<string>? notices = null) => new(null, null, errors, notices ?? []);
}

/// <summary>
/// Creates, cancels, resumes, retries and deletes runs. A run goes on the queue of its device
/// (one worker per device); the job receives only the run id.
/// </summary>
public sealed class RunScheduler(
    RunStore store, RunPaths paths, IBackgroundJobClient jobs, RunExecutionRegistry registry,
    RunLifecycle lifecycle, IOptions<NasiamWebOptions> options, ILogger<RunScheduler> log)
{
    public IReadOnlyList<string> Devices => options.Value.EffectiveDevices;

    /// <summary>The web's request policy: no server file paths; genotype library and run ids as genotypes (<see cref="RunStore.WebPolicy"/>); data folders and the host's memory checked where this node executes runs.</summary>
    public RunRequestPolicy Policy => store.WebPolicy with { CheckDataFolders = options.Value.ExecutesRuns, HostMemoryBytes = options.Value.ExecutesRuns ? options.Value.EffectiveMemoryBytes : null };

    /// <summary>
    /// The web's one entry for new runs (form and API): <see cref="Plan"/>s the request, then
    /// <see cref="Create"/>s it.
    /// </summary>
    public ScheduleResult Submit(RunRequest request, Guid? parentId = null)
    {
        var plan = Plan(request, parentId);
        if (!plan.Ok) return new(null, plan.Errors, plan.Notices);
        var result = Create(plan.Options!, plan.ParentId, plan.Notices);
        return result with { Notices = plan.Notices };
    }

    /// <summary>
    /// What <see cref="Submit"/> would queue, without queueing it (the API's preview, as the CLI's
    /// --print-options): the request resolved with the same <see cref="RunRequestResolver"/> as the CLI
    /// (web policy: no server file paths; genotype ids from the library or runs), the run it descends
    /// from, and this server's checks (its devices; "auto" becomes the first).
    /// </summary>
    public RunPlan Plan(RunRequest request, Guid? parentId = null)
    {
        // The web's genotype references may also be ids, a library entry or a run (its genotype): the
        // resolver looks them up through the policy and checks their framework as it checks a preset's.
        // The web's checkpoint is a run id, never a path: that run's folder, whose final backbone
        // checkpoint the resolver picks (StageEnvironment.FinalBackboneCheckpointIn). The new run descends from it.
        var policy = Policy;
        RunRecord? evaluated = null;
        var givenParent = parentId;
        if (!string.IsNullOrWhiteSpace(request.Checkpoint))
        {
            if (!Guid.TryParse(request.Checkpoint.Trim(), out var sourceId))
                return RunPlan.Refused([new FieldError("checkpoint", "give the id of the run whose pre-training (or search) to linear-evaluate; server file paths are not accepted here")]);
            if (store.Get(sourceId) is not { } source) return RunPlan.Refused([new FieldError("checkpoint", $"run {sourceId} does not exist")]);
            // A run still queued or training has no final checkpoint yet: the resolver would take whichever file
            // is there now (its search's, or a pre-training's mid-epoch) without a word.
            if (source.IsActive)
                return RunPlan.Refused([new FieldError("checkpoint", $"run {sourceId} ('{source.Name}') is {source.Status.ToString().ToLowerInvariant()}{(source.Stage is { } st ? $" (stage {st})" : "")}: its final checkpoint is not written yet; evaluate it once it has ended, or cancel it to evaluate its last checkpoint")]);
            var folder = paths.RunDirectory(sourceId);
            // Said in the run's terms: the resolver would name the server folder that is missing.
            if (!Directory.Exists(folder))
                return RunPlan.Refused([new FieldError("checkpoint", $"run {sourceId} ('{source.Name}') has written no checkpoint: it never started ({source.Status.ToString().ToLowerInvariant()})")]);
            request = request with { Checkpoint = folder };
            policy = policy with { TrustedCheckpointFolder = folder };
            parentId ??= sourceId;
            evaluated = source;
        }
        // The genotype id the resolver looks up (a library entry's or a run's), as it reads the request: no second parse here.
        Guid? genotypeId = null;
        var lookup = policy.GenotypeById;
        policy = policy with { GenotypeById = id => { genotypeId = id; return lookup?.Invoke(id); } };
        var resolution = RunRequestResolver.Resolve(request, policy);
        if (!resolution.Ok) return RunPlan.Refused(resolution.Errors, resolution.Notices);
        // A pre-training of a run's genotype (given by that run's id) descends from that run, as an evaluation from its checkpoint.
        var origin = GenotypeSourceRun(genotypeId);
        parentId ??= origin?.Id;
        var options = resolution.Options!;
        var notices = resolution.Notices.ToList();
        // Only the genotype comes from that run; the recipe is the preset's or the framework's. Said when they differ
        // in what a user notices first (a search on resnet-tiny and synthetic data, pre-trained as resnet18 on 5,000 images).
        if (origin is not null && (origin.Backbone != options.Backbone || origin.Dataset != options.Dataset))
            notices.Add($"pretrain.genotype: only the genotype comes from run {origin.Id} ('{origin.Name}', {origin.Backbone} on {origin.Dataset}); " +
                        $"this run's options are {(request.Preset is null ? $"the {options.Framework.ToName()} recipe's" : $"preset {request.Preset}'s")} " +
                        $"({options.Backbone} on {options.Dataset}): give a preset or options to match the search");
        // An evaluation of a run says whose in the runs list ("lincls simsiam 12-02 07:40" did not).
        if (evaluated is not null && string.IsNullOrWhiteSpace(options.Name)) options = options with { Name = $"{evaluated.Name} · linear eval" };
        // A parent names whose lineage a run belongs to; a linear evaluation under a run that evaluates no checkpoint
        // measured an untrained backbone and was listed as that run's evaluation.
        if (givenParent is { } under && options.Kind == RunKind.LinCls && string.IsNullOrWhiteSpace(options.Linear.Checkpoint))
            return RunPlan.Refused([new FieldError("checkpoint", $"a linear evaluation under run {under} must evaluate that run's backbone: give its id as the checkpoint " +
                $"({{\"checkpoint\": \"{under}\"}}); without one it evaluates an untrained backbone")], notices);
        var errors = HostErrors(options, parentId, out var device);
        return errors.Count > 0
            ? RunPlan.Refused(errors, notices)
            : new RunPlan(options with { Device = device }, parentId, [], notices);
    }

    /// <summary>This server's checks of resolved options: the device is one of its own (<paramref name="device"/>: "auto" is the first), the parent exists.</summary>
    List<FieldError> HostErrors(RunOptions runOptions, Guid? parentId, out string device)
    {
        var errors = new List<FieldError>();
        device = DeviceSpec.TryParse(runOptions.Device, out var spec) && spec.Kind != "auto" ? spec.ToString() : Devices[0];
        if (!Devices.Contains(device))
            errors.Add(new("device", $"'{runOptions.Device}' is not a device of this server; configured: {string.Join(", ", Devices)}"));
        if (parentId is { } p && store.Get(p) is null) errors.Add(new("parentId", $"run {p} does not exist"));
        return errors;
    }

    /// <summary>
    /// The run a genotype id (as the resolver looked it up) came from: that run, or the run that discovered the
    /// library entry of that id; null for no id and for imported entries.
    /// </summary>
    RunRecord? GenotypeSourceRun(Guid? genotypeId) =>
        genotypeId is not { } id ? null
        : (store.GenotypeLibrary.Get(id) is { } entry ? entry.RunId : id) is { } run ? store.Get(run) : null;

    /// <summary>
    /// Stores and queues resolved options (from <see cref="Submit"/>, or a stored run's for a retry).
    /// Adds only the host's checks: the device must be one of this server's ("auto" takes the
    /// first), the parent must exist; the options' own checks ran in the resolver.
    /// </summary>
    /// <param name="notices">What the resolver said of the request, kept with the run (GET /api/runs/{id}, the run page).</param>
    public ScheduleResult Create(RunOptions runOptions, Guid? parentId = null, IReadOnlyList<string>? notices = null)
    {
        var errors = runOptions.ValidateFields().ToList(); // a no-op after the resolver; guards stored options on retry
        errors.AddRange(HostErrors(runOptions, parentId, out var device));
        if (errors.Count > 0) return new(null, errors);

        runOptions = runOptions with { Device = device };
        var record = new RunRecord
        {
            Id = Guid.NewGuid(),
            Name = string.IsNullOrWhiteSpace(runOptions.Name) ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{EnumNames.Name(runOptions.Kind)} {runOptions.Framework.ToName()} {DateTime.UtcNow:MM-dd HH:mm}") : runOptions.Name!,
            Kind = runOptions.Kind, Framework = runOptions.Framework, Backbone = runOptions.Backbone, Dataset = runOptions.Dataset,
            Device = device, Status = RunStatus.Queued, OptionsJson = runOptions.ToJson(), CreatedAt = DateTimeOffset.UtcNow, ParentId = parentId,
            Notices = notices ?? [],
        };
        store.Insert(record);
        Enqueue(record.Id, device);
        return new(store.Get(record.Id), []);
    }

    /// <summary>
    /// Queues the run's job. The job is created parked (scheduled far ahead), its id recorded on the
    /// run, and only then enqueued: enqueued directly, a worker could fetch it before the id is
    /// recorded and, seeing the previous job's id on a resumed run, skip it as stale.
    /// </summary>
    void Enqueue(Guid runId, string device, bool clearCancel = true)
    {
        var queue = DeviceQueues.QueueFor(device);
        var job = Hangfire.Common.Job.FromExpression<NasiamRunJob>(j => j.Execute(runId, null, CancellationToken.None), queue);
        var jobId = jobs.Create(job, new ScheduledState(TimeSpan.FromDays(3650)) { Reason = "waiting for its run id to be recorded" });
        lifecycle.Queued(runId, jobId, clearCancel);
        if (!jobs.ChangeState(jobId, new EnqueuedState(queue), ScheduledState.StateName))
            log.LogWarning("Job {JobId} of run {RunId} could not be enqueued", jobId, runId);
    }

    /// <summary>Stops a run through the one cancel path (<see cref="RunLifecycle.Cancel"/>): the engine stops within a step; a queued run never starts.</summary>
    public bool Cancel(Guid runId) => lifecycle.Cancel(runId);

    /// <summary>Queues a stopped run again; the engine continues from its newest checkpoint. A user's resume: it clears an earlier cancel request.</summary>
    public bool Resume(Guid runId) => Requeue(runId, byUser: true);

    /// <summary>
    /// Recovery's re-queue of a run whose executor is gone (the lease sweeper): not a user's resume. A
    /// cancel asked while its executor was gone (accepted, but nobody was left to stop the engine) ends
    /// the run as Cancelled here, resumable as any cancelled run, instead of training on; one asked
    /// between this check and the new job stands too (the job finds it and ends the run before it starts).
    /// </summary>
    public RecoveryOutcome Recover(Guid runId, string lostExecutor)
    {
        if (EndIfCancelRequested(runId, lostExecutor)) return RecoveryOutcome.Cancelled;
        return Requeue(runId, byUser: false) ? RecoveryOutcome.Requeued : RecoveryOutcome.None;
    }

    bool Requeue(Guid runId, bool byUser)
    {
        var run = store.Get(runId);
        // An ended run has left its job's registry entry and lease already (NasiamRunJob writes the end
        // and gives the lease back together); a live lease here means another node executes it.
        if (run is null || !run.CanResume || store.Leases.HeldByOther(runId)) return false;
        Enqueue(runId, run.Device, clearCancel: byUser);
        return true;
    }

    /// <summary>Ends an active run with a pending cancel request as Cancelled (its executor is gone); true when it did.</summary>
    bool EndIfCancelRequested(Guid runId, string lostExecutor)
    {
        if (store.Get(runId) is not { IsActive: true, CancelRequested: true }) return false;
        lifecycle.Ended(runId, RunStatus.Cancelled, $"Cancelled: the cancel was asked while its executor ({lostExecutor}) had stopped; resume continues it from its last checkpoint.");
        log.LogInformation("Run {RunId}: cancelled while its executor {Executor} was gone; ended as Cancelled instead of being re-queued", runId, lostExecutor);
        return true;
    }

    /// <summary>Starts a fresh run with the same options; the old one becomes its parent.</summary>
    /// <summary>The error field of a retry refused because the run is still active (the API answers 409 for it).</summary>
    public const string RetryStateField = "status";

    /// <summary>
    /// "Pre-train this genotype" of a run (POST /api/runs/{id}/pretrain; the run page's button opens the form with the
    /// same request, <see cref="NASiam.Core.Genotypes.GenotypePretraining.FromRun(NASiam.Core.Options.RunOptions, Guid, string?, string?)"/>): the run's
    /// own setup, kind pretrain, its genotype by its id (a stopped search's provisional genotype with the resolver's notice),
    /// the run as parent; <paramref name="changes"/>, <paramref name="name"/> and <paramref name="device"/> over it.
    /// A run that is not <see cref="RunRecord.CanPretrainGenotype"/> is refused under <see cref="RetryStateField"/>.
    /// </summary>
    public ScheduleResult PretrainGenotype(Guid runId, System.Text.Json.Nodes.JsonObject? changes = null, string? name = null, string? device = null)
    {
        var run = store.Get(runId);
        if (run is null) return new(null, [new FieldError("id", $"run {runId} does not exist")]);
        if (run.GenotypeText is null)
            return new(null, [new FieldError(RetryStateField, $"run '{run.Name}' has no genotype to pre-train ({EnumNames.Name(run.Kind)}, {run.Status.ToString().ToLowerInvariant()}): " +
                "a search or pipeline has one once its first alpha snapshot is taken")]);
        if (!run.CanPretrainGenotype)
            return new(null, [new FieldError(RetryStateField, $"run '{run.Name}' is {run.Status.ToString().ToLowerInvariant()} and its genotype still changes: " +
                "pre-train it once the run ended (cancel it to take the genotype it has now)")]);
        NASiam.Core.Options.RunOptions options;
        try { options = run.Options(); }
        catch (Exception e) when (e is System.Text.Json.JsonException or ArgumentException or NotSupportedException)
        {
            return new(null, [new FieldError(RetryStateField, $"run '{run.Name}''s stored options do not read ({e.Message}); pre-train its genotype with POST /api/runs and genotype = its id")]);
        }
        return Submit(NASiam.Core.Genotypes.GenotypePretraining.FromRun(options, run.Id, run.Name, changes, name, device), run.Id);
    }

    public ScheduleResult Retry(Guid runId)
    {
        var run = store.Get(runId);
        if (run is null) return new(null, [new FieldError("id", $"run {runId} does not exist")]);
        // A retry is a fresh copy of an ended run; of an active one it would only run the same thing twice.
        if (run.IsActive)
            return new(null, [new FieldError(RetryStateField, $"run '{run.Name}' is {run.Status.ToString().ToLowerInvariant()}; a retry starts a fresh copy of a run that ended: cancel it first, or resume it once stopped")]);
        var options = run.Options();
        // What the copy reads must still be there: a deleted run's checkpoint made a retry that failed at its start.
        if (options.Kind == RunKind.LinCls && !string.IsNullOrWhiteSpace(options.Linear.Checkpoint) && !File.Exists(options.Linear.Checkpoint))
            return new(null, [new FieldError("checkpoint", $"run '{run.Name}' evaluated {options.Linear.Checkpoint}, which no longer exists (the run it came from was deleted?): a copy could not start; evaluate another run's backbone instead")]);
        if (Policy.CheckDataFolders && RunDataCheck.Errors(options) is [var data, ..])
            return new(null, [data with { Message = $"run '{run.Name}' read its data from a folder that no longer serves it: {data.Message}" }]);
        return Create(options with { Name = RetryName(run.Name, store.List().Select(r => r.Name).ToHashSet(StringComparer.Ordinal)) }, runId, run.Notices);
    }

    /// <summary>
    /// A retry's name: "NAME · retry N" with the first N ≥ 1 no run has (a retry of a retry counts on from the
    /// original's name), so copies are told apart in the runs list; it was the same name. Within the name limit.
    /// </summary>
    internal static string RetryName(string name, IReadOnlySet<string> taken)
    {
        var m = System.Text.RegularExpressions.Regex.Match(name, @"^(.*) · retry \d+$");
        var stem = m.Success ? m.Groups[1].Value : name;
        const string Suffix = " · retry ";
        if (stem.Length > RunOptionsValidator.MaxNameLength - Suffix.Length - 6) stem = stem[..(RunOptionsValidator.MaxNameLength - Suffix.Length - 6)];
        int n = 1;
        while (taken.Contains($"{stem}{Suffix}{n}")) n++;
        return $"{stem}{Suffix}{n}";
    }

    /// <summary>Cancels if needed, then removes the record, its events and its folder.</summary>
    public bool Delete(Guid runId)
    {
        var run = store.Get(runId);
        if (run is null) return false;
        if (run.IsActive) Cancel(runId);
        // A live lease (decided in the delete's transaction) keeps its row and the folder: a run executing on
        // another node keeps its folder until its job there stops (NasiamRunJob removes the folder of a
        // deleted run), or, when that node died, until a lease sweep finds the lease expired (RunLeaseSweeper).
        bool leased = store.Delete(runId);
        // Not while it executes here or on another node (its engine is still writing there).
        if (!registry.IsRunning(runId) && !leased) RemoveFolder(runId);
        return true;
    }

    /// <summary>Removes a deleted run's folder (best effort: a warning when it cannot).</summary>
    internal void RemoveFolder(Guid runId)
    {
        var dir = paths.RunDirectory(runId);
        try { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
        catch (DirectoryNotFoundException) { } // removed meanwhile by whoever else cleans up after the run
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { log.LogWarning("Could not delete {Dir}: {Message}", dir, e.Message); }
    }

    /// <summary>
    /// Removes the folders of runs deleted while a lease on them was live, once that lease has expired (their
    /// executor died before it could remove the folder itself). Exactly one sweeper removes each. Returns how many.
    /// </summary>
    public int RemoveFoldersOfDeletedRuns()
    {
        int n = 0;
        foreach (var runId in store.Leases.DeletedWithExpiredLease())
        {
            // An attempt still in this process (stalled past its lease) removes the folder itself when it stops.
            if (registry.IsRunning(runId) || !store.Leases.TryForgetDeleted(runId)) continue;
            RemoveFolder(runId);
            log.LogInformation("Run {RunId} was deleted while its executor held it, and that executor stopped renewing its lease; its folder is removed", runId);
            n++;
        }
        return n;
    }

    /// <summary>
    /// At start-up, before any worker runs: re-queues runs left Running (crash: their job is stuck
    /// "Processing" until the invisibility timeout) or whose job vanished (in-memory storage). Runs
    /// whose job is already back in its queue (graceful stop) are left to it.
    /// </summary>
    public int RecoverInterrupted(JobStorage storage)
    {
        int requeued = 0;
        using var connection = storage.GetConnection();
        foreach (var run in store.List().Where(r => r.IsActive))
        {
            // Executing on a live node (its lease is renewed): not ours to touch. A lease of a
            // process that died moments ago is left to the lease sweeper once it expires.
            if (store.Leases.HeldByOther(run.Id)) continue;
            var state = run.JobId is null ? null : connection.GetStateData(run.JobId)?.Name;
            if (state == EnqueuedState.StateName) continue;
            // Parked by Enqueue and never released (a stop between the two steps): release it now.
            if (state == ScheduledState.StateName && jobs.ChangeState(run.JobId!, new EnqueuedState(DeviceQueues.QueueFor(run.Device)), ScheduledState.StateName))
                continue;
            if (run.JobId is not null && state == ProcessingState.StateName) jobs.Delete(run.JobId);
            // A cancel asked before the stop that its engine never acted on: the run ends as asked.
            if (EndIfCancelRequested(run.Id, "the previous app process")) continue;
            log.LogInformation("Resuming run {RunId} (was {Status}, job state {State})", run.Id, run.Status, state ?? "missing");
            Enqueue(run.Id, run.Device, clearCancel: false);
            requeued++;
        }
        return requeued;
    }
}

/// <summary>What <see cref="RunScheduler.Recover"/> did with a run whose executor is gone.</summary>
public enum RecoveryOutcome { None, Requeued, Cancelled }

/// <summary>Runs <see cref="RunScheduler.RecoverInterrupted"/> once at start-up (registered before the Hangfire servers).</summary>
public sealed class RunRecoveryService(RunScheduler scheduler, JobStorage storage, IOptions<NasiamWebOptions> options, ILogger<RunRecoveryService> log) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        // Only the one-machine role: on a cluster, workers re-queue runs whose executor died by lease (RunLeaseSweeper).
        if (!options.Value.ResumeInterruptedRuns || !(options.Value.ExecutesRuns && options.Value.ServesWeb)) return Task.CompletedTask;
        var n = scheduler.RecoverInterrupted(storage);
        if (n > 0) log.LogInformation("Re-queued {Count} interrupted run(s)", n);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

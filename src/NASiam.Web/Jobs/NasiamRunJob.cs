using System.Text.Json;
using Hangfire;
using Hangfire.Server;
using Microsoft.Extensions.Options;
using NASiam.Core;
using NASiam.Core.Options;
using NASiam.Core.Reporting;
using NASiam.Core.Engine;
using NASiam.Core.Genotypes;
using NASiam.Web.Options;
using NASiam.Web.Runs;
using NASiam.Web.Worker;

namespace NASiam.Web.Jobs;

/// <summary>
/// The Hangfire entry point. Its only argument is the run id: the options are loaded from the run
/// database and validated again, then the engine runs: by default in a child process supervised
/// from this worker thread (<see cref="ProcessRunEngine"/>: a native crash fails this run only,
/// named by its signal), or with Nasiam:RunIsolation=inprocess synchronously on this thread
/// (TorchSharp dispose scopes are thread-static). Either way its events go through the same
/// observer. A stop of the app re-queues the job and the engine resumes from its last checkpoint;
/// a user cancel ends it as Cancelled. Before anything else the job takes the run's lease
/// (<see cref="RunLeaseKeeper"/>), renews it while the engine runs and releases it at the end: at
/// most one execution per run across every node, whatever Hangfire delivers. The final status is
/// written last, after the run left <see cref="RunExecutionRegistry"/>, in one transaction with the
/// lease's release and only while the lease is still this node's: a run that reads as ended is
/// resumable that very moment (Interrupted, written during an app stop, is the exception).
/// </summary>
public sealed class NasiamRunJob(
    RunStore store, RunPaths paths, RunScheduler scheduler, IRunEngine engine, ProcessRunEngine processEngine, RunExecutionRegistry registry, ProgressChannel channel,
    RunLifecycle lifecycle, RunLeaseKeeper leases, IHostApplicationLifetime lifetime, IOptions<NasiamWebOptions> options, ILogger<NasiamRunJob> log)
{
    [AutomaticRetry(Attempts = 0, OnAttemptsExceeded = AttemptsExceededAction.Fail)]
    public void Execute(Guid runId, PerformContext? context, CancellationToken cancellationToken)
    {
        var run = store.Get(runId);
        if (run is null) { log.LogInformation("Run {RunId} was deleted; nothing to do", runId); return; }
        var jobId = context?.BackgroundJob.Id;
        if (jobId is not null && run.JobId is not null && run.JobId != jobId)
        {
            log.LogWarning("Job {JobId} is not the current job {Current} of run {RunId}; skipped", jobId, run.JobId, runId);
            return;
        }
        // The lease, not Hangfire, makes this the run's only execution across every node: a job
        // fetched a second time (invisibility timeout, a stale re-queue) finds it held and does nothing.
        var owner = leases.NewOwner();
        if (!leases.TryAcquire(runId, owner))
        {
            log.LogWarning("Run {RunId} is leased by another live worker ({Owner}); job {JobId} skipped", runId, store.Leases.Get(runId)?.Owner, jobId);
            return;
        }
        RunEnding? ending = null;
        try
        {
            ending = ExecuteLeased(runId, jobId, owner, cancellationToken);
        }
        finally
        {
            // Without an ending (nothing to write, the lease lost, an app stop, an exception) the lease is
            // given back here; with one, together with the final status below.
            if (ending is null) leases.Release(runId, owner);
        }
        if (ending is null)
        {
            try { RemoveFolderIfDeleted(runId, owner); }
            catch (Exception e) { log.LogWarning(e, "Run {RunId}: could not check whether it was deleted", runId); }
            return;
        }
        try
        {
            if (!RemoveFolderIfDeleted(runId, owner)) End(run, ending, owner);
        }
        catch (Exception e)
        {
            // The end was not written (database down): give the lease back so the sweeper's resume need not wait for its expiry.
            log.LogError(e, "Run {RunId}: its end ({Status}) could not be written; the lease is given back and the run resumes from its last checkpoint", runId, ending.Status);
            leases.Release(runId, owner);
            throw;
        }
    }

    /// <summary>
    /// The leased part of a job: checks, then the engine inside <see cref="RunExecutionRegistry"/> with
    /// the lease heartbeat. Returns how the run ends, written by the caller once the run has left the
    /// registry and the heartbeat has stopped; null when nothing is to be written.
    /// </summary>
    RunEnding? ExecuteLeased(Guid runId, string? jobId, string owner, CancellationToken cancellationToken)
    {
        var run = store.Get(runId);
        if (run is null) { log.LogInformation("Run {RunId} was deleted; nothing to do", runId); return null; }
        if (run.CancelRequested) return new RunEnding(RunStatus.Cancelled, "Cancelled before it started.");
        // A run that already ended is not run again by a late duplicate of its job (Resume re-queues it as Queued first).
        if (run.Status is RunStatus.Succeeded or RunStatus.Failed or RunStatus.Cancelled)
        {
            log.LogWarning("Run {RunId} already ended ({Status}); job {JobId} skipped", runId, run.Status, jobId);
            return null;
        }

        // The heartbeat runs from here: a take-over below may wait minutes, longer than the lease lasts.
        // It stops before the run leaves the registry, so it can never signal a later attempt's engine.
        var heartbeat = leases.Keep(runId, owner);
        CancellationTokenSource? cts = null;
        try
        {
            if (registry.TryStart(runId) is { } free) cts = free;
            else
            {
                cts = TakeOver(runId, owner, heartbeat, cancellationToken);
                if (cts is null) return null;
                // The wait may have been long: a cancel or a delete asked meanwhile stands.
                run = store.Get(runId);
                if (run is null) return null;
                if (run.CancelRequested) return new RunEnding(RunStatus.Cancelled, "Cancelled before it started.");
            }
            return Execute(run, cts, cancellationToken, heartbeat);
        }
        finally
        {
            heartbeat.Dispose();
            if (cts is not null) registry.Finish(runId, cts);
        }
    }

    /// <summary>
    /// How long <see cref="TakeOver"/> waits for an earlier attempt to stop: a step and a checkpoint, and
    /// with process isolation the child's cancel grace (after which it is killed), plus a minute.
    /// </summary>
    TimeSpan TakeOverWait => (options.Value.RunsInChildProcess ? processEngine.CancelGrace : TimeSpan.FromMinutes(1)) + TimeSpan.FromMinutes(1);

    /// <summary>
    /// This attempt holds the run's lease, yet an earlier attempt of the same run is still in this
    /// process's registry: that attempt stalled past its lease's expiry (a database outage longer than
    /// Nasiam:LeaseSeconds, say) and the sweeper re-queued the run. It has lost the run (under its own
    /// owner name it can neither renew nor release this attempt's lease, and writes nothing at its end),
    /// so it is stopped here and this attempt waits until it has left, which makes its last checkpoint
    /// complete before this attempt resumes from it. Skipping instead would leave the run Queued with no
    /// job. This attempt's <paramref name="heartbeat"/> keeps its lease meanwhile. Null when this attempt
    /// lost its own lease while waiting, or the earlier attempt did not leave within <see cref="TakeOverWait"/>
    /// (the run is then marked Interrupted, with a message, for the user to resume). An app stop while
    /// waiting throws, so that Hangfire re-queues the job.
    /// </summary>
    CancellationTokenSource? TakeOver(Guid runId, string owner, RunLeaseKeeper.Heartbeat heartbeat, CancellationToken appStopping)
    {
        log.LogWarning("Run {RunId}: an earlier attempt in this process lost its lease to {Owner}; stopping it before this attempt resumes the run", runId, owner);
        var wait = TakeOverWait;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < wait)
        {
            registry.Cancel(runId);
            if (registry.TryStart(runId) is { } cts) return cts;
            if (heartbeat.Lost) return null;
            if (appStopping.WaitHandle.WaitOne(50))
                throw new OperationCanceledException("The app is stopping; the run will resume from its last checkpoint.");
        }
        log.LogError("Run {RunId}: its earlier attempt in this process did not stop within {Wait}", runId, wait);
        if (store.Get(runId)?.CancelRequested == true)
            lifecycle.Finished(runId, RunStatus.Cancelled, "Cancelled.", null, null, null, owner);
        else lifecycle.Interrupted(runId, $"An earlier attempt of this run in this process did not stop within {wait.TotalMinutes:0.#} min after losing its lease; resume the run once it has stopped.", owner);
        return null;
    }

    /// <summary>
    /// Writes the run's end and gives its lease back in one transaction, after the job left the
    /// registry: whoever reads the ended status (a page, the API) can resume the run at once, and the
    /// new job finds neither a registry entry nor a held lease. A succeeded search's genotype enters the
    /// library in that transaction too, so the library never lags the status.
    /// </summary>
    void End(RunRecord run, RunEnding ending, string owner)
    {
        var r = ending.Result;
        var discovered = ending.Status == RunStatus.Succeeded && r?.GenotypeText is { } text && run.Kind is RunKind.Search or RunKind.Pipeline
            ? Discovered(run, text) : null;
        if (!lifecycle.Finished(run.Id, ending.Status, ending.Message, r?.GenotypeText, Json(r?.Artifacts), r is null ? null : Core.Reporting.HeadlineMetricsJson.Serialize(r.Metrics), owner, discovered))
        {
            log.LogWarning("Run {RunId}: its lease was taken by {Owner} before its end ({Status}) was written; nothing written, the new owner continues it",
                run.Id, store.Leases.Get(run.Id)?.Owner, ending.Status);
        }
    }

    /// <summary>How an attempt ends: the final status, its message and what the engine produced (null when it produced nothing).</summary>
    sealed record RunEnding(RunStatus Status, string? Message, RunResult? Result = null);

    RunEnding? Execute(RunRecord run, CancellationTokenSource userCancel, CancellationToken hangfireToken, RunLeaseKeeper.Heartbeat lease)
    {
        var runId = run.Id;
        Core.Options.RunOptions runOptions;
        try
        {
            runOptions = run.Options();
            var errors = runOptions.Validate();
            if (errors.Count > 0) throw new ArgumentException("Invalid run options: " + string.Join("; ", errors));
        }
        catch (ArgumentException e)
        {
            return new RunEnding(RunStatus.Failed, e.Message);
        }
        // Torch's default (all cores) would starve Kestrel and SignalR on a small host; see NasiamWebOptions.CpuThreads.
        if (runOptions.Threads == 0) runOptions = runOptions with { Threads = options.Value.EffectiveCpuThreads };

        var dir = paths.RunDirectory(runId);
        Directory.CreateDirectory(dir);
        ImportFolderEvents(runId, dir);
        lifecycle.Started(runId);

        using var linked = CancellationTokenSource.CreateLinkedTokenSource(userCancel.Token, hangfireToken);
        // The engine numbers the attempt's events itself (after its newest checkpoint) and says so in run_started.
        var context = new RunContext { RunId = runId, OutputDirectory = dir, Resume = true };
        RunResult? result = null;
        Exception? failure = null;
        try
        {
            var runner = options.Value.RunsInChildProcess ? processEngine : engine;
            result = runner.Run(runOptions, context, new ChannelObserver(channel), linked.Token);
        }
        catch (OperationCanceledException) { }
        catch (Exception e) { failure = e; }

        // Every event of this attempt is stored before the final status is written.
        if (!channel.Barrier().Wait(TimeSpan.FromSeconds(30)))
            log.LogWarning("Events of run {RunId} were not all stored within 30 s", runId);

        if (lease.Deleted || (lease.Lost && store.Get(runId) is null))
        {
            // Deleted meanwhile: nothing to write; the caller removes its folder now that the engine stopped.
            log.LogInformation("Run {RunId}: stopped because it was deleted", runId);
            return null;
        }
        if (lease.Lost)
        {
            // Another worker owns the run now (it resumes from the last checkpoint): write nothing.
            log.LogWarning("Run {RunId}: stopped after losing its lease; its new owner continues it", runId);
            return null;
        }
        bool userCancelled = userCancel.IsCancellationRequested || store.Get(runId)?.CancelRequested == true;
        if (failure is RunProcessException died && userCancelled)
        {
            // The user asked it to stop and its process died first (the cancel reached it too late, or it was
            // killed from outside while stopping): what the user asked for happened, so not Failed.
            log.LogWarning("Run {RunId}: its process died after the user cancelled it: {Message}", runId, died.Message);
            return new RunEnding(RunStatus.Cancelled, "Stopped at the user's request; " + died.Message);
        }
        if (failure is not null)
        {
            // A run the engine refused as bad input (its ArgumentException, the CLI's exit code 2) is the user's to
            // fix, and its message says how: one warning line, not an error with a stack trace.
            if (failure is ArgumentException) log.LogWarning("Run {RunId} failed on its input: {Message}", runId, failure.Message);
            else log.LogError(failure, "Run {RunId} failed", runId);
            return new RunEnding(RunStatus.Failed, failure.Message);
        }
        if (result is null || result.Outcome == RunOutcome.Cancelled)
        {
            if (!userCancelled && (lifetime.ApplicationStopping.IsCancellationRequested || hangfireToken.IsCancellationRequested))
            {
                if (!lifecycle.Interrupted(runId, "Interrupted by an app stop; resumes from its last checkpoint.", lease.Owner))
                {
                    log.LogWarning("Run {RunId}: stopped with the app after losing its lease; nothing written, its new owner continues it", runId);
                    return null;
                }
                // Throwing on shutdown makes Hangfire re-queue the job instead of marking it done.
                throw new OperationCanceledException("The app is stopping; the run will resume from its last checkpoint.");
            }
            return new RunEnding(RunStatus.Cancelled, result?.Message ?? "Cancelled.", result);
        }
        return new RunEnding(result.Outcome == RunOutcome.Succeeded ? RunStatus.Succeeded : RunStatus.Failed, result.Message, result);
    }

    /// <summary>
    /// Stores the events the run's folder holds and the server missed (it died while the child
    /// finished its checkpoint), so the resume continues the numbering without a hole; see
    /// <see cref="RunEventJournal"/>.
    /// </summary>
    void ImportFolderEvents(Guid runId, string dir)
    {
        try
        {
            int added = RunEventJournal.Reconcile(store, runId, dir);
            if (added > 0) log.LogWarning("Run {RunId}: stored {Added} event(s) from its folder that the server had missed", runId, added);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            log.LogError(e, "Run {RunId}: could not import the events of its folder; the stored events may have a gap before the checkpoint it resumes from", runId);
        }
    }

    /// <summary>
    /// When the run was deleted while this attempt executed it (RunScheduler.Delete leaves the folder
    /// while an engine still writes there), removes its folder now that the attempt stopped; not while
    /// another attempt of it is still in this process. True when the run is deleted.
    /// The delete kept this attempt's lease row (it was live); it goes after the folder, so that a sweeper
    /// (<see cref="RunScheduler.RemoveFoldersOfDeletedRuns"/>) only ever finds a row whose folder is still to remove.
    /// </summary>
    bool RemoveFolderIfDeleted(Guid runId, string owner)
    {
        if (store.Get(runId) is not null) return false;
        if (!registry.IsRunning(runId))
        {
            scheduler.RemoveFolder(runId);
            log.LogInformation("Run {RunId} was deleted while it executed; its folder is removed now that it stopped", runId);
        }
        try { store.Leases.Forget(runId, owner); }
        catch (Exception e) { log.LogWarning(e, "Run {RunId}: could not drop the lease of the deleted run; a lease sweep does once it expired", runId); }
        return true;
    }

    /// <summary>The library entry of a run's discovered genotype; null (with a warning) when the text does not parse.</summary>
    GenotypeEntry? Discovered(RunRecord run, string text)
    {
        try
        {
            GenotypeText.Parse(text);
            // Library names are unique (they are how entries are picked): the run's end stores it as "#2" when taken.
            return Api.GenotypeLibrary.Discovered(run, text);
        }
        catch (GenotypeFormatException e)
        {
            log.LogWarning("Run {RunId} produced an unreadable genotype: {Message}", run.Id, e.Message);
            return null;
        }
    }

    static string? Json<T>(T? value) where T : class => value is null ? null : JsonSerializer.Serialize(value);
}

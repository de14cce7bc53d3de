using Microsoft.AspNetCore.SignalR;
using NASiam.Web.Hubs;
using NASiam.Web.Jobs;

namespace NASiam.Web.Runs;

/// <summary>
/// The one owner of a run's lifecycle: every status write (queued, running, interrupted, and the
/// three ends) and the one cancel path go through here, and each change is told to the run's
/// pages (in process) and to its hub group. Queued → Running → Succeeded | Failed | Cancelled,
/// or Interrupted (app stop; the job resumes at the next start) → Running again.
/// </summary>
public sealed class RunLifecycle(
    RunStore store, RunExecutionRegistry registry, IHubContext<RunsHub, IRunsClient> hub, RunNotificationService notifications)
{
    /// <summary>
    /// The run's job <paramref name="jobId"/> was created: Queued (a new cancel request may follow).
    /// <paramref name="clearCancel"/> false for recovery re-queues: a cancel asked meanwhile stands.
    /// </summary>
    public void Queued(Guid runId, string jobId, bool clearCancel = true)
    {
        store.SetJob(runId, jobId, RunStatus.Queued, clearCancel);
        Changed(runId);
    }

    /// <summary>An attempt starts executing: Running, attempts + 1.</summary>
    public void Started(Guid runId)
    {
        store.MarkStarted(runId);
        Changed(runId);
    }

    /// <summary>
    /// The attempt holding the lease as <paramref name="leaseOwner"/> stops without ending the run (the app is
    /// stopping; the job is re-queued): Interrupted. False, with nothing written, when the lease is no longer
    /// that attempt's (see <see cref="RunStatusStore.Interrupt"/>).
    /// </summary>
    public bool Interrupted(Guid runId, string message, string leaseOwner)
    {
        if (!store.Interrupt(runId, message, leaseOwner)) return false;
        Changed(runId);
        return true;
    }

    /// <summary>Ends a run that no job executes (cancelled while queued, or where nothing executes it).</summary>
    public void Ended(Guid runId, RunStatus status, string? message) => Finished(runId, status, message, null, null, null, leaseOwner: null);

    /// <summary>
    /// Ends the run, with what the engine produced where any (artefacts and metrics as JSON; null keeps
    /// what is stored). The executing job passes its <paramref name="leaseOwner"/>: the lease is given
    /// back in the same transaction, after the job has left <see cref="RunExecutionRegistry"/>, so a run
    /// that reads as ended can be resumed at once (see <see cref="NasiamRunJob"/>). False, with nothing
    /// written, when the lease is no longer that owner's (another node took the run over). A
    /// <paramref name="discovered"/> genotype enters the library in the same write, before anyone is told.
    /// </summary>
    public bool Finished(Guid runId, RunStatus status, string? message, string? genotypeText, string? artifactsJson, string? metricsJson,
        string? leaseOwner, GenotypeEntry? discovered = null)
    {
        if (!store.Finish(runId, status, message, genotypeText, artifactsJson, metricsJson, leaseOwner, discovered)) return false;
        Changed(runId);
        return true;
    }

    /// <summary>
    /// The one cancel path (page, API, delete). Records the request on the run (a queued job then
    /// ends as Cancelled before it starts, whichever process fetches it) and signals the engine
    /// executing it in this process, which stops within a step, checkpoints and ends the run as
    /// Cancelled. A run executing on another node (its lease is live) is stopped by that node, which
    /// reads the request at its next lease heartbeat; a run executing nowhere is marked Cancelled at
    /// once. False when the run does not exist or is not active.
    /// </summary>
    public bool Cancel(Guid runId)
    {
        var run = store.Get(runId);
        if (run is null || !run.IsActive) return false;
        // The executing engine first (it stops within a step, before any database write can wait),
        // then the durable request; a job that started in between is caught by the second signal.
        bool signalled = registry.Cancel(runId);
        store.RequestCancel(runId);
        signalled |= registry.Cancel(runId);
        if (!signalled && !store.Leases.HeldByOther(runId)) Ended(runId, RunStatus.Cancelled, "Cancelled.");
        return true;
    }

    /// <summary>Tells pages and hub clients the run's record changed.</summary>
    void Changed(Guid runId)
    {
        var record = store.Get(runId);
        if (record is null) return;
        notifications.Publish(new RunUpdate(runId, [], record));
        _ = hub.Clients.Group(RunsHub.Group(runId)).Status(new RunStatusMessage(runId, record.Status.ToString(), record.Message, record.Progress));
    }
}

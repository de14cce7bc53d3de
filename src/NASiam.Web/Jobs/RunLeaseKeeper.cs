using Hangfire;
using Microsoft.Extensions.Options;
using NASiam.Web.Options;
using NASiam.Web.Runs;

namespace NASiam.Web.Jobs;

/// <summary>
/// This process as a lease owner: machine name, process id and a random suffix (a restarted
/// process on the same machine is a new owner). Shown in logs and in run_executions.
/// </summary>
public sealed class NodeIdentity
{
    public string Id { get; } = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid().ToString("N")[..6]}";
    public override string ToString() => Id;
}

/// <summary>
/// Takes, keeps and gives back run leases for this process (see <see cref="Runs.Storage.RunLeases"/>
/// for what a lease guarantees). Each execution attempt leases under its own owner name
/// (<see cref="NewOwner"/>: the node's id and an attempt number), so an attempt that stalled past
/// its lease's expiry cannot renew or give back the lease a later attempt of the same run took in
/// this same process. While a run executes, <see cref="Heartbeat"/> renews its lease every
/// Nasiam:LeaseHeartbeatSeconds and relays a cancel requested on any node to the engine here.
/// </summary>
public sealed class RunLeaseKeeper(RunStore store, RunExecutionRegistry registry, NodeIdentity node, IOptions<NasiamWebOptions> options, ILogger<RunLeaseKeeper> log)
{
    long _attempts;
    TimeSpan Ttl => TimeSpan.FromSeconds(options.Value.LeaseSeconds);

    /// <summary>A lease owner name for one execution attempt: "{node id}/{attempt number in this process}".</summary>
    public string NewOwner() => $"{node.Id}/{Interlocked.Increment(ref _attempts)}";

    /// <summary>Takes the run's lease for <paramref name="owner"/>; false when a live lease exists (any owner's).</summary>
    public bool TryAcquire(Guid runId, string owner) => store.Leases.TryAcquire(runId, owner, Ttl);

    /// <summary>Gives <paramref name="owner"/>'s lease back (best effort: an expired lease is as good; another owner's is left alone).</summary>
    public void Release(Guid runId, string owner)
    {
        try { store.Leases.Release(runId, owner); }
        catch (Exception e) { log.LogWarning(e, "Could not release the lease of run {RunId}; it expires on its own", runId); }
    }

    /// <summary>One renewal; true when the lease is lost (the engine is then stopped here). <paramref name="deleted"/>: the run was deleted (logged once).</summary>
    bool BeatOnce(Guid runId, string owner, ref bool deleted)
    {
        try
        {
            if (!store.Leases.Renew(runId, owner, Ttl))
            {
                if (store.Get(runId) is null) NoteDeleted(ref deleted);
                else
                    log.LogError("Run {RunId}: lease lost by {Owner} (it expired and another execution took it); stopping here without writing its status", runId, owner);
                registry.Cancel(runId);
                return true;
            }
            // A cancel asked on another node (web) reaches the engine here within one heartbeat; a delete
            // (the run is gone, its lease row kept while live) stops it the same way.
            switch (store.Status.CancelState(runId))
            {
                case true: registry.Cancel(runId); break;
                case null:
                    NoteDeleted(ref deleted);
                    registry.Cancel(runId);
                    break;
            }
        }
        catch (Exception e)
        {
            // A database hiccup is not a lost lease: the next beat retries before it expires.
            log.LogWarning(e, "Run {RunId}: lease renewal failed; retrying at the next heartbeat", runId);
        }
        return false;

        // Whichever beat finds it first: logged once.
        void NoteDeleted(ref bool seen)
        {
            if (!seen) log.LogInformation("Run {RunId} was deleted; {Owner} stops its engine, and its folder is removed once it stopped", runId, owner);
            seen = true;
        }
    }

    /// <summary>Starts renewing <paramref name="owner"/>'s lease on the run until disposed.</summary>
    public Heartbeat Keep(Guid runId, string owner) => new(this, runId, owner, TimeSpan.FromSeconds(options.Value.LeaseHeartbeatSeconds));

    /// <summary>The renewal loop of one executing run. <see cref="Lost"/>: another owner took the lease (this process stalled past its expiry); the engine is stopped and this process must write nothing more about the run.</summary>
    public sealed class Heartbeat : IDisposable
    {
        readonly RunLeaseKeeper _k;
        readonly Guid _runId;
        readonly string _owner;
        readonly Timer _timer;
        readonly Lock _gate = new();
        bool _disposed;

        internal Heartbeat(RunLeaseKeeper keeper, Guid runId, string owner, TimeSpan period)
        {
            _k = keeper; _runId = runId; _owner = owner;
            _timer = new Timer(_ => Beat(), null, period, period);
        }

        public bool Lost { get; private set; }

        /// <summary>The run was deleted while this attempt executed it (its engine is stopped; nothing is written about the run).</summary>
        public bool Deleted => _deleted;
        bool _deleted;

        /// <summary>The execution attempt's lease owner name.</summary>
        public string Owner => _owner;

        void Beat()
        {
            lock (_gate)
            {
                if (_disposed || Lost) return;
                Lost = _k.BeatOnce(_runId, _owner, ref _deleted);
            }
        }

        public void Dispose()
        {
            lock (_gate) _disposed = true;
            _timer.Dispose();
        }
    }
}

/// <summary>
/// On every executing node: every Nasiam:LeaseHeartbeatSeconds, finds runs marked Running whose
/// lease expired (their worker died: SIGKILL, power, network), claims each for exactly one sweeper
/// (<see cref="Runs.Storage.RunLeases.TryReclaim"/>), deletes its stale Hangfire job and queues it
/// again: the next worker resumes it from its last checkpoint on the shared data directory.
/// </summary>
public sealed class RunLeaseSweeper(
    RunStore store, RunScheduler scheduler, IBackgroundJobClient jobs, NodeIdentity node,
    IOptions<NasiamWebOptions> options, ILogger<RunLeaseSweeper> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.ExecutesRuns) return;
        var period = TimeSpan.FromSeconds(options.Value.LeaseHeartbeatSeconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            try { await Task.Delay(period, stoppingToken); }
            catch (OperationCanceledException) { break; }
            try { SweepOnce(); }
            catch (Exception e) { log.LogWarning(e, "Lease sweep failed; retrying"); }
        }
    }

    /// <summary>One sweep; returns how many runs this node re-queued. Also removes the folders of runs deleted while their (now dead) executor held them.</summary>
    public int SweepOnce()
    {
        try { scheduler.RemoveFoldersOfDeletedRuns(); }
        catch (Exception e) { log.LogWarning(e, "Could not remove the folders of deleted runs; retrying at the next sweep"); }
        int n = 0;
        foreach (var runId in store.Leases.Orphans())
        {
            var lost = store.Leases.Get(runId);
            var run = store.Get(runId);
            if (run is null) continue;
            if (!store.Leases.TryReclaim(runId, $"Its worker {lost?.Owner ?? "(unknown)"} stopped renewing its lease; resuming from its last checkpoint.")) continue;
            if (run.JobId is not null)
            {
                try { jobs.Delete(run.JobId); } catch (Exception e) { log.LogWarning(e, "Could not delete stale job {JobId}", run.JobId); }
            }
            var outcome = scheduler.Recover(runId, lost?.Owner ?? "(unknown)");
            if (outcome == RecoveryOutcome.Requeued)
            {
                n++;
                log.LogWarning("Run {RunId}: executor {Owner} lost (lease expired); re-queued by {Node}", runId, lost?.Owner ?? "(none)", node.Id);
            }
            else if (outcome == RecoveryOutcome.Cancelled)
                log.LogWarning("Run {RunId}: executor {Owner} lost (lease expired) after a cancel was asked; ended as Cancelled by {Node}", runId, lost?.Owner ?? "(none)", node.Id);
        }
        return n;
    }
}

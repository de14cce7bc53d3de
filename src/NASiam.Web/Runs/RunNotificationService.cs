using NASiam.Core.Reporting;
using NASiam.Web.Live;

namespace NASiam.Web.Runs;

/// <summary>A batch of new events of one run, or a change of its record.</summary>
public sealed record RunUpdate(Guid RunId, IReadOnlyList<TrainingEvent> Events, RunRecord? Record);

/// <summary>
/// Fan-out of run updates for Blazor components and in-process services (the hub serves external
/// clients). Components subscribe, marshal with InvokeAsync and dispose the subscription.
/// <see cref="Publish"/> hands the update to this node's subscribers and, when a cross-node
/// transport is configured (Nasiam:Redis, docs/live-events.md), to every other node, whose relay
/// calls <see cref="PublishLocal"/>: a subscriber on any node sees the runs of every node. Without
/// a transport this is the in-process path it always was.
/// </summary>
public sealed class RunNotificationService(IRunEventOutbox? outbox = null)
{
    readonly Lock _gate = new();
    readonly List<Subscription> _subs = [];

    /// <summary>Receives updates of one run (or of every run when <paramref name="runId"/> is null).</summary>
    public IDisposable Subscribe(Guid? runId, Func<RunUpdate, Task> handler)
    {
        var s = new Subscription(this, runId, handler);
        lock (_gate) _subs.Add(s);
        return s;
    }

    /// <summary>
    /// Publishes an update of a run executing (or changed) on this node: to this node's
    /// subscribers, then to the other nodes. Never blocks on the network.
    /// </summary>
    public void Publish(RunUpdate update)
    {
        PublishLocal(update);
        outbox?.Send(update);
    }

    /// <summary>To this node's subscribers only (what a relay of another node's update calls).</summary>
    public void PublishLocal(RunUpdate update)
    {
        Subscription[] targets;
        lock (_gate) targets = _subs.Where(s => s.RunId is null || s.RunId == update.RunId).ToArray();
        foreach (var s in targets)
        {
            // Fire and forget: a slow or broken page must not hold up the pump.
            _ = SafeInvoke(s.Handler, update);
        }
    }

    static async Task SafeInvoke(Func<RunUpdate, Task> handler, RunUpdate update)
    {
        try { await handler(update); } catch { /* a disposed component is not our problem */ }
    }

    sealed class Subscription(RunNotificationService owner, Guid? runId, Func<RunUpdate, Task> handler) : IDisposable
    {
        public Guid? RunId => runId;
        public Func<RunUpdate, Task> Handler => handler;
        public void Dispose() { lock (owner._gate) owner._subs.Remove(this); }
    }
}

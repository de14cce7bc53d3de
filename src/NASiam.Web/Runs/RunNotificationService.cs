using NASiam.Core.Reporting;

namespace NASiam.Web.Runs;

/// <summary>A batch of new events of one run, or a change of its record.</summary>
public sealed record RunUpdate(Guid RunId, IReadOnlyList<TrainingEvent> Events, RunRecord? Record);

/// <summary>
/// In-process fan-out of run updates for Blazor components (the hub serves external clients).
/// Components subscribe, marshal with InvokeAsync and dispose the subscription.
/// </summary>
public sealed class RunNotificationService
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

    public void Publish(RunUpdate update)
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

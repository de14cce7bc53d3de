using NASiam.Web.Runs;
using System.Collections.Concurrent;
using System.Text.Json;
using NASiam.Core.Reporting;
using NASiam.Web.Hubs;

namespace NASiam.Web.Tests.Fakes;

/// <summary>
/// A hub client's view of one run, merged as a dashboard should: the snapshot, then deltas, dropping
/// anything at or below what it already has. Fails the test on a gap in the sequence numbers.
/// </summary>
public sealed class RunFeed
{
    public readonly List<TrainingEvent> Events = [];
    /// <summary>Sequence numbers that arrived by a delta (live), as opposed to the snapshot.</summary>
    public readonly HashSet<long> Live = [];
    public readonly List<long> Duplicates = [];
    public readonly List<string> Errors = [];
    readonly ConcurrentQueue<RunDelta> _early = new();
    public int Deltas;
    long _last = -1;
    bool _snapshot;

    public void OnDelta(RunDelta d)
    {
        Interlocked.Increment(ref Deltas);
        lock (this) { if (!_snapshot) { _early.Enqueue(d); return; } Apply(d.Events, live: true); }
    }

    public void OnSnapshot(RunSnapshot s)
    {
        lock (this)
        {
            Apply(s.Events, live: false);
            _last = Math.Max(_last, s.LastSequence);
            _snapshot = true;
            while (_early.TryDequeue(out var d)) Apply(d.Events, live: true);
        }
    }

    public int Count { get { lock (this) return Events.Count; } }

    /// <summary>Events of type <typeparamref name="T"/> held now; safe while deltas arrive (Events itself is not).</summary>
    public int CountOf<T>() where T : TrainingEvent { lock (this) return Events.OfType<T>().Count(); }

    /// <summary>The last sequence held (what a reconnecting client passes to SubscribeAfter).</summary>
    public long Last { get { lock (this) return _last; } }

    /// <summary>Before a reconnect's SubscribeAfter: deltas queue until its snapshot is applied.</summary>
    public void BeginResubscribe() { lock (this) _snapshot = false; }

    void Apply(IEnumerable<JsonElement> events, bool live)
    {
        foreach (var e in events.Select(TrainingEventJson.Deserialize))
        {
            if (e.Sequence <= _last) { Duplicates.Add(e.Sequence); continue; }
            // Recorded rather than asserted: this runs on the SignalR receive loop, where a throw is swallowed.
            if (e.Sequence != _last + 1) Errors.Add($"gap: {_last} then {e.Sequence}");
            _last = e.Sequence;
            Events.Add(e);
            if (live) Live.Add(e.Sequence);
        }
    }
}

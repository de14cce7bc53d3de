using System.Text.Json;
using NASiam.Core.Reporting;

namespace NASiam.Web.Live;

/// <summary>An event as relayed: its one JSON form (for hub clients) and, when this node can read it, the record (for pages).</summary>
public readonly record struct RelayedEvent(long Sequence, bool StartsAttempt, JsonElement Json, TrainingEvent? Event)
{
    public static RelayedEvent From(TrainingEvent e) => new(e.Sequence, e is RunStarted, TrainingEventJson.ToElement(e), e);
}

/// <summary>
/// Per node, per run: lets each event of a run through once, in sequence order, with no gap
/// (docs/live-events.md, "Order and duplicates"). Events of a run are numbered 0, 1, 2, … by the
/// engine and stored before they are published, so a gap (a message lost while Redis was away) is
/// filled from the store and an event at or below the last one let through is a duplicate, except
/// a run_started at or below it: a resumed attempt replays from its checkpoint, and the pages and
/// hub clients handle that replay themselves (docs/hub.md rule 4). The first message of a run this
/// node sees is let through as it is: a page or hub client that joined earlier read the store
/// after joining, and everything stored after that read reaches this node after the join.
/// Not thread-safe: one receive loop owns it.
/// </summary>
public sealed class RunSequenceGate(Func<Guid, long, IReadOnlyList<TrainingEvent>> readStoredAfter, int maxTrackedRuns = 10_000)
{
    readonly Dictionary<Guid, long> _last = [];

    /// <summary>How many events were filled in from the store and how many duplicates were dropped (diagnostics).</summary>
    public long Filled { get; private set; }
    public long Dropped { get; private set; }
    /// <summary>Gaps the store could not fill (it does not hold the events: a node not sharing the run database). Logged by the relay.</summary>
    public long Unfilled { get; private set; }

    /// <summary>The events of <paramref name="incoming"/> (one run's, in the order published) to deliver, gaps filled.</summary>
    public IReadOnlyList<RelayedEvent> Admit(Guid runId, IReadOnlyList<RelayedEvent> incoming)
    {
        var output = new List<RelayedEvent>(incoming.Count);
        bool known = _last.TryGetValue(runId, out long last);
        foreach (var e in incoming)
        {
            if (known)
            {
                if (e.StartsAttempt && e.Sequence <= last) last = e.Sequence - 1; // a resume replays from here
                else if (e.Sequence <= last) { Dropped++; continue; }
                else if (e.Sequence > last + 1) last = Fill(runId, last, e.Sequence, output);
            }
            output.Add(e);
            last = e.Sequence;
            known = true;
        }
        if (known) Track(runId, last);
        return output;
    }

    /// <summary>
    /// Before a status change is delivered: the stored events of a run this node follows that it has
    /// not let through yet (the last batch's message lost), so a finished run's page ends complete.
    /// </summary>
    public IReadOnlyList<RelayedEvent> CatchUp(Guid runId)
    {
        if (!_last.TryGetValue(runId, out long last)) return [];
        var output = new List<RelayedEvent>();
        last = Fill(runId, last, long.MaxValue, output);
        Track(runId, last);
        return output;
    }

    /// <summary>Stops following a run (it ended); a later attempt starts afresh.</summary>
    public void Forget(Guid runId) => _last.Remove(runId);

    long Fill(Guid runId, long last, long before, List<RelayedEvent> output)
    {
        foreach (var s in readStoredAfter(runId, last))
        {
            if (s.Sequence >= before) break;
            if (s.Sequence <= last) continue;
            output.Add(RelayedEvent.From(s));
            last = s.Sequence;
            Filled++;
        }
        if (before != long.MaxValue && last < before - 1) Unfilled++;
        return last;
    }

    void Track(Guid runId, long last)
    {
        // A bound, not an eviction policy: forgetting a run costs nothing but one unchecked message.
        if (_last.Count >= maxTrackedRuns && !_last.ContainsKey(runId)) _last.Clear();
        _last[runId] = last;
    }
}

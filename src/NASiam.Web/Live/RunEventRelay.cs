using Microsoft.AspNetCore.SignalR;
using NASiam.Core.Reporting;
using NASiam.Web.Hubs;
using NASiam.Web.Runs;

namespace NASiam.Web.Live;

/// <summary>
/// Hands what another node published to this node's pages (<see cref="RunNotificationService"/>,
/// in process, as the progress pump does on the executing node) and to this node's hub groups, in
/// the order received, each event once (<see cref="RunSequenceGate"/>). The SignalR Redis backplane
/// is not used: every node receives every message and serves its own hub clients, so a backplane
/// would deliver each delta a second time (docs/live-events.md). Called by one receive loop.
/// </summary>
public sealed class RunEventRelay
{
    readonly RunNotificationService _notifications;
    readonly IHubContext<RunsHub, IRunsClient> _hub;
    readonly RunStore _store;
    readonly ILogger _log;
    readonly RunSequenceGate _gate;

    public RunEventRelay(RunNotificationService notifications, IHubContext<RunsHub, IRunsClient> hub, RunStore store, ILogger<RunEventRelay> log)
    {
        _notifications = notifications;
        _hub = hub;
        _store = store;
        _log = log;
        _gate = new RunSequenceGate((runId, after) => _store.Read(runId, after).Events);
    }

    long _elided;

    /// <summary>Batches read from the store (too large for the transport), events filled in from the store, duplicates dropped, gaps left (the store lacked the events).</summary>
    public (long Elided, long Filled, long Dropped, long Unfilled) Counters => (Interlocked.Read(ref _elided), _gate.Filled, _gate.Dropped, _gate.Unfilled);

    public async Task DeliverAsync(WireMessage m)
    {
        long unfilled = _gate.Unfilled;
        var incoming = new List<RelayedEvent>(m.Events.Count);
        foreach (var json in m.Events)
        {
            TrainingEvent? e = null;
            try { e = TrainingEventJson.Deserialize(json); }
            catch (Exception ex) when (ex is System.Text.Json.JsonException or NotSupportedException or InvalidOperationException)
            {
                // A newer node's event type: hub clients still get its JSON; pages cannot show it.
                _log.LogWarning("Live event of run {RunId} not readable on this node ({Error}); pages here skip it", m.RunId, ex.Message);
            }
            long seq = e?.Sequence ?? (json.TryGetProperty("sequence", out var s) ? s.GetInt64() : -1);
            bool starts = e is RunStarted || (json.TryGetProperty("type", out var t) && t.ValueEquals("run_started"));
            incoming.Add(new RelayedEvent(seq, starts, json, e));
        }
        if (m.Elided is { } range) // too large for the transport: stored before it was sent, so read it
        {
            Interlocked.Increment(ref _elided);
            incoming.AddRange(_store.Read(m.RunId, range.First - 1).Events.Where(e => e.Sequence <= range.Last).Select(RelayedEvent.From));
        }
        var events = new List<RelayedEvent>(_gate.Admit(m.RunId, incoming));
        if (m.Status is not null) events.AddRange(_gate.CatchUp(m.RunId));
        if (_gate.Unfilled > unfilled)
            _log.LogWarning("Live events of run {RunId} have a gap this node's store cannot fill (is the run database shared by all nodes?)", m.RunId);

        if (events.Count > 0)
        {
            var readable = events.Where(e => e.Event is not null).Select(e => e.Event!).ToArray();
            if (readable.Length > 0) _notifications.PublishLocal(new RunUpdate(m.RunId, readable, null));
            await _hub.Clients.Group(RunsHub.Group(m.RunId)).Delta(
                new RunDelta(m.RunId, events[0].Sequence, events[^1].Sequence, events.Select(e => e.Json).ToArray()));
        }
        if (m.Status is { } st)
        {
            // The record from the shared store (written before the notice was sent): pages get what RunLifecycle would give them.
            var record = _store.Get(m.RunId);
            if (record is not null) _notifications.PublishLocal(new RunUpdate(m.RunId, [], record));
            if (record is null || !record.IsActive) _gate.Forget(m.RunId);
            await _hub.Clients.Group(RunsHub.Group(m.RunId)).Status(new RunStatusMessage(m.RunId, st.Status, st.Message, st.Progress));
        }
    }
}

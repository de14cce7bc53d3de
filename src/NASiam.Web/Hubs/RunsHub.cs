using System.Text.Json;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;
using NASiam.Core.Reporting;
using NASiam.Web.Options;
using NASiam.Web.Runs;

namespace NASiam.Web.Hubs;

/// <summary>
/// Events of a run as sent to clients: <see cref="Events"/> holds each event in its one JSON form
/// (docs/events.schema.v1.json; snake_case, "type" first), in sequence order.
/// </summary>
public sealed record RunDelta(Guid RunId, long FirstSequence, long LastSequence, IReadOnlyList<JsonElement> Events);

/// <summary>
/// The reply to Subscribe / SubscribeAfter: stored events (Subscribe: series thinned for long
/// runs, <see cref="Downsampled"/>; SubscribeAfter: every event) and the last sequence stored.
/// Deltas with events at or below <see cref="LastSequence"/> are already in it.
/// </summary>
/// <param name="AttemptStarted">The run's newest run_started event (null before the first): see docs/hub.md, rule 5.</param>
public sealed record RunSnapshot(Guid RunId, string Status, long LastSequence, bool Downsampled, IReadOnlyList<JsonElement> Events, JsonElement? AttemptStarted);

/// <summary>Status changes of a run (progress 0..1 of the current stage).</summary>
public sealed record RunStatusMessage(Guid RunId, string Status, string? Message, double Progress);

/// <summary>What the server calls on clients.</summary>
public interface IRunsClient
{
    Task Delta(RunDelta delta);
    Task Status(RunStatusMessage status);
}

/// <summary>
/// /hubs/runs, the external transport for live runs (contract: docs/hub.md; example client:
/// tools/hub-client/). A client calls Subscribe(runId) and gets a snapshot; afterwards it receives
/// append-only deltas (at most Nasiam:MaxUpdatesPerSecond per second per run). The group is joined
/// before the snapshot is read and events are stored before they are broadcast, so together they
/// miss nothing; the client drops delta events whose sequence it already has. A client that
/// reconnects calls SubscribeAfter(runId, lastSequenceItHas) and gets exactly what it missed.
/// With several nodes each node's groups get every node's runs from Live.RunEventRelay, under the
/// same two conditions (docs/live-events.md); no SignalR backplane is involved.
/// </summary>
public sealed class RunsHub(RunStore store, IOptions<NasiamWebOptions> options) : Hub<IRunsClient>
{
    public static string Group(Guid runId) => $"run-{runId:N}";

    /// <summary>Joins the run's group; the snapshot has every stored event, long series thinned to Nasiam:MaxPointsPerSeries.</summary>
    public Task<RunSnapshot> Subscribe(Guid runId) => Join(runId, -1, options.Value.MaxPointsPerSeries);

    /// <summary>
    /// Joins the run's group; the snapshot has every stored event after <paramref name="afterSequence"/>,
    /// none thinned (a reconnecting client passes the last sequence it holds; -1 for everything).
    /// </summary>
    public Task<RunSnapshot> SubscribeAfter(Guid runId, long afterSequence) => Join(runId, afterSequence, int.MaxValue);

    async Task<RunSnapshot> Join(Guid runId, long afterSequence, int maxPerType)
    {
        var run = store.Get(runId) ?? throw new HubException($"Run {runId} does not exist.");
        await Groups.AddToGroupAsync(Context.ConnectionId, Group(runId));
        var page = store.Read(runId, afterSequence, maxPerType: maxPerType);
        return new RunSnapshot(runId, run.Status.ToString(), page.LastSequence, page.Downsampled, page.EventElements(), page.AttemptStartedElement());
    }

    public Task Unsubscribe(Guid runId) => Groups.RemoveFromGroupAsync(Context.ConnectionId, Group(runId));
}

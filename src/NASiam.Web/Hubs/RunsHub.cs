using System.Text.Json;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;
using NASiam.Core.Reporting;
using NASiam.Web.Options;
using NASiam.Web.Runs;

namespace NASiam.Web.Hubs;

/// <summary>Events of a run as sent to clients: each element is an event's JSON with "sequence" and "type".</summary>
public sealed record RunDelta(Guid RunId, long FirstSequence, long LastSequence, IReadOnlyList<JsonElement> Events);

/// <summary>
/// The reply to Subscribe: stored events so far (series downsampled for long runs) and the last
/// sequence they cover. Deltas with events at or below <see cref="LastSequence"/> are already in it.
/// </summary>
public sealed record RunSnapshot(Guid RunId, string Status, long LastSequence, bool Downsampled, IReadOnlyList<JsonElement> Events);

/// <summary>Status changes of a run.</summary>
public sealed record RunStatusMessage(Guid RunId, string Status, string? Message, double Progress);

/// <summary>What the server calls on clients.</summary>
public interface IRunsClient
{
    Task Delta(RunDelta delta);
    Task Status(RunStatusMessage status);
}

/// <summary>
/// /hubs/runs. A client calls Subscribe(runId) and gets a snapshot; afterwards it receives
/// append-only deltas (at most about 10 per second per run). The group is joined before the snapshot
/// is read and events are stored before they are broadcast, so together they miss nothing; the
/// client drops delta events whose sequence it already has.
/// </summary>
public sealed class RunsHub(RunStore store, IOptions<NasiamWebOptions> options) : Hub<IRunsClient>
{
    public static string Group(Guid runId) => $"run-{runId:N}";

    public async Task<RunSnapshot> Subscribe(Guid runId)
    {
        var run = store.Get(runId) ?? throw new HubException($"Run {runId} does not exist.");
        await Groups.AddToGroupAsync(Context.ConnectionId, Group(runId));
        var page = store.Read(runId, maxPerType: options.Value.MaxPointsPerSeries);
        return new RunSnapshot(runId, run.Status.ToString(), page.LastSequence, page.Downsampled,
            page.Events.Select(TrainingEventJson.ToElement).ToArray());
    }

    public Task Unsubscribe(Guid runId) => Groups.RemoveFromGroupAsync(Context.ConnectionId, Group(runId));
}

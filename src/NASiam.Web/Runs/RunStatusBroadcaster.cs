using Microsoft.AspNetCore.SignalR;
using NASiam.Web.Hubs;

namespace NASiam.Web.Runs;

/// <summary>Writes a status change and tells the hub group and in-process pages about it.</summary>
public sealed class RunStatusBroadcaster(RunStore store, IHubContext<RunsHub, IRunsClient> hub, RunNotificationService notifications)
{
    public void Set(Guid runId, RunStatus status, string? message, bool finished = false)
    {
        store.SetStatus(runId, status, message, finished);
        Changed(runId);
    }

    public void Changed(Guid runId)
    {
        var record = store.Get(runId);
        if (record is null) return;
        notifications.Publish(new RunUpdate(runId, [], record));
        _ = hub.Clients.Group(RunsHub.Group(runId)).Status(new RunStatusMessage(runId, record.Status.ToString(), record.Message, record.Progress));
    }
}

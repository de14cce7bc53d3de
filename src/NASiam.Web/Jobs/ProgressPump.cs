using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;
using NASiam.Core.Reporting;
using NASiam.Web.Hubs;
using NASiam.Web.Options;
using NASiam.Web.Runs;

namespace NASiam.Web.Jobs;

/// <summary>
/// Drains <see cref="ProgressChannel"/>: stores each batch (so a reload or late subscriber sees
/// everything), then hands the same in-memory events to in-process pages and one delta per run to
/// the hub group; RunNotificationService.Publish also sends the batch to the other nodes when a
/// transport is configured (docs/live-events.md), after it is stored, which is what lets every
/// node's relay fill gaps from the store. Status changes travel separately (<see cref="RunLifecycle"/>). It sends at
/// most MaxUpdatesPerSecond batches per run, which coalesces fast runs instead of flooding browsers.
/// </summary>
public sealed class ProgressPump(
    ProgressChannel channel, RunStore store, IHubContext<RunsHub, IRunsClient> hub,
    RunNotificationService notifications, IOptions<NasiamWebOptions> options, ILogger<ProgressPump> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = TimeSpan.FromSeconds(1.0 / options.Value.MaxUpdatesPerSecond);
        var reader = channel.Reader;
        try
        {
            while (await reader.WaitToReadAsync(stoppingToken))
            {
                await DrainOnce(reader);
                await Task.Delay(interval, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
        // Whatever is still queued at shutdown is stored, so a resumed run loses nothing.
        await DrainOnce(reader);
    }

    async Task DrainOnce(System.Threading.Channels.ChannelReader<object> reader)
    {
        var byRun = new Dictionary<Guid, List<TrainingEvent>>();
        var barriers = new List<ProgressChannel.BarrierItem>();
        while (reader.TryRead(out var item))
        {
            if (item is TrainingEvent e)
            {
                if (!byRun.TryGetValue(e.RunId, out var list)) byRun[e.RunId] = list = [];
                list.Add(e);
            }
            else if (item is ProgressChannel.BarrierItem b) barriers.Add(b);
        }
        foreach (var (runId, events) in byRun)
        {
            try
            {
                // Stored first (a page or hub client that subscribes and then reads the store misses
                // nothing), then handed to pages in memory as they are: no read back.
                store.Append(runId, events);
                notifications.Publish(new RunUpdate(runId, events, null));
                var delta = new RunDelta(runId, events[0].Sequence, events[^1].Sequence,
                    events.Select(TrainingEventJson.ToElement).ToArray());
                await hub.Clients.Group(RunsHub.Group(runId)).Delta(delta);
            }
            catch (Exception ex)
            {
                log.LogError(ex, "Could not store or broadcast {Count} events of run {RunId}", events.Count, runId);
            }
        }
        foreach (var b in barriers) b.Done.TrySetResult();
    }
}

using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;
using NASiam.Core.Reporting;
using NASiam.Web.Hubs;
using NASiam.Web.Options;
using NASiam.Web.Runs;

namespace NASiam.Web.Jobs;

/// <summary>
/// Drains <see cref="ProgressChannel"/>: stores each batch (so a reload or late subscriber sees
/// everything), then sends one delta per run to the hub group and to in-process pages. It sends at
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
                store.Append(runId, events);
                var record = store.Get(runId);
                notifications.Publish(new RunUpdate(runId, events, record));
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

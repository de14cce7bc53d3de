using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using NASiam.Core.Reporting;
using NASiam.Web.Hubs;
using NASiam.Web.Live;
using NASiam.Web.Runs;
using NASiam.Web.Tests.Fakes;
using Xunit.Abstractions;

namespace NASiam.Web.Tests.Live;

/// <summary>
/// Two app hosts (two nodes) sharing one redis-server and one data directory: a run executes on
/// node A (its scripted engine, the job's own path: ProgressChannel → ProgressPump → store →
/// RunNotificationService → Redis), and node B's pages (a RunNotificationService subscriber) and
/// hub clients see it live, in order, each event once, with its status changes. Prints the
/// latency A → B (docs/live-events.md has the figures); asserts no timing.
/// Benchmark: NASIAM_LIVE_STEPS=2000 dotnet test tests/NASiam.Web.Tests --filter "FullyQualifiedName~CrossNode" --logger "console;verbosity=detailed"
/// </summary>
public sealed class CrossNodeLiveTests(RedisServer redis, ITestOutputHelper output) : IClassFixture<RedisServer>
{
    [RedisFact]
    public Task RunOnNodeA_ReachesPagesAndHubClientsOnNodeB_InOrderEachOnce_WithItsStatus() =>
        CrossNodeScenario.Run(new() { ["Nasiam:Redis"] = redis.ConnectionString }, "redis", output);
}

/// <summary>The same scenario with PostgreSQL LISTEN/NOTIFY as the transport (no Redis).</summary>
public sealed class CrossNodePostgresLiveTests(ITestOutputHelper output)
{
    [ScaleOut.PostgresFact]
    public Task RunOnNodeA_ReachesPagesAndHubClientsOnNodeB_InOrderEachOnce_WithItsStatus() =>
        CrossNodeScenario.Run(new() { ["Nasiam:LiveEvents"] = "postgresql", ["Nasiam:ConnectionString"] = ScaleOut.PostgresCluster.NewDatabase("live") }, "postgresql", output);
}

static class CrossNodeScenario
{
    public static async Task Run(Dictionary<string, string> transport, string expected, ITestOutputHelper output)
    {
        var data = Directory.CreateTempSubdirectory("nasiam-live-").FullName;
        try { await Run(data, transport, expected, output); }
        finally { try { Directory.Delete(data, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { } }
    }

    static async Task Run(string data, Dictionary<string, string> transport, string expected, ITestOutputHelper output)
    {
        NasiamAppFactory Node(ScriptedRunEngine engine) => new(data, engine, settings: new Dictionary<string, string>(transport)
        {
            ["Nasiam:ResumeInterruptedRuns"] = "false", // B must not adopt A's run at start-up (roles do that properly)
        });

        int steps = int.TryParse(Environment.GetEnvironmentVariable("NASIAM_LIVE_STEPS"), out var n) ? n : 300;
        await using var a = Node(new ScriptedRunEngine(totalSteps: steps, stepMilliseconds: 20));
        await using var b = Node(new ScriptedRunEngine());
        using var ca = a.Api();
        using var cb = b.Api(); // both hosts started before the run exists
        bool Active(NasiamAppFactory n) => expected == "redis" ? n.Services.GetRequiredService<RedisRunEventBus>().Active
            : n.Services.GetRequiredService<PostgresRunEventBus>().Active;
        Assert.True(Active(a) && Active(b), $"the {expected} transport is not active on both nodes");

        var clock = Stopwatch.StartNew();
        // When node A published each batch (its own subscribers run synchronously inside Publish, before the send).
        var publishedAt = new ConcurrentDictionary<long, double>();
        using var onA = a.Services.GetRequiredService<RunNotificationService>().Subscribe(null, u =>
        {
            double t = clock.Elapsed.TotalMilliseconds;
            if (u.Events.Count > 0) publishedAt.TryAdd(u.Events[^1].Sequence, t);
            return Task.CompletedTask;
        });
        // Node B's pages: every update of every run (the run list subscribes like this).
        var pageEvents = new ConcurrentQueue<TrainingEvent>();
        var pageStatuses = new ConcurrentQueue<(Guid Run, RunStatus Status)>();
        var pageArrival = new ConcurrentDictionary<long, double>();
        using var onB = b.Services.GetRequiredService<RunNotificationService>().Subscribe(null, u =>
        {
            double t = clock.Elapsed.TotalMilliseconds;
            foreach (var e in u.Events) { pageEvents.Enqueue(e); pageArrival.TryAdd(e.Sequence, t); }
            if (u.Record is { } r) pageStatuses.Enqueue((u.RunId, r.Status));
            return Task.CompletedTask;
        });

        var id = await NasiamAppFactory.CreateQuickDemo(ca);

        // A hub client on node B and, for comparison, one on node A (the in-process path).
        var hubB = new HubProbe(clock);
        await using var connB = b.Hub();
        hubB.Attach(connB);
        await connB.StartAsync();
        hubB.Feed.OnSnapshot(await connB.InvokeAsync<RunSnapshot>("SubscribeAfter", id, -1L));
        var hubA = new HubProbe(clock);
        await using var connA = a.Hub();
        hubA.Attach(connA);
        await connA.StartAsync();
        hubA.Feed.OnSnapshot(await connA.InvokeAsync<RunSnapshot>("SubscribeAfter", id, -1L));

        await NasiamAppFactory.WaitForStatus(cb, id, "Succeeded", seconds: 60 + steps / 10);
        var stored = await NasiamAppFactory.Events(cb, id);
        await NasiamAppFactory.WaitUntil(() => Task.FromResult(hubB.Feed.Count == stored.Count && hubB.Statuses.Contains("Succeeded")
                                                               && pageStatuses.Any(s => s.Run == id && s.Status == RunStatus.Succeeded)),
            TimeSpan.FromSeconds(10), "node B to catch up",
            // What was missing when it timed out (a Redis run once failed here without saying).
            () => $"hub client on B {hubB.Feed.Count}/{stored.Count} events, statuses [{string.Join(",", hubB.Statuses)}], feed errors [{string.Join("; ", hubB.Feed.Errors)}]; " +
                  $"B's pages {pageEvents.Count(e => e.RunId == id)} events, statuses [{string.Join(",", pageStatuses.Where(s => s.Run == id).Select(s => s.Status))}]");

        // (b) node B's pages: every event exactly once, in order, and the status changes.
        var seen = pageEvents.Where(e => e.RunId == id).Select(e => e.Sequence).ToList();
        Assert.Equal(stored.Select(s => s.Seq), seen);
        Assert.Contains(pageStatuses, s => s.Run == id && s.Status == RunStatus.Running);
        // (a) node B's hub client: the stored events in order without gaps; no event came twice by delta.
        Assert.Empty(hubB.Feed.Errors);
        Assert.Equal(stored.Select(s => s.Seq), hubB.Feed.Events.Select(e => e.Sequence));
        Assert.Equal(hubB.DeltaSequences.Count, hubB.DeltaSequences.Distinct().Count());
        Assert.True(hubB.Feed.Live.Count > stored.Count / 2, $"only {hubB.Feed.Live.Count} of {stored.Count} events arrived live on node B");
        Assert.Equal(hubA.DeltaSequences.Count, hubA.DeltaSequences.Distinct().Count());

        var relay = b.Services.GetRequiredService<RunEventRelay>().Counters;
        output.WriteLine($"transport {expected}:");
        Report(output, "node B pages (RunNotificationService)", publishedAt, pageArrival);
        Report(output, "node B hub client (/hubs/runs)", publishedAt, hubB.Arrival);
        Report(output, "node A hub client (in process, no hop)", publishedAt, hubA.Arrival);
        output.WriteLine($"{stored.Count} events in {publishedAt.Count} batches; relay on B: {relay.Elided} batches read from the store (too large for the transport), " +
                         $"{relay.Filled} events filled from the store, {relay.Dropped} duplicates dropped, {relay.Unfilled} gaps; load {File.ReadAllText("/proc/loadavg").Trim()} on {Environment.ProcessorCount} cores");
    }

    /// <summary>Latency per batch: from node A's publish to the arrival of the batch's last event.</summary>
    static void Report(ITestOutputHelper output, string what, IReadOnlyDictionary<long, double> published, IReadOnlyDictionary<long, double> arrived)
    {
        var ms = published.Where(p => arrived.ContainsKey(p.Key)).Select(p => arrived[p.Key] - p.Value).Order().ToArray();
        if (ms.Length == 0) { output.WriteLine($"{what}: no live batch measured"); return; }
        double Q(double q) => ms[Math.Min(ms.Length - 1, (int)Math.Ceiling(q * ms.Length) - 1)];
        output.WriteLine($"{what}: n={ms.Length} median {Q(0.5):0.00} ms, p95 {Q(0.95):0.00} ms, max {ms[^1]:0.00} ms");
    }

    sealed class HubProbe(Stopwatch clock)
    {
        public readonly RunFeed Feed = new();
        public readonly ConcurrentDictionary<long, double> Arrival = new();
        public readonly ConcurrentQueue<long> DeltaSequences = new();
        public readonly ConcurrentBag<string> Statuses = [];

        public void Attach(HubConnection c)
        {
            c.On<RunDelta>("Delta", d =>
            {
                double t = clock.Elapsed.TotalMilliseconds;
                foreach (var e in d.Events)
                {
                    long seq = e.GetProperty("sequence").GetInt64();
                    DeltaSequences.Enqueue(seq);
                    Arrival.TryAdd(seq, t);
                }
                Feed.OnDelta(d);
            });
            c.On<RunStatusMessage>("Status", s => Statuses.Add(s.Status));
        }
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using NASiam.Core.Options;
using NASiam.Core.Reporting;
using NASiam.Web.Runs;
using NASiam.Web.Runs.Storage;
using Microsoft.AspNetCore.SignalR.Client;
using NASiam.Web.Hubs;
using NASiam.Web.Tests.Engine;
using NASiam.Web.Tests.Live;
using Xunit.Abstractions;

namespace NASiam.Web.Tests.ScaleOut;

/// <summary>
/// The app deployed as several processes on one PostgreSQL (a throwaway cluster on loopback): one
/// <c>--role web</c> node that takes the runs, two <c>--role worker</c> nodes (one cpu device each)
/// that execute them in child processes with the real engine, all sharing one data directory.
/// Short leases (3 s, heartbeat 0.5 s) keep the failover quick.
/// </summary>
public class ScaleOutTests(ITestOutputHelper output) : IDisposable
{
    readonly string _data = Directory.CreateTempSubdirectory("nasiam-scale-").FullName;

    Dictionary<string, string> Settings(string connectionString) => new()
    {
        ["Nasiam__Storage"] = "postgresql",
        ["Nasiam__ConnectionString"] = connectionString,
        ["Nasiam__DataDirectory"] = _data,
        ["Nasiam__LeaseSeconds"] = "3",
        ["Nasiam__LeaseHeartbeatSeconds"] = "0.5",
        ["Nasiam__QueuePollSeconds"] = "0.2",
        ["Nasiam__CpuThreads"] = "1",
        ["Nasiam__AccessKey"] = "",
    };

    /// <summary>A search of seconds: 128 synthetic images, batch 32 (2 weight steps an epoch: half the images train the architecture), a checkpoint every epoch.</summary>
    static RunOptions Tiny(string name, int epochs)
    {
        var t = RealEngineRunTests.TinySearch();
        return t with { Name = name, SyntheticTrainSize = 128, MaxStepsPerStage = null, AlphaLogEverySteps = 2, Search = t.Search with { Epochs = epochs, BatchSize = 32 } };
    }

    static async Task<Guid> Submit(HttpClient web, RunOptions options)
    {
        using var doc = JsonDocument.Parse(options.ToJson());
        var r = await web.PostAsJsonAsync("/api/runs", new { options = doc.RootElement });
        Assert.True(r.StatusCode == HttpStatusCode.Created, $"POST /api/runs: {(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");
        return (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
    }

    static int PidOf(string owner) => int.Parse(owner.Split(':')[^2]);

    /// <summary>
    /// No point lost or duplicated: sequences 0..n-1 without a gap, and every step the search stage
    /// planned (its last stage_started's total) logged exactly once. Returns that total.
    /// </summary>
    static long AssertCompleteEvents(RunStore store, Guid id)
    {
        var events = store.Read(id).Events;
        Assert.Equal(Enumerable.Range(0, events.Count).Select(i => (long)i), events.Select(e => e.Sequence));
        long total = events.OfType<StageStarted>().Last(s => s.Stage == "search").TotalSteps;
        var steps = events.OfType<StepLogged>().Where(s => s.Stage == "search").Select(s => s.Step).ToList();
        Assert.Equal(Enumerable.Range(1, (int)total).Select(i => (long)i), steps);
        return total;
    }

    [PostgresFact]
    public async Task WebAndTwoWorkers_SixRunsSpreadOnceEach_AndAKilledWorkersRunResumesOnTheOtherFromItsCheckpoint()
    {
        var cs = PostgresCluster.NewDatabase("scale");
        var settings = Settings(cs);
        // Live events between the nodes over Redis (the recommended transport; docs/live-events.md).
        await using var redis = new RedisServer();
        await redis.InitializeAsync();
        if (RedisServer.Missing is null) settings["Nasiam__Redis"] = redis.ConnectionString;
        output.WriteLine($"live events between nodes: {(RedisServer.Missing is null ? "redis" : "postgresql (LISTEN/NOTIFY; " + RedisServer.Missing + ")")}");
        var clock = Stopwatch.StartNew();
        // The web node first: it creates the schema; then the workers (they would create it as well).
        await using var web = AppNode.Start("web", settings);
        await web.WaitHealthy(TimeSpan.FromSeconds(90));
        await using var w1 = AppNode.Start("worker", settings);
        await using var w2 = AppNode.Start("worker", settings);
        await Task.WhenAll(w1.WaitHealthy(TimeSpan.FromSeconds(90)), w2.WaitHealthy(TimeSpan.FromSeconds(90)));
        var workers = new[] { w1, w2 };
        output.WriteLine($"nodes up in {clock.Elapsed.TotalSeconds:0.0} s (web pid {web.Pid}, workers {w1.Pid}, {w2.Pid}); load {File.ReadAllText("/proc/loadavg").Trim()}");
        string Logs() => $"--- web ---\n{web.Output()}\n--- worker {w1.Pid} ---\n{w1.Output()}\n--- worker {w2.Pid} ---\n{w2.Output()}";

        using var db = RunDatabase.PostgreSql(cs);
        var store = new RunStore(db);
        using var http = new HttpClient { BaseAddress = web.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };

        // A worker serves no API; the web node executes nothing.
        Assert.Equal(HttpStatusCode.NotFound, (await new HttpClient().GetAsync(new Uri(w1.BaseAddress, "/api/runs"))).StatusCode);

        // Phase 1: six queued tiny runs, spread over both workers, each executed exactly once.
        clock.Restart();
        var ids = new List<Guid>();
        for (int i = 0; i < 6; i++) ids.Add(await Submit(http, Tiny($"scale {i}", epochs: 1)));
        try
        {
            await WaitUntil(() => ids.All(id => store.Get(id)?.Status == RunStatus.Succeeded) || ids.Any(id => store.Get(id)?.Status == RunStatus.Failed),
                TimeSpan.FromSeconds(300), "six runs to finish");
        }
        catch (TimeoutException e) { throw new TimeoutException(e.Message + "\n" + Logs()); }
        Assert.All(ids, id => Assert.True(store.Get(id)!.Status == RunStatus.Succeeded, $"run {id}: {store.Get(id)!.Status} {store.Get(id)!.Message}\n{Logs()}"));
        var executions = ids.ToDictionary(id => id, id => store.Leases.Executions(id));
        Assert.All(executions, e => Assert.Single(e.Value)); // none executed twice
        Assert.All(ids, id => Assert.Equal(1, store.Get(id)!.Attempts));
        var spread = executions.Values.GroupBy(e => PidOf(e[0].Owner)).ToDictionary(g => g.Key, g => g.Count());
        output.WriteLine($"six runs done in {clock.Elapsed.TotalSeconds:0.0} s; spread over workers: "
                         + string.Join(", ", workers.Select(w => $"pid {w.Pid}: {spread.GetValueOrDefault(w.Pid)}")) + $"; web pid {web.Pid}: {spread.GetValueOrDefault(web.Pid)}");
        Assert.Equal(0, spread.GetValueOrDefault(web.Pid));
        Assert.All(workers, w => Assert.True(spread.GetValueOrDefault(w.Pid) > 0, $"worker {w.Pid} executed nothing; spread {string.Join(", ", spread)}"));
        foreach (var id in ids) AssertCompleteEvents(store, id);

        // Artefacts live on the shared directory: the web node, which executed nothing, lists and serves
        // what a worker wrote (checkpoint bytes and the genotype).
        var listed = await http.GetFromJsonAsync<JsonElement>($"/api/runs/{ids[0]}/files");
        var ckpt = listed.EnumerateArray().First();
        var bytes = await http.GetByteArrayAsync($"/api/runs/{ids[0]}/files/{ckpt.GetProperty("name").GetString()}");
        Assert.Equal(ckpt.GetProperty("bytes").GetInt64(), bytes.LongLength);
        Assert.Equal(store.Get(ids[0])!.GenotypeText!.Trim(), (await http.GetStringAsync($"/api/runs/{ids[0]}/genotype?format=txt")).Trim());

        // Phase 2: SIGKILL the worker executing a longer run once it has a checkpoint. A SignalR client
        // of the web node follows the run's alphas, which are logged on the workers.
        var longRun = await Submit(http, Tiny("scale failover", epochs: 8)); // 16 steps, a checkpoint every 2
        var received = new List<(JsonElement Event, DateTimeOffset At)>();
        await using var hub = new HubConnectionBuilder().WithUrl(new Uri(web.BaseAddress, "/hubs/runs")).Build();
        hub.On<RunDelta>("Delta", d =>
        {
            var now = DateTimeOffset.UtcNow;
            lock (received) foreach (var e in d.Events) received.Add((e, now));
        });
        await hub.StartAsync();
        var snapshot = await hub.InvokeAsync<RunSnapshot>("SubscribeAfter", longRun, -1L);
        await WaitUntil(() => store.Read(longRun).Events.OfType<CheckpointSaved>().Any(c => c.Step >= 4) && store.Leases.Get(longRun) is { Live: true },
            TimeSpan.FromSeconds(90), "the long run to checkpoint twice");
        var first = store.Leases.Get(longRun)!;
        var victim = workers.Single(w => w.Pid == PidOf(first.Owner));
        var survivor = workers.Single(w => w != victim);
        long lastStoredBeforeKill = store.Read(longRun).LastSequence;
        victim.KillHard();
        var death = Stopwatch.StartNew();
        Assert.True(await victim.WaitForExit(TimeSpan.FromSeconds(10)), "the killed worker did not exit");

        await WaitUntil(() => store.Leases.Executions(longRun).Count >= 2, TimeSpan.FromSeconds(60), "another worker to take the run over");
        var resumedAfter = death.Elapsed;
        await WaitUntil(() => store.Read(longRun).Events.OfType<RunStarted>().Count(r => r.ResumedFrom is not null) >= 1,
            TimeSpan.FromSeconds(60), "the engine to resume from a checkpoint");
        var engineResumedAfter = death.Elapsed;
        try
        {
            await WaitUntil(() => store.Get(longRun)?.Status is RunStatus.Succeeded or RunStatus.Failed, TimeSpan.FromSeconds(120), "the resumed run to finish");
        }
        catch (TimeoutException e) { throw new TimeoutException(e.Message + "\n" + Logs()); }
        var done = store.Get(longRun)!;
        Assert.True(done.Status == RunStatus.Succeeded, $"{done.Status}: {done.Message}\n{Logs()}");
        var owners = store.Leases.Executions(longRun).Select(e => PidOf(e.Owner)).ToList();
        Assert.Equal([victim.Pid, survivor.Pid], owners);
        var started = store.Read(longRun).Events.OfType<RunStarted>().ToList();
        Assert.NotNull(started[^1].ResumedFrom); // from its checkpoint, not from scratch
        long totalSteps = AssertCompleteEvents(store, longRun);
        output.WriteLine($"worker {victim.Pid} SIGKILLed at step sequence {lastStoredBeforeKill}; lease taken over by {survivor.Pid} after {resumedAfter.TotalSeconds:0.0} s, "
                         + $"engine resumed from '{started[^1].ResumedFrom}' after {engineResumedAfter.TotalSeconds:0.0} s (lease 3 s, heartbeat/sweep 0.5 s); "
                         + $"{done.EventCount} events, no gap, each of {totalSteps} steps once; load {File.ReadAllText("/proc/loadavg").Trim()}");

        // The hub client on the web node saw the alphas the workers logged, before and after the failover,
        // each live event once per execution (a resume replays from its checkpoint, announced by run_started).
        long lastStored = store.Read(longRun).LastSequence;
        await WaitUntil(() => { lock (received) return received.Any(r => r.Event.GetProperty("sequence").GetInt64() == lastStored); },
            TimeSpan.FromSeconds(30), "the hub client to receive the run's last events");
        List<(JsonElement Event, DateTimeOffset At)> live;
        lock (received) live = received.ToList();
        var liveAlphas = live.Where(r => r.Event.GetProperty("type").GetString() == "alphas").ToList();
        var storedAlphas = store.Read(longRun).Events.OfType<AlphasLogged>().Select(a => a.Sequence).ToHashSet();
        long fromSnapshot = snapshot.Events.Count(e => e.GetProperty("type").GetString() == "alphas");
        Assert.NotEmpty(liveAlphas);
        Assert.True(liveAlphas.Count + fromSnapshot >= storedAlphas.Count, $"hub client: {liveAlphas.Count} live + {fromSnapshot} snapshot alphas, store {storedAlphas.Count}");
        Assert.All(liveAlphas, a => Assert.Contains(a.Event.GetProperty("sequence").GetInt64(), storedAlphas));
        var liveSeqs = live.Select(r => r.Event.GetProperty("sequence").GetInt64()).ToList();
        int executionsSeen = live.Count(r => r.Event.GetProperty("type").GetString() == "run_started") + snapshot.Events.Count(e => e.GetProperty("type").GetString() == "run_started");
        Assert.True(liveSeqs.GroupBy(q => q).All(g => g.Count() <= executionsSeen), "an event reached the hub client more often than the run was executed");
        var latencies = live.Select(r => (r.At - r.Event.GetProperty("at").GetDateTimeOffset()).TotalMilliseconds).Order().ToArray();
        output.WriteLine($"hub client on the web node: {live.Count} live events ({liveAlphas.Count} alphas) of the run on the workers; "
                         + $"latency event time -> web hub client median {Percentile(latencies, 0.5):0.0} ms, p95 {Percentile(latencies, 0.95):0.0} ms "
                         + $"(includes the engine's journal flush and the 10/s coalescing of deltas)");

        // Phase 3: a cancel asked on the web node stops the run executing on the (surviving) worker.
        var toCancel = await Submit(http, Tiny("scale cancel", epochs: 50));
        await WaitUntil(() => store.Read(toCancel).Events.OfType<StepLogged>().Any() && store.Leases.Get(toCancel) is { Live: true },
            TimeSpan.FromSeconds(90), "the run to train on the worker");
        var cancelAsked = Stopwatch.StartNew();
        Assert.Equal(HttpStatusCode.Accepted, (await http.PostAsync($"/api/runs/{toCancel}/cancel", null)).StatusCode);
        Assert.Equal(RunStatus.Running, store.Get(toCancel)!.Status); // not marked Cancelled by the web node while a worker runs it
        await WaitUntil(() => store.Get(toCancel)?.Status == RunStatus.Cancelled, TimeSpan.FromSeconds(60), "the worker to stop the cancelled run");
        Assert.Equal(survivor.Pid, PidOf(Assert.Single(store.Leases.Executions(toCancel)).Owner));
        Assert.False(store.Leases.HeldByOther(toCancel)); // released
        output.WriteLine($"cancel on the web node -> Cancelled by worker {survivor.Pid} after {cancelAsked.Elapsed.TotalSeconds:0.0} s");
    }

    [Fact]
    public async Task PostgreSqlConfiguredButUnreachable_StopsWithAnErrorNamingTheSetting_ExitCode2()
    {
        int closed = TestEnvironment.FreePort();
        await using var node = AppNode.Start("web", new Dictionary<string, string>
        {
            ["Nasiam__Storage"] = "postgresql",
            ["Nasiam__ConnectionString"] = $"Host=127.0.0.1;Port={closed};Username=nasiam;Database=nasiam;Timeout=2",
            ["Nasiam__DataDirectory"] = _data,
        });
        Assert.True(await node.WaitForExit(TimeSpan.FromSeconds(60)), "the app kept running without its database");
        Assert.Equal(2, node.ExitCode);
        Assert.Contains("Nasiam:ConnectionString", node.Output());
        Assert.Contains($"port {closed}", node.Output());
    }

    [Fact]
    public async Task WorkerRoleOnSqlite_StopsWithAnErrorNamingStorage_ExitCode2()
    {
        await using var node = AppNode.Start("worker", new Dictionary<string, string> { ["Nasiam__DataDirectory"] = _data });
        Assert.True(await node.WaitForExit(TimeSpan.FromSeconds(60)), "a worker started on a one-machine database");
        Assert.Equal(2, node.ExitCode);
        Assert.Contains("Nasiam:Storage=postgresql", node.Output());
    }

    static double Percentile(double[] sorted, double q) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Floor(q * sorted.Length))];

    static async Task WaitUntil(Func<bool> probe, TimeSpan timeout, string what)
    {
        var until = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < until)
        {
            if (probe()) return;
            await Task.Delay(100);
        }
        throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0} s waiting for {what}.");
    }

    public void Dispose()
    {
        try { Directory.Delete(_data, true); } catch (IOException) { }
    }
}

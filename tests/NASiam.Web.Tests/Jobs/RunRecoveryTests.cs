using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using NASiam.Core;
using NASiam.Core.Options;
using NASiam.Web.Jobs;
using NASiam.Web.Runs;
using NASiam.Web.Tests.Fakes;
using NASiam.Web.Tests.ScaleOut;

namespace NASiam.Web.Tests.Jobs;

/// <summary>
/// Recovery of runs whose executor is gone (a SIGKILLed worker, a crashed app), on SQLite and on PostgreSQL:
/// the lease sweep and the start-up resume re-queue them, except where a cancel was asked meanwhile.
/// </summary>
public class RunRecoveryTests : IDisposable
{
    readonly string _data = Directory.CreateTempSubdirectory("nasiam-recovery-").FullName;

    const string DeadOwner = "dead-host:4242:abcdef/1";

    NasiamAppFactory App(string backend, int steps = 400) => App(_data, backend, steps);

    internal static NasiamAppFactory App(string data, string backend, int steps = 400) => backend == "postgresql"
        ? new(data, new ScriptedRunEngine(totalSteps: steps, stepMilliseconds: 20), storage: "postgresql",
            settings: new Dictionary<string, string> { ["Nasiam:ConnectionString"] = PostgresCluster.NewDatabase("recovery") })
        : new(data, new ScriptedRunEngine(totalSteps: steps, stepMilliseconds: 20));

    /// <summary>A run marked Running whose executor (another node) died: its lease is still live, for <paramref name="leased"/>.</summary>
    internal static Guid RunOfADeadWorker(RunStore store, bool leased = true)
    {
        var id = Guid.NewGuid();
        var options = RunPresets.Get(RunPresets.QuickDemo, Framework.SimSiam);
        store.Insert(new RunRecord
        {
            Id = id, Name = "orphan", Kind = options.Kind, Framework = options.Framework, Backbone = options.Backbone, Dataset = options.Dataset,
            Device = "cpu", Status = RunStatus.Running, OptionsJson = options.ToJson(), CreatedAt = DateTimeOffset.UtcNow,
        });
        store.Status.MarkStarted(id);
        if (leased) Assert.True(store.Leases.TryAcquire(id, DeadOwner, TimeSpan.FromMinutes(10)));
        return id;
    }

    internal static void ExpireLease(NasiamAppFactory app, Guid id) =>
        app.Services.GetRequiredService<NASiam.Web.Runs.Storage.RunDatabase>().Exec("UPDATE run_leases SET expires_at = 0 WHERE run_id = @r", ("@r", id.ToString()));

    internal static RunLeaseSweeper Sweeper(NasiamAppFactory app) =>
        app.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<RunLeaseSweeper>().Single();

    // The operator's case: the worker is SIGKILLed, a cancel is accepted while its lease still lives (202;
    // nobody is left to act on it), the lease expires and a sweep re-queued the run, whose new job cleared
    // the request and trained the run to Succeeded. It ends Cancelled instead, and stays resumable: a user's
    // resume clears the request and the run trains on.
    [Theory, InlineData("inmemory"), PostgresData]
    public async Task ACancelAskedWhileTheWorkerIsDead_EndsTheRunCancelled_AtTheLeaseSweep_AndAResumeStillRunsIt(string backend)
    {
        await using var app = App(backend, steps: 5);
        using var c = app.Api();
        var store = app.Services.GetRequiredService<RunStore>();
        var id = RunOfADeadWorker(store);

        Assert.Equal(HttpStatusCode.Accepted, (await c.PostAsync($"/api/runs/{id}/cancel", null)).StatusCode);
        Assert.Equal((RunStatus.Running, true), (store.Get(id)!.Status, store.Get(id)!.CancelRequested));

        ExpireLease(app, id);
        Sweeper(app).SweepOnce(); // the app's own sweep may come first: the outcome is the same
        await NasiamAppFactory.WaitUntil(() => Task.FromResult(store.Get(id)!.Status is not (RunStatus.Running or RunStatus.Interrupted)),
            TimeSpan.FromSeconds(10), "the sweep", () => $"{store.Get(id)!.Status}");
        await Task.Delay(300); // a re-queued job would start within a queue poll (0.1 s)
        var run = store.Get(id)!;
        Assert.True(run.Status == RunStatus.Cancelled, $"{run.Status}: {run.Message}");
        Assert.Equal(1, run.Attempts); // not executed again
        Assert.Contains(DeadOwner, run.Message);
        Assert.True(run.CanResume);

        Assert.Equal(HttpStatusCode.Accepted, (await c.PostAsync($"/api/runs/{id}/resume", null)).StatusCode);
        await NasiamAppFactory.WaitForStatus(c, id, "Succeeded", 30);
    }

    // A run left Running by a crashed one-machine app, with a cancel it never acted on: the start-up recovery
    // re-queued it (clearing the request) and it trained on.
    [Theory, InlineData("inmemory"), PostgresData]
    public async Task StartUpRecovery_OfARunWithAPendingCancel_EndsItCancelled(string backend)
    {
        await using var app = App(backend);
        using var c = app.Api();
        var store = app.Services.GetRequiredService<RunStore>();
        var id = RunOfADeadWorker(store, leased: false);
        store.Status.RequestCancel(id);

        app.Services.GetRequiredService<RunScheduler>().RecoverInterrupted(app.Services.GetRequiredService<Hangfire.JobStorage>());
        await Task.Delay(300);
        var run = store.Get(id)!;
        Assert.True(run.Status == RunStatus.Cancelled, $"{run.Status}: {run.Message}");
        Assert.Equal(1, run.Attempts);
    }

    // The lease sweep still re-queues a dead worker's run nobody cancelled.
    [Theory, InlineData("inmemory"), PostgresData]
    public async Task LeaseSweep_OfARunNobodyCancelled_RequeuesIt(string backend)
    {
        await using var app = App(backend, steps: 5);
        using var c = app.Api();
        var store = app.Services.GetRequiredService<RunStore>();
        var id = RunOfADeadWorker(store);
        ExpireLease(app, id);
        Sweeper(app).SweepOnce();
        var run = await NasiamAppFactory.WaitForStatus(c, id, "Succeeded", 30);
        Assert.Equal(2, store.Get(id)!.Attempts);
    }

    // A run whose worker died, seen from a node that does not recover it (a web node; here a node whose sweep
    // has not come yet): it read Running forever, message null. It says its worker stopped responding, and when.
    [Theory, InlineData("inmemory"), PostgresData]
    public async Task ARunningRunWhoseLeaseExpired_SaysItsWorkerStoppedResponding(string backend)
    {
        var settings = new Dictionary<string, string> { ["Nasiam:LeaseSeconds"] = "600", ["Nasiam:LeaseHeartbeatSeconds"] = "300" };
        if (backend == "postgresql") settings["Nasiam:ConnectionString"] = PostgresCluster.NewDatabase("stalled");
        await using var app = new NasiamAppFactory(_data, new ScriptedRunEngine(), storage: backend, settings: settings);
        using var c = app.Api();
        var store = app.Services.GetRequiredService<RunStore>();
        var id = RunOfADeadWorker(store);
        Assert.Equal(JsonValueKind.Null, (await NasiamAppFactory.RunJson(c, id)).GetProperty("message").ValueKind); // its lease is live

        app.Services.GetRequiredService<NASiam.Web.Runs.Storage.RunDatabase>().Exec(
            "UPDATE run_leases SET expires_at = expires_at - 3600000 WHERE run_id = @r", ("@r", id.ToString()));
        var run = await NasiamAppFactory.RunJson(c, id);
        Assert.Equal("Running", run.GetProperty("status").GetString());
        var message = run.GetProperty("message").GetString()!;
        Assert.Contains("Its worker stopped responding (its lease expired at ", message);
        Assert.Contains("a worker serving device cpu resumes it", message);
        Assert.Equal(RunStatus.Running, store.Get(id)!.Status); // nothing changed who recovers it
    }

    public void Dispose()
    {
        try { Directory.Delete(_data, true); } catch (IOException) { }
    }
}

/// <summary>Deleting a run whose executor is elsewhere (alive or dead): its folder goes once nothing writes there.</summary>
public class DeletedRunFolderTests : IDisposable
{
    readonly string _data = Directory.CreateTempSubdirectory("nasiam-deleted-").FullName;

    // The operator's case: a Running run's worker is SIGKILLed and the run deleted before its lease expired (204).
    // The folder stayed for good: the delete dropped the lease row, so nobody knew of the folder once the
    // lease would have expired. Now the live lease row stays with the delete, and the sweep that finds it
    // expired removes the folder. A run whose lease has already expired loses its folder at once.
    [Theory, InlineData("inmemory"), PostgresData]
    public async Task DeletingARunWhoseWorkerIsDead_RemovesItsFolder_OnceItsLeaseExpired(string backend)
    {
        await using var app = RunRecoveryTests.App(_data, backend);
        using var c = app.Api();
        var store = app.Services.GetRequiredService<RunStore>();
        var paths = app.Services.GetRequiredService<RunPaths>();

        var id = RunRecoveryTests.RunOfADeadWorker(store);
        var dir = WithCheckpoint(paths, id);
        Assert.Equal(HttpStatusCode.NoContent, (await c.DeleteAsync($"/api/runs/{id}")).StatusCode);
        Assert.True(Directory.Exists(dir), "the folder went while a live lease held the run (its worker may only be stalled)");
        RunRecoveryTests.ExpireLease(app, id);
        RunRecoveryTests.Sweeper(app).SweepOnce();
        Assert.False(Directory.Exists(dir), "the folder of the deleted run stayed after its lease expired");
        Assert.Null(store.Leases.Get(id));

        var expired = RunRecoveryTests.RunOfADeadWorker(store);
        var expiredDir = WithCheckpoint(paths, expired);
        RunRecoveryTests.ExpireLease(app, expired);
        Assert.Equal(HttpStatusCode.NoContent, (await c.DeleteAsync($"/api/runs/{expired}")).StatusCode);
        Assert.False(Directory.Exists(expiredDir));
        Assert.Null(store.Leases.Get(expired));
    }

    // A run deleted on another node (the web node records the cancel and deletes; nothing signals this node's
    // engine) is stopped at its executor's next heartbeat, which said "lease lost … another execution took it"
    // and "its new owner continues it". It says the run was deleted, and the folder goes once the engine stopped.
    [Fact]
    public async Task ARunDeletedOnAnotherNode_StopsAtItsExecutorsHeartbeat_LoggedAsDeleted_AndItsFolderGoes()
    {
        var logs = new ListLoggerProvider();
        var settings = new Dictionary<string, string> { ["Nasiam:LeaseSeconds"] = "4", ["Nasiam:LeaseHeartbeatSeconds"] = "0.3" };
        await using var factory = new NasiamAppFactory(_data, new ScriptedRunEngine(totalSteps: 400, stepMilliseconds: 40), settings: settings);
        await using var app = factory.WithWebHostBuilder(b => b.ConfigureLogging(l => l.AddProvider(logs)));
        using var c = app.CreateClient();
        var store = app.Services.GetRequiredService<RunStore>();
        var id = await NasiamAppFactory.CreateQuickDemo(c);
        await NasiamAppFactory.WaitUntil(async () => (await NasiamAppFactory.Events(c, id, "step")).Count >= 3, TimeSpan.FromSeconds(20), "three steps");
        var dir = app.Services.GetRequiredService<RunPaths>().RunDirectory(id);

        store.Status.RequestCancel(id); // what the web node's delete does to a run leased elsewhere
        Assert.True(store.Delete(id));
        await NasiamAppFactory.WaitUntil(() => Task.FromResult(!Directory.Exists(dir)), TimeSpan.FromSeconds(10), "the folder to be removed");
        await NasiamAppFactory.WaitUntil(() => Task.FromResult(store.Leases.Get(id) is null), TimeSpan.FromSeconds(5), "the lease row to go");
        var lines = logs.Lines.ToArray();
        Assert.Contains(lines, l => l.Contains($"Run {id} was deleted"));
        Assert.DoesNotContain(lines, l => l.Contains(id.ToString()) && (l.Contains("lease lost") || l.Contains("new owner")));
    }

    static string WithCheckpoint(RunPaths paths, Guid id)
    {
        var dir = paths.RunDirectory(id);
        Directory.CreateDirectory(Path.Combine(dir, "checkpoints"));
        File.WriteAllText(Path.Combine(dir, "checkpoints", "search.ckpt"), "x");
        return dir;
    }

    public void Dispose()
    {
        try { Directory.Delete(_data, true); } catch (IOException) { }
    }
}

/// <summary>Collects every log line (category: message) of an app.</summary>
sealed class ListLoggerProvider : Microsoft.Extensions.Logging.ILoggerProvider
{
    public System.Collections.Concurrent.ConcurrentQueue<string> Lines { get; } = new();
    public Microsoft.Extensions.Logging.ILogger CreateLogger(string category) => new Logger(this, category);
    public void Dispose() { }

    sealed class Logger(ListLoggerProvider p, string category) : Microsoft.Extensions.Logging.ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel level) => true;
        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel level, Microsoft.Extensions.Logging.EventId id, TState state, Exception? e, Func<TState, Exception?, string> format) =>
            p.Lines.Enqueue($"{category}: {format(state, e)}");
    }
}

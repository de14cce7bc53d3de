using System.Net;
using Microsoft.Extensions.DependencyInjection;
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

    NasiamAppFactory App(string backend, int steps = 400) => backend == "postgresql"
        ? new(_data, new ScriptedRunEngine(totalSteps: steps, stepMilliseconds: 20), storage: "postgresql",
            settings: new Dictionary<string, string> { ["Nasiam:ConnectionString"] = PostgresCluster.NewDatabase("recovery") })
        : new(_data, new ScriptedRunEngine(totalSteps: steps, stepMilliseconds: 20));

    /// <summary>A run marked Running whose executor (another node) died: its lease is still live, for <paramref name="leased"/>.</summary>
    static Guid RunOfADeadWorker(RunStore store, bool leased = true)
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

    static void ExpireLease(NasiamAppFactory app, Guid id) =>
        app.Services.GetRequiredService<NASiam.Web.Runs.Storage.RunDatabase>().Exec("UPDATE run_leases SET expires_at = 0 WHERE run_id = @r", ("@r", id.ToString()));

    static RunLeaseSweeper Sweeper(NasiamAppFactory app) =>
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

    public void Dispose()
    {
        try { Directory.Delete(_data, true); } catch (IOException) { }
    }
}

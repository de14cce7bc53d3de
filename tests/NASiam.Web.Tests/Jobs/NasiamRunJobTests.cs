using Microsoft.Extensions.DependencyInjection;
using System.Net;
using System.Net.Http.Json;
using NASiam.Web.Tests.Fakes;

namespace NASiam.Web.Tests.Jobs;

public class NasiamRunJobTests : IDisposable
{
    readonly string _data = Directory.CreateTempSubdirectory("nasiam-job-").FullName;

    /// <summary>Creates a quick-demo run through the API and waits until it has reported three steps.</summary>
    static async Task<Guid> QuickDemoAfterThreeSteps(HttpClient c)
    {
        var id = await NasiamAppFactory.CreateQuickDemo(c);
        await NasiamAppFactory.WaitUntil(async () => (await NasiamAppFactory.Events(c, id, "step")).Count >= 3, TimeSpan.FromSeconds(20), "three steps");
        return id;
    }

    /// <summary>Cancels the run through the API, waits until it reads Cancelled, and asserts every step was stored exactly once, in order.</summary>
    static async Task CancelThenEveryStepOnce(HttpClient c, Guid id, int seconds = 10)
    {
        Assert.Equal(HttpStatusCode.Accepted, (await c.PostAsync($"/api/runs/{id}/cancel", null)).StatusCode);
        await NasiamAppFactory.WaitForStatus(c, id, "Cancelled", seconds);
        var steps = (await NasiamAppFactory.Events(c, id, "step")).Select(s => s.Step!.Value).ToList();
        Assert.Equal(Enumerable.Range(1, steps.Count).Select(i => (long)i), steps);
    }

    [Fact]
    public async Task Cancel_RunningRun_StopsWithinAStepAndIsResumable()
    {
        await using var app = new NasiamAppFactory(_data, new ScriptedRunEngine(totalSteps: 400, stepMilliseconds: 40));
        using var c = app.Api();
        var id = await QuickDemoAfterThreeSteps(c);

        var sw = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(HttpStatusCode.Accepted, (await c.PostAsync($"/api/runs/{id}/cancel", null)).StatusCode);
        await NasiamAppFactory.WaitForStatus(c, id, "Cancelled", 10);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(3), $"cancel took {sw.Elapsed}");
        var after = (await NasiamAppFactory.Events(c, id, "step")).Count;
        await Task.Delay(300);
        Assert.Equal(after, (await NasiamAppFactory.Events(c, id, "step")).Count);
        Assert.True(after < 400);

        // Resume continues from the cancel checkpoint: every step exactly once.
        Assert.Equal(HttpStatusCode.Accepted, (await c.PostAsync($"/api/runs/{id}/resume", null)).StatusCode);
        try { await NasiamAppFactory.WaitUntil(async () => (await NasiamAppFactory.Events(c, id, "step")).Count > after + 2, TimeSpan.FromSeconds(20), "resumed steps"); }
        catch (TimeoutException e) { throw new TimeoutException(e.Message + " " + await NasiamAppFactory.RunJson(c, id)); }
        await CancelThenEveryStepOnce(c, id);
    }

    // A poller that holds a cancelled attempt's events and reads after its last sequence gets nothing at or
    // below it, yet the resume replaced events it holds (the engine numbers an attempt after its checkpoint).
    // The response's attemptStarted tells it so (docs/hub.md, rule 5); following the rule, it ends with
    // exactly the stored events.
    [Fact]
    public async Task Metrics_AfterAResume_CarryTheNewAttempt_SoAPollerHoldingTheOldOneCatchesUp()
    {
        await using var app = new NasiamAppFactory(_data, new ScriptedRunEngine(totalSteps: 400, stepMilliseconds: 40));
        using var c = app.Api();
        var id = await QuickDemoAfterThreeSteps(c);
        await CancelThenEveryStepOnce(c, id);
        async Task<System.Text.Json.JsonElement> Metrics(long after) =>
            await c.GetFromJsonAsync<System.Text.Json.JsonElement>($"/api/runs/{id}/metrics?maxPoints=100000&afterSequence={after}");
        var first = await Metrics(-1);
        var held = first.GetProperty("events").EnumerateArray().Select(e => e.GetRawText()).ToList();
        long last = first.GetProperty("lastSequence").GetInt64();
        Assert.Equal(0, first.GetProperty("attemptStarted").GetProperty("sequence").GetInt64());

        Assert.Equal(HttpStatusCode.Accepted, (await c.PostAsync($"/api/runs/{id}/resume", null)).StatusCode);
        var heldSteps = (await NasiamAppFactory.Events(c, id, "step")).Count;
        await NasiamAppFactory.WaitUntil(async () => (await NasiamAppFactory.Events(c, id, "step")).Count > heldSteps + 2, TimeSpan.FromSeconds(20), "resumed steps");
        await CancelThenEveryStepOnce(c, id);

        var poll = await Metrics(last);
        Assert.All(poll.GetProperty("events").EnumerateArray(), e => Assert.True(e.GetProperty("sequence").GetInt64() > last));
        var attempt = poll.GetProperty("attemptStarted");
        long from = attempt.GetProperty("sequence").GetInt64();
        Assert.InRange(from, 1, last); // the resume started at or below what the poller holds...
        Assert.NotEqual(attempt.GetRawText(), held[(int)from]); // ...and replaced the event it holds there
        var reread = await Metrics(from - 1);
        var caughtUp = held.Take((int)from).Concat(reread.GetProperty("events").EnumerateArray().Select(e => e.GetRawText())).ToList();
        var stored = (await Metrics(-1)).GetProperty("events").EnumerateArray().Select(e => e.GetRawText()).ToList();
        Assert.Equal(stored, caughtUp);
    }

    // A user may click Resume the very moment a run shows Cancelled or Failed. At that moment (the status
    // change's notification, published on the job's thread right after the write) the job must already
    // have left the registry and given its lease back, or the resume is refused or its job skipped.
    [Fact]
    public async Task EndedStatus_IsWrittenAfterTheJobLeftTheRegistry_WithItsLease_SoAResumeAtThatMomentRuns()
    {
        await using var app = new NasiamAppFactory(_data, new ScriptedRunEngine(totalSteps: 400, stepMilliseconds: 40));
        using var c = app.Api();
        var registry = app.Services.GetRequiredService<NASiam.Web.Jobs.RunExecutionRegistry>();
        var scheduler = app.Services.GetRequiredService<NASiam.Web.Jobs.RunScheduler>();
        var store = app.Services.GetRequiredService<NASiam.Web.Runs.RunStore>();
        var id = await QuickDemoAfterThreeSteps(c);

        var seen = new TaskCompletionSource<(bool Registered, bool LeaseLive, bool Resumed)>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var sub = app.Services.GetRequiredService<NASiam.Web.Runs.RunNotificationService>().Subscribe(id, u =>
        {
            if (u.Record?.Status == NASiam.Web.Runs.RunStatus.Cancelled && !seen.Task.IsCompleted)
                seen.TrySetResult((registry.IsRunning(id), store.Leases.Get(id)?.Live == true, scheduler.Resume(id)));
            return Task.CompletedTask;
        });
        Assert.Equal(HttpStatusCode.Accepted, (await c.PostAsync($"/api/runs/{id}/cancel", null)).StatusCode);
        var (registered, leaseLive, resumed) = await seen.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(registered, "the run read as Cancelled while its job was still in the registry");
        Assert.False(leaseLive, "the run read as Cancelled while its job still held the lease");
        Assert.True(resumed, "Resume at the moment the run read as Cancelled was refused");

        // The resumed job runs (it was not skipped as "already executing" or "leased"): new steps arrive.
        var after = (await NasiamAppFactory.Events(c, id, "step")).Count;
        await NasiamAppFactory.WaitUntil(async () => (await NasiamAppFactory.Events(c, id, "step")).Count > after + 2, TimeSpan.FromSeconds(20), "resumed steps");
        Assert.Equal(HttpStatusCode.Accepted, (await c.PostAsync($"/api/runs/{id}/cancel", null)).StatusCode);
        await NasiamAppFactory.WaitForStatus(c, id, "Cancelled", 10);
    }

    [Fact]
    public async Task HostRestart_MidRun_ResumesFromCheckpointWithoutLostOrDuplicatedPoints()
    {
        var engine = new ScriptedRunEngine(totalSteps: 60, stepMilliseconds: 40, checkpointEvery: 5);
        Guid id;
        await using (var first = new NasiamAppFactory(_data, engine, storage: "sqlite"))
        {
            using var c = first.Api();
            id = await NasiamAppFactory.CreateQuickDemo(c);
            await NasiamAppFactory.WaitUntil(async () => (await NasiamAppFactory.Events(c, id, "step")).Count >= 12, TimeSpan.FromSeconds(30), "twelve steps");
        } // graceful stop: the job is cancelled by shutdown and re-queued

        await using var second = new NasiamAppFactory(_data, engine, storage: "sqlite");
        using var c2 = second.Api();
        await NasiamAppFactory.WaitForStatus(c2, id, "Succeeded", 60);
        Assert.Equal(2, engine.Calls);

        var all = await NasiamAppFactory.Events(c2, id);
        Assert.Equal(Enumerable.Range(0, all.Count).Select(i => (long)i), all.Select(e => e.Seq));
        var steps = all.Where(e => e.Type == "step").Select(e => e.Step!.Value).ToList();
        Assert.Equal(Enumerable.Range(1, 60).Select(i => (long)i), steps);
        Assert.Equal(2, all.Count(e => e.Type == "stage_started"));
    }

    [Theory]
    [InlineData(null, 0, -1)]  // default: every core but one
    [InlineData("3", 0, 3)]    // configured host value
    [InlineData("3", 2, 2)]    // the run's own choice wins
    public async Task Execute_RunThreads_HostDecidesWhenTheRunLeavesThemAtZero(string? configured, int runThreads, int expected)
    {
        var engine = new ScriptedRunEngine(totalSteps: 2, stepMilliseconds: 1);
        var settings = configured is null ? null : new Dictionary<string, string> { ["Nasiam:CpuThreads"] = configured };
        await using var app = new NasiamAppFactory(_data, engine, settings: settings);
        using var c = app.Api();
        var options = NASiam.Core.Options.RunPresets.QuickDemoFor(NASiam.Core.Framework.SimSiam) with { Threads = runThreads };
        using var json = System.Text.Json.JsonDocument.Parse(options.ToJson());
        var created = await c.PostAsJsonAsync("/api/runs", new { options = json.RootElement });
        var id = (await created.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("id").GetGuid();
        await NasiamAppFactory.WaitForStatus(c, id, "Succeeded");

        Assert.Equal(expected > 0 ? expected : Math.Max(1, Environment.ProcessorCount - 1), engine.LastOptions!.Threads);
    }

    [Fact]
    public async Task SecondDeliveryOfARunningRunsJob_FindsItsLeaseLive_AndDoesNotExecuteIt()
    {
        await using var app = new NasiamAppFactory(_data, new ScriptedRunEngine(totalSteps: 400, stepMilliseconds: 40));
        using var c = app.Api();
        var id = await NasiamAppFactory.CreateQuickDemo(c);
        await NasiamAppFactory.WaitUntil(async () => (await NasiamAppFactory.Events(c, id, "step")).Count >= 2, TimeSpan.FromSeconds(20), "two steps");
        var store = app.Services.GetRequiredService<NASiam.Web.Runs.RunStore>();
        Assert.True(store.Leases.Get(id)!.Live);

        // What Hangfire does after its invisibility timeout, or a stray re-queue: the same job again.
        var job = app.Services.GetRequiredService<NASiam.Web.Jobs.NasiamRunJob>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        job.Execute(id, null, CancellationToken.None);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), "the second delivery executed the run");
        Assert.Single(store.Leases.Executions(id));
        Assert.Equal(1, store.Get(id)!.Attempts);

        Assert.Equal(System.Net.HttpStatusCode.Accepted, (await c.PostAsync($"/api/runs/{id}/cancel", null)).StatusCode);
        await NasiamAppFactory.WaitForStatus(c, id, "Cancelled", 10);
        await NasiamAppFactory.WaitUntil(() => Task.FromResult(!store.Leases.HeldByOther(id)), TimeSpan.FromSeconds(5), "the lease to be released");
    }

    // An attempt whose lease ran out while it still executed (its heartbeat stalled: a database outage
    // longer than Nasiam:LeaseSeconds) is reclaimed by a sweeper and its run re-queued; the new job may be
    // fetched by this same process while the old attempt is still here. Each attempt leases under its own
    // owner name, so the new one stops the old one (which then writes nothing), waits for it to leave, and
    // continues the run from its checkpoint. Before, both leased as the node: the new job found the run
    // "already executing", skipped it and released the lease, so the run went on without a lease while it
    // read Interrupted, and once the old attempt noticed the loss it stopped with nothing left to run it.
    [Fact]
    public async Task ExpiredLease_RetakenInTheSameProcess_TheNewAttemptStopsTheOldOne_AndContinuesEveryStepOnce()
    {
        // Heartbeats minutes apart: the old attempt does not notice the expiry on its own within the test.
        var settings = new Dictionary<string, string> { ["Nasiam:LeaseSeconds"] = "600", ["Nasiam:LeaseHeartbeatSeconds"] = "300" };
        await using var app = new NasiamAppFactory(_data, new ScriptedRunEngine(totalSteps: 400, stepMilliseconds: 40), settings: settings);
        using var c = app.Api();
        var store = app.Services.GetRequiredService<NASiam.Web.Runs.RunStore>();
        var id = await QuickDemoAfterThreeSteps(c);
        var first = Assert.Single(store.Leases.Executions(id)).Owner;

        // The stall: the lease expires under the live first attempt and a sweeper reclaims the run
        // (RunLeaseSweeper's first step); then this process fetches the re-queued job.
        app.Services.GetRequiredService<NASiam.Web.Runs.Storage.RunDatabase>().Exec("UPDATE run_leases SET expires_at = 0 WHERE run_id = @r", ("@r", id.ToString()));
        Assert.True(store.Leases.TryReclaim(id, "its worker stopped renewing its lease"));
        var job = app.Services.GetRequiredService<NASiam.Web.Jobs.NasiamRunJob>();
        var second = Task.Run(() => job.Execute(id, null, CancellationToken.None));

        try { await NasiamAppFactory.WaitUntil(() => Task.FromResult(store.Get(id)!.Attempts == 2), TimeSpan.FromSeconds(20), "the second attempt to start"); }
        catch (TimeoutException e) { throw new TimeoutException(e.Message + " " + await NasiamAppFactory.RunJson(c, id)); }
        var after = (await NasiamAppFactory.Events(c, id, "step")).Count;
        await NasiamAppFactory.WaitUntil(async () => (await NasiamAppFactory.Events(c, id, "step")).Count > after + 10, TimeSpan.FromSeconds(20), "ten more steps");
        var executions = store.Leases.Executions(id);
        Assert.Equal(2, executions.Count);
        var lease = store.Leases.Get(id)!;
        Assert.True(lease.Live, "the run executes without a live lease (any sweep would re-queue it again)");
        Assert.Equal(executions[1].Owner, lease.Owner);
        Assert.NotEqual(first, lease.Owner);
        Assert.Equal(first[..first.LastIndexOf('/')], lease.Owner[..lease.Owner.LastIndexOf('/')]); // the same node
        Assert.Equal(NASiam.Web.Runs.RunStatus.Running, store.Get(id)!.Status);

        // The first attempt stopped at a checkpoint and the second resumed from it: every step once.
        await CancelThenEveryStepOnce(c, id);
        await second.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(store.Leases.Get(id)!.Live);
    }

    // The same with short leases (the app's own heartbeats and sweeper at work) and an earlier attempt that
    // takes longer to stop than a lease lasts: the new attempt's heartbeat keeps its lease while it waits.
    // Before, that lease expired during the wait, the new attempt's first heartbeat found it lost, and the
    // run stopped again with nothing left to run it.
    [Fact]
    public async Task ExpiredLease_RetakenInTheSameProcess_WhileTheOldAttemptStopsSlowly_TheNewAttemptKeepsItsLease()
    {
        var settings = new Dictionary<string, string> { ["Nasiam:LeaseSeconds"] = "2", ["Nasiam:LeaseHeartbeatSeconds"] = "0.5" };
        await using var app = new NasiamAppFactory(_data, new ScriptedRunEngine(totalSteps: 400, stepMilliseconds: 40, stopMilliseconds: 4000), settings: settings);
        using var c = app.Api();
        var store = app.Services.GetRequiredService<NASiam.Web.Runs.RunStore>();
        var id = await QuickDemoAfterThreeSteps(c);

        // The stall, then a sweeper's reclaim (this test's, or the app's own if it comes first) and the
        // re-queued job fetched by this process while the first attempt is still stopping.
        app.Services.GetRequiredService<NASiam.Web.Runs.Storage.RunDatabase>().Exec("UPDATE run_leases SET expires_at = 0 WHERE run_id = @r", ("@r", id.ToString()));
        store.Leases.TryReclaim(id, "its worker stopped renewing its lease");
        var job = app.Services.GetRequiredService<NASiam.Web.Jobs.NasiamRunJob>();
        var second = Task.Run(() => job.Execute(id, null, CancellationToken.None));

        try { await NasiamAppFactory.WaitUntil(() => Task.FromResult(store.Get(id)!.Attempts == 2), TimeSpan.FromSeconds(30), "the second attempt to start"); }
        catch (TimeoutException e) { throw new TimeoutException(e.Message + " " + await NasiamAppFactory.RunJson(c, id)); }
        var after = (await NasiamAppFactory.Events(c, id, "step")).Count;
        try { await NasiamAppFactory.WaitUntil(async () => (await NasiamAppFactory.Events(c, id, "step")).Count > after + 10, TimeSpan.FromSeconds(20), "ten more steps"); }
        catch (TimeoutException e) { throw new TimeoutException(e.Message + " " + await NasiamAppFactory.RunJson(c, id)); }
        await Task.Delay(TimeSpan.FromSeconds(3)); // more than a lease
        var lease = store.Leases.Get(id);
        Assert.True(lease is { Live: true }, $"the second attempt lost its lease: {await NasiamAppFactory.RunJson(c, id)}");
        Assert.Equal(store.Leases.Executions(id)[^1].Owner, lease!.Owner);
        Assert.Equal((NASiam.Web.Runs.RunStatus.Running, 2), (store.Get(id)!.Status, store.Get(id)!.Attempts));

        await CancelThenEveryStepOnce(c, id, 15);
        await second.WaitAsync(TimeSpan.FromSeconds(15));
    }

    // Delete through the API: the record goes at once; the folder goes at once for an ended run, and for a
    // running one as soon as its engine stopped (it still writes its cancel checkpoint there).
    [Fact]
    public async Task Delete_RemovesTheRecord_AndTheFolder_AtOnceWhenEnded_OnceStoppedWhenRunning()
    {
        await using var app = new NasiamAppFactory(_data, new ScriptedRunEngine(totalSteps: 400, stepMilliseconds: 40));
        using var c = app.Api();
        var paths = app.Services.GetRequiredService<NASiam.Web.Runs.RunPaths>();

        var ended = await QuickDemoAfterThreeSteps(c);
        Assert.Equal(HttpStatusCode.Accepted, (await c.PostAsync($"/api/runs/{ended}/cancel", null)).StatusCode);
        await NasiamAppFactory.WaitForStatus(c, ended, "Cancelled", 10);
        Assert.True(Directory.Exists(paths.RunDirectory(ended)));
        Assert.Equal(HttpStatusCode.NoContent, (await c.DeleteAsync($"/api/runs/{ended}")).StatusCode);
        Assert.False(Directory.Exists(paths.RunDirectory(ended)), "the ended run's folder is still there");

        var running = await QuickDemoAfterThreeSteps(c);
        var dir = paths.RunDirectory(running);
        Assert.Equal(HttpStatusCode.NoContent, (await c.DeleteAsync($"/api/runs/{running}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await c.GetAsync($"/api/runs/{running}")).StatusCode);
        await NasiamAppFactory.WaitUntil(() => Task.FromResult(!Directory.Exists(dir)), TimeSpan.FromSeconds(10), "the deleted running run's folder to be removed");
        Assert.Equal(HttpStatusCode.NotFound, (await c.DeleteAsync($"/api/runs/{running}")).StatusCode);
    }

    public void Dispose()
    {
        try { Directory.Delete(_data, true); } catch (IOException) { }
    }
}

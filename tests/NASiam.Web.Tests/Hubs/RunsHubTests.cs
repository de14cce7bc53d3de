using Microsoft.AspNetCore.SignalR.Client;
using NASiam.Core.Reporting;
using NASiam.Web.Hubs;
using NASiam.Web.Runs;
using NASiam.Web.Tests.Fakes;

namespace NASiam.Web.Tests.Hubs;

public class RunsHubTests : IDisposable
{
    readonly string _data = Directory.CreateTempSubdirectory("nasiam-hub-").FullName;

    [Fact]
    public async Task Subscribe_DuringRun_ReceivesAlphasInOrderWithoutGapsAndLateJoinerGetsTheSameEvents()
    {
        await using var app = new NasiamAppFactory(_data, new ScriptedRunEngine(totalSteps: 40, stepMilliseconds: 25));
        using var c = app.Api();
        var early = new RunFeed();
        await using var conn = app.Hub();
        conn.On<RunDelta>("Delta", early.OnDelta);
        await conn.StartAsync();

        var id = await NasiamAppFactory.CreateQuickDemo(c);
        early.OnSnapshot(await conn.InvokeAsync<RunSnapshot>("Subscribe", id));

        await NasiamAppFactory.WaitUntil(async () => (await NasiamAppFactory.Events(c, id, "step")).Count >= 15, TimeSpan.FromSeconds(20), "fifteen steps");
        var late = new RunFeed();
        await using var lateConn = app.Hub();
        lateConn.On<RunDelta>("Delta", late.OnDelta);
        await lateConn.StartAsync();
        late.OnSnapshot(await lateConn.InvokeAsync<RunSnapshot>("Subscribe", id));

        await NasiamAppFactory.WaitForStatus(c, id, "Succeeded");
        var stored = await NasiamAppFactory.Events(c, id);
        await NasiamAppFactory.WaitUntil(() => Task.FromResult(early.Events.Count == stored.Count && late.Events.Count == stored.Count),
            TimeSpan.FromSeconds(10), "clients to catch up");

        var alphaSteps = early.Events.OfType<AlphasLogged>().Select(a => a.Step).ToList();
        Assert.Equal(20, alphaSteps.Count);
        Assert.Equal(alphaSteps.Order(), alphaSteps);
        Assert.Equal(stored.Select(s => s.Seq), late.Events.Select(e => e.Sequence));
        Assert.Equal(stored.Select(s => s.Seq), early.Events.Select(e => e.Sequence));
        Assert.Empty(early.Errors);
        Assert.Empty(late.Errors);
        // Coalescing: far fewer messages than events (about 1 s of running at <= 10 per second).
        Assert.True(early.Deltas < stored.Count / 2, $"{early.Deltas} deltas for {stored.Count} events");
    }

    [Fact]
    public async Task ReconnectingClient_SubscribeAfterItsLastSequence_MissesNothingAndHoldsNothingTwice()
    {
        await using var app = new NasiamAppFactory(_data, new ScriptedRunEngine(totalSteps: 60, stepMilliseconds: 25));
        using var c = app.Api();
        var feed = new RunFeed();
        var conn = app.Hub();
        conn.On<RunDelta>("Delta", feed.OnDelta);
        await conn.StartAsync();
        var id = await NasiamAppFactory.CreateQuickDemo(c);
        feed.OnSnapshot(await conn.InvokeAsync<RunSnapshot>("SubscribeAfter", id, -1L));

        await NasiamAppFactory.WaitUntil(() => Task.FromResult(feed.CountOf<StepLogged>() >= 10), TimeSpan.FromSeconds(20), "ten live steps");
        await conn.DisposeAsync(); // the network drops
        long heldAtDrop = feed.Last;
        await NasiamAppFactory.WaitUntil(async () => (await NasiamAppFactory.Events(c, id)).Count > heldAtDrop + 15, TimeSpan.FromSeconds(20), "the run to go on");

        await using var again = app.Hub();
        again.On<RunDelta>("Delta", feed.OnDelta);
        await again.StartAsync();
        feed.BeginResubscribe();
        var missed = await again.InvokeAsync<RunSnapshot>("SubscribeAfter", id, feed.Last);
        Assert.True(missed.Events.Count > 0 && !missed.Downsampled);
        Assert.Equal(heldAtDrop + 1, missed.Events[0].GetProperty("sequence").GetInt64());
        feed.OnSnapshot(missed);

        await NasiamAppFactory.WaitForStatus(c, id, "Succeeded");
        var stored = await NasiamAppFactory.Events(c, id);
        await NasiamAppFactory.WaitUntil(() => Task.FromResult(feed.Count == stored.Count), TimeSpan.FromSeconds(10), "the client to catch up");
        Assert.Empty(feed.Errors); // no gap
        Assert.Equal(stored.Select(s => s.Seq), feed.Events.Select(e => e.Sequence)); // every event once, in order
    }

    public void Dispose()
    {
        try { Directory.Delete(_data, true); } catch (IOException) { }
    }
}

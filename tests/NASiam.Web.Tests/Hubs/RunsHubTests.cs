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

    public void Dispose()
    {
        try { Directory.Delete(_data, true); } catch (IOException) { }
    }
}

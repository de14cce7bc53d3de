using Bunit;
using NASiam.Web.Components.Pages;
using NASiam.Web.Tests.Fakes;

namespace NASiam.Web.Tests.Components;

/// <summary>The runs list (the dashboard's home page) while runs change faster than it reloads.</summary>
public sealed class RunsListLiveTests : IAsyncLifetime
{
    readonly string _data = Directory.CreateTempSubdirectory("nasiam-list-").FullName;
    NasiamAppFactory _app = null!;

    public Task InitializeAsync()
    {
        // 40 steps of 5 ms: the whole run, start to final status, fits inside one 500 ms reload interval.
        _app = new NasiamAppFactory(_data, new ScriptedRunEngine(totalSteps: 40, stepMilliseconds: 5));
        return Task.CompletedTask;
    }

    [Fact]
    public async Task ARunThatEndsInsideTheReloadInterval_ShowsItsFinalStatus_WithoutAnotherEvent()
    {
        using var c = _app.Api();
        await using var ctx = Bunit.Context();
        ctx.Services.AddFallbackServiceProvider(_app.Services);
        var list = ctx.Render<NASiam.Web.Components.Pages.Runs>();
        var id = await NasiamAppFactory.CreateQuickDemo(c);
        await NasiamAppFactory.WaitUntil(async () => (await NasiamAppFactory.RunJson(c, id)).GetProperty("status").GetString() == "Succeeded",
            TimeSpan.FromSeconds(30), "the run to succeed");
        // No event follows the final one; the list must still show it (it used to drop updates inside the interval).
        list.WaitForAssertion(() => Assert.Equal("Succeeded", list.Find("#runs-table .run-status").TextContent.Trim()), TimeSpan.FromSeconds(3));
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        try { Directory.Delete(_data, true); } catch (IOException) { }
    }
}

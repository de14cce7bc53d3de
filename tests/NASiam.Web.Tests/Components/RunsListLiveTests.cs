using Microsoft.Extensions.DependencyInjection;
using Bunit;
using NASiam.Web.Components.Pages;
using NASiam.Web.Tests.Fakes;

namespace NASiam.Web.Tests.Components;

/// <summary>
/// The runs list (the dashboard's home page) while runs change faster than it reloads: 40 steps of
/// 5 ms, so the whole run, start to final status, fits inside one 500 ms reload interval.
/// </summary>
public sealed class RunsListLiveTests() : ScriptedAppTests("list", () => new ScriptedRunEngine(totalSteps: 40, stepMilliseconds: 5))
{
    [Fact]
    public async Task ARunThatEndsInsideTheReloadInterval_ShowsItsFinalStatus_WithoutAnotherEvent()
    {
        using var c = App.Api();
        await using var ctx = PageContext();
        var list = ctx.Render<NASiam.Web.Components.Pages.Runs>();
        var id = await NasiamAppFactory.CreateQuickDemo(c);
        await NasiamAppFactory.WaitUntil(async () => (await NasiamAppFactory.RunJson(c, id)).GetProperty("status").GetString() == "Succeeded",
            TimeSpan.FromSeconds(30), "the run to succeed");
        // No event follows the final one; the list must still show it (it used to drop updates inside the interval).
        list.WaitForAssertion(() => Assert.Equal("Succeeded", list.Find("#runs-table .run-status").TextContent.Trim()), TimeSpan.FromSeconds(3));
    }

    // Retry (a fresh copy) is offered on ended runs only: on a running row it queued a duplicate.
    [Fact]
    public async Task Retry_IsOfferedOnEndedRunsOnly()
    {
        using var c = App.Api();
        await using var ctx = PageContext();
        var ended = await SucceededQuickDemo(c);
        var store = App.Services.GetRequiredService<NASiam.Web.Runs.RunStore>();
        var active = store.Get(ended)! with { Id = Guid.NewGuid(), Name = "still running", Status = NASiam.Web.Runs.RunStatus.Running, FinishedAt = null };
        store.Insert(active);

        var list = ctx.Render<NASiam.Web.Components.Pages.Runs>();
        var rows = list.FindAll("#runs-table tbody tr");
        bool OffersRetry(string name) => rows.Single(r => r.TextContent.Contains(name)).QuerySelectorAll("[title=Retry]").Length == 1;
        Assert.False(OffersRetry("still running"));
        Assert.True(OffersRetry(store.Get(ended)!.Name));
    }
}

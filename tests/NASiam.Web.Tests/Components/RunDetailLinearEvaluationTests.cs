using Bunit;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;
using NASiam.Core.Options;
using NASiam.Web.Components.Pages;
using NASiam.Web.Runs;
using NASiam.Web.Tests.Fakes;

namespace NASiam.Web.Tests.Components;

/// <summary>The run page's "Linear-evaluate this backbone" on the real app's services.</summary>
public sealed class RunDetailLinearEvaluationTests() : ScriptedAppTests("lincls", () => new ScriptedRunEngine(totalSteps: 4, stepMilliseconds: 1))
{
    [Fact]
    public async Task Button_AppearsOnceTheRunHasABackboneCheckpoint_AndQueuesItsEvaluation()
    {
        using var c = App.Api();
        await using var ctx = Bunit.Context();
        ctx.Services.AddFallbackServiceProvider(App.Services);
        var id = await NasiamAppFactory.CreateQuickDemo(c);
        await NasiamAppFactory.WaitForStatus(c, id, "Succeeded");

        // The scripted search leaves no engine checkpoint: nothing to evaluate, no button.
        var page = ctx.Render<RunDetail>(p => p.Add(x => x.Id, id));
        Assert.Empty(page.FindAll("#linear-evaluate"));

        var file = RunCheckpoints.WritePretrain(App.Services, id);
        page = ctx.Render<RunDetail>(p => p.Add(x => x.Id, id));
        await page.Find("#linear-evaluate").ClickAsync(new Microsoft.AspNetCore.Components.Web.MouseEventArgs());

        var nav = ctx.Services.GetRequiredService<NavigationManager>();
        var store = App.Services.GetRequiredService<RunStore>();
        page.WaitForAssertion(() => Assert.Single(store.List(id)));
        var child = Assert.Single(store.List(id));
        Assert.Equal(RunKind.LinCls, child.Kind);
        Assert.Equal(file, child.Options().Linear.Checkpoint);
        page.WaitForAssertion(() => Assert.EndsWith($"/runs/{child.Id}", nav.Uri));
        Assert.Empty(page.FindAll(".evaluate-error"));
    }
}

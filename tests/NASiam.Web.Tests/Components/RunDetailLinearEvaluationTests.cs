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

    // A warning that qualifies the run's figures (here: the evaluated backbone's pre-training did not finish)
    // shows at the top of the page; the collapse panel keeps the collapse warnings.
    [Fact]
    public async Task Warnings_OtherThanCollapse_ShowAtTheTop_CollapseOnesInTheCollapsePanel()
    {
        using var c = App.Api();
        await using var ctx = Bunit.Context();
        ctx.Services.AddFallbackServiceProvider(App.Services);
        var id = await NasiamAppFactory.CreateQuickDemo(c);
        await NasiamAppFactory.WaitForStatus(c, id, "Succeeded");
        var store = App.Services.GetRequiredService<RunStore>();
        long next = store.NextSequence(id);
        const string backbone = "checkpoints/pretrain.ckpt: the pre-training did not finish; this evaluates its backbone after 3 of 10 epochs (step 120)";
        const string collapse = "possible collapse at epoch 2: normalised-output std ratio 0.050 < 0.1";
        store.Append(id, [
            new NASiam.Core.Reporting.WarningRaised { RunId = id, Sequence = next, At = DateTimeOffset.UtcNow, Stage = "lincls", Kind = "backbone", Message = backbone, Step = 0 },
            new NASiam.Core.Reporting.WarningRaised { RunId = id, Sequence = next + 1, At = DateTimeOffset.UtcNow, Stage = "pretrain", Kind = "collapse", Message = collapse, Step = 40 },
        ]);

        var page = ctx.Render<RunDetail>(p => p.Add(x => x.Id, id));
        page.WaitForAssertion(() => Assert.Equal($"[backbone] lincls: {backbone}", Assert.Single(page.FindAll(".run-warning")).TextContent.Trim()));
        var panel = page.Find("#collapse-panel").TextContent;
        Assert.Contains(collapse, panel);
        Assert.DoesNotContain(backbone, panel);
    }
}

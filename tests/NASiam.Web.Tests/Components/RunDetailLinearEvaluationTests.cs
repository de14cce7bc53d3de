using System.Net.Http.Json;
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
        await using var ctx = PageContext();
        var id = await SucceededQuickDemo(c);

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
        await using var ctx = PageContext();
        var id = await SucceededQuickDemo(c);
        var store = App.Services.GetRequiredService<RunStore>();
        long next = store.NextSequence(id);
        const string backbone = "checkpoints/pretrain.ckpt: the pre-training did not finish; this evaluates its backbone after 3 of 10 epochs (step 120)";
        const string collapse = "possible collapse after epoch 2: normalised-output std ratio 0.050 < 0.1";
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

    // Blazor keeps the page when a link leads to another run (lineage, "Linear-evaluate this backbone"): the
    // page must show the new run and follow its live updates, not stay on the old one.
    [Fact]
    public async Task ANewId_ShowsThatRun_AndFollowsItLive_NotTheOldOne()
    {
        using var c = App.Api();
        await using var ctx = PageContext();
        var first = await SucceededQuickDemo(c);
        var store = App.Services.GetRequiredService<RunStore>();
        var page = ctx.Render<RunDetail>(p => p.Add(x => x.Id, first));
        page.WaitForAssertion(() => Assert.Contains($"· {store.NextSequence(first)} events", page.Find("#run-progress").TextContent));

        // The second run is still queued or running when the page moves to it: the page follows it to its end.
        var created = await c.PostAsJsonAsync("/api/runs", new { preset = "quick-demo", name = "the second run" });
        var second = (await created.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("id").GetGuid();
        page.Render(p => p.Add(x => x.Id, second));
        Assert.Equal("the second run", page.Find("h5").TextContent.Trim());
        await NasiamAppFactory.WaitForStatus(c, second, "Succeeded");
        page.WaitForAssertion(() =>
        {
            Assert.Equal("Succeeded", page.Find("#run-status").TextContent.Trim());
            Assert.Contains($"· {store.NextSequence(second)} events", page.Find("#run-progress").TextContent);
        }, TimeSpan.FromSeconds(10));

        // And back: the first run's page again, with its own events.
        page.Render(p => p.Add(x => x.Id, first));
        page.WaitForAssertion(() => Assert.Contains($"· {store.NextSequence(first)} events", page.Find("#run-progress").TextContent));
        Assert.Equal(store.Get(first)!.Name, page.Find("h5").TextContent.Trim());
    }

    // A pre-training's genotype is known from its request: drawn while it is queued, not "No genotype yet."
    [Fact]
    public async Task APretrainingsGivenGenotype_IsDrawnBeforeItRuns_AndTheStandardHeadsAreSaidSo()
    {
        using var c = App.Api();
        await using var ctx = PageContext();
        var id = await SucceededQuickDemo(c);
        var store = App.Services.GetRequiredService<RunStore>();
        var template = store.Get(id)!;
        var text = NASiam.Core.Genotypes.GenotypeText.Write(NASiam.Core.Genotypes.GenotypePresets.Find("simsiam/cifar10_resnet18")!.Genotype!);
        RunRecord Queued(string genotype)
        {
            var options = NASiam.Core.Options.RunPresets.Get("simsiam-cifar10") with { Kind = RunKind.Pretrain };
            options = options with { Pretrain = options.Pretrain with { Genotype = genotype } };
            var r = template with
            {
                Id = Guid.NewGuid(), Kind = RunKind.Pretrain, Framework = NASiam.Core.Framework.SimSiam, Status = RunStatus.Queued,
                OptionsJson = options.ToJson(), GenotypeText = null, StartedAt = null, FinishedAt = null,
            };
            store.Insert(r);
            return r;
        }

        var given = Queued(text);
        var page = ctx.Render<RunDetail>(p => p.Add(x => x.Id, given.Id));
        page.WaitForAssertion(() => Assert.Equal(["encoder", "predictor"], page.FindAll(".genotype-cell").Select(e => e.GetAttribute("data-cell"))));
        Assert.Empty(page.FindAll(".genotype-empty"));

        // A preset's name resolves as the scheduler resolves it.
        var named = Queued("simsiam/cifar10_resnet18");
        page = ctx.Render<RunDetail>(p => p.Add(x => x.Id, named.Id));
        page.WaitForAssertion(() => Assert.Equal(["encoder", "predictor"], page.FindAll(".genotype-cell").Select(e => e.GetAttribute("data-cell"))));

        var standard = Queued("standard");
        page = ctx.Render<RunDetail>(p => p.Add(x => x.Id, standard.Id));
        page.WaitForAssertion(() => Assert.Equal("The framework's standard heads (no searched genotype).", page.Find(".genotype-empty").TextContent.Trim()));
    }
}

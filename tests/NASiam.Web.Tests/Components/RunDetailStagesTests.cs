using Bunit;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.Extensions.DependencyInjection;
using NASiam.Core.Options;
using NASiam.Core.Reporting;
using NASiam.Web.Components.Pages;
using NASiam.Web.Components.Shared;
using NASiam.Web.Runs;
using NASiam.Web.Tests.Fakes;

namespace NASiam.Web.Tests.Components;

/// <summary>
/// A pipeline's stages each count their steps from 1: the run page's step charts show one stage at a time,
/// picked on a stage selector (the running stage by default); a single-stage run has no selector.
/// </summary>
public sealed class RunDetailStagesTests() : ScriptedAppTests("stages", () => new ScriptedRunEngine(totalSteps: 4, stepMilliseconds: 1))
{
    RunStore Store => App.Services.GetRequiredService<RunStore>();
    RunNotificationService Notifications => App.Services.GetRequiredService<RunNotificationService>();

    static StageStarted Started(Guid run, long seq, string stage) =>
        new() { RunId = run, Sequence = seq, At = DateTimeOffset.UtcNow, Stage = stage, TotalEpochs = 1, TotalSteps = 10, StepsPerEpoch = 10 };

    // Losses far apart by stage (search 5x, pretrain 10x, lincls 20x), so a line tells its stage.
    static StepLogged Step(Guid run, long seq, string stage, long step) => new()
    {
        RunId = run, Sequence = seq, At = DateTimeOffset.UtcNow, Stage = stage, Epoch = 0, Step = step, Loss = Loss(stage, step),
        LearningRates = new Dictionary<string, double> { ["encoder"] = 0.01 * step },
    };

    static double Loss(string stage, long step) => stage switch { "search" => 5, "pretrain" => 10, _ => 20 } + step * 0.1;

    static ChartPoint[] Losses(string stage, int steps) => Enumerable.Range(1, steps).Select(s => new ChartPoint(s, Loss(stage, s))).ToArray();

    /// <summary>
    /// A running pipeline (a copy of the finished quick demo <paramref name="template"/>'s record) that logged 5
    /// search steps, then started its pre-training and logged <paramref name="pretrainSteps"/> steps of it.
    /// </summary>
    Guid RunningPipeline(Guid template, int pretrainSteps)
    {
        var id = Guid.NewGuid();
        // Stored as running, not queued: no job runs it, the test writes its events.
        Store.Insert(Store.Get(template)! with { Id = id, Name = "pipeline", Kind = RunKind.Pipeline, Status = RunStatus.Running, ParentId = null, FinishedAt = null });
        var events = new List<TrainingEvent> { Started(id, 0, "search") };
        for (int s = 1; s <= 5; s++) events.Add(Step(id, events.Count, "search", s));
        events.Add(Started(id, events.Count, "pretrain"));
        for (int s = 1; s <= pretrainSteps; s++) events.Add(Step(id, events.Count, "pretrain", s));
        Store.Append(id, events);
        return id;
    }

    /// <summary>Hands the page a live batch, numbered on from the stored events, as the progress pump does, and waits until it shows it.</summary>
    void Live(IRenderedComponent<RunDetail> page, Guid id, params Func<long, TrainingEvent>[] make)
    {
        long next = Store.NextSequence(id);
        var events = make.Select((m, i) => m(next + i)).ToArray();
        Store.Append(id, events);
        Notifications.Publish(new RunUpdate(id, events, null));
        page.WaitForAssertion(() => Assert.Contains($"· {next + events.Length} events", page.Find("#run-progress").TextContent), TimeSpan.FromSeconds(10));
    }

    static PlotlyLineChart Chart(IRenderedComponent<RunDetail> page, string title) =>
        page.FindComponents<PlotlyLineChart>().Single(c => c.Instance.Title == title).Instance;

    static string[] StageButtons(IRenderedComponent<RunDetail> page) =>
        page.FindAll("#stage-selector .mud-toggle-item").Select(b => b.TextContent.Trim()).ToArray();

    static string SelectedStage(IRenderedComponent<RunDetail> page) =>
        page.Find("#stage-selector .mud-toggle-item-selected").TextContent.Trim();

    [Fact]
    public async Task PipelineRun_StepChartsShowTheRunningStageOnly_SwitchOnClick_AndALiveUpdateKeepsThePick()
    {
        using var c = App.Api();
        await using var ctx = PageContext();
        var id = RunningPipeline(await SucceededQuickDemo(c), pretrainSteps: 3);
        var page = ctx.Render<RunDetail>(p => p.Add(x => x.Id, id));

        page.WaitForAssertion(() => Assert.Equal(["search", "pretrain"], StageButtons(page)), TimeSpan.FromSeconds(10));
        Assert.Equal("Step charts of stage", page.Find("#stage-selector-label").TextContent.Trim());
        Assert.Equal("stage-selector-label", page.Find("#stage-selector").GetAttribute("aria-labelledby"));
        Assert.Equal("pretrain", SelectedStage(page)); // the running stage
        var loss = Chart(page, "Loss");
        Assert.Equal("step (pretrain)", loss.XTitle);
        Assert.Equal(["loss"], loss.DrawnPoints.Keys);
        Assert.Equal(Losses("pretrain", 3), loss.DrawnSeries("loss"));
        Assert.Equal(["lr encoder"], Chart(page, "Learning rates").DrawnPoints.Keys);
        Assert.Equal("step (pretrain)", Chart(page, "Learning rates").XTitle);

        await page.Find("#stage-search").ClickAsync(new MouseEventArgs());
        page.WaitForAssertion(() => Assert.Equal("search", SelectedStage(page)));
        loss = Chart(page, "Loss");
        Assert.Equal("step (search)", loss.XTitle);
        Assert.Equal(["loss"], loss.DrawnPoints.Keys);
        Assert.Equal(Losses("search", 5), loss.DrawnSeries("loss"));
        Assert.Equal(5, Chart(page, "Learning rates").DrawnPoints["lr encoder"]);

        // The pre-training logs on: the picked stage stays, and its charts do not take the other stage's points.
        Live(page, id, seq => Step(id, seq, "pretrain", 4));
        Assert.Equal("search", SelectedStage(page));
        loss = Chart(page, "Loss");
        Assert.Equal(["loss"], loss.DrawnPoints.Keys);
        Assert.Equal(Losses("search", 5), loss.DrawnSeries("loss"));
        Assert.Equal("step (search)", loss.XTitle);

        // Back on the running stage: its points, the live one too.
        await page.Find("#stage-pretrain").ClickAsync(new MouseEventArgs());
        page.WaitForAssertion(() => Assert.Equal(Losses("pretrain", 4), Chart(page, "Loss").DrawnSeries("loss")));
        Assert.Equal("step (pretrain)", Chart(page, "Loss").XTitle);
    }

    [Fact]
    public async Task RunningPipeline_MovingToItsNextStage_IsFollowed_UnlessAStageWasPicked()
    {
        using var c = App.Api();
        await using var ctx = PageContext();
        var id = RunningPipeline(await SucceededQuickDemo(c), pretrainSteps: 0);
        var page = ctx.Render<RunDetail>(p => p.Add(x => x.Id, id));
        page.WaitForAssertion(() => Assert.Contains($"· {Store.NextSequence(id)} events", page.Find("#run-progress").TextContent), TimeSpan.FromSeconds(10));

        // The pre-training started but logged no step yet: one stage with steps, no selector.
        Assert.Empty(page.FindAll("#stage-selector"));
        Assert.Equal(Losses("search", 5), Chart(page, "Loss").DrawnSeries("loss"));

        // Its first step: the page follows it, and extends its charts live.
        Live(page, id, seq => Step(id, seq, "pretrain", 1));
        Assert.Equal(["search", "pretrain"], StageButtons(page));
        Assert.Equal("pretrain", SelectedStage(page));
        Live(page, id, seq => Step(id, seq, "pretrain", 2));
        Assert.Equal("step (pretrain)", Chart(page, "Loss").XTitle);
        Assert.Equal(Losses("pretrain", 2), Chart(page, "Loss").DrawnSeries("loss"));

        // Picked by hand: the next stage does not move the page.
        await page.Find("#stage-search").ClickAsync(new MouseEventArgs());
        page.WaitForAssertion(() => Assert.Equal("search", SelectedStage(page)));
        Live(page, id, seq => Started(id, seq, "lincls"), seq => Step(id, seq, "lincls", 1));
        Assert.Equal(["search", "pretrain", "lincls"], StageButtons(page));
        Assert.Equal("search", SelectedStage(page));
        Assert.Equal(Losses("search", 5), Chart(page, "Loss").DrawnSeries("loss"));
        Assert.Equal(["loss"], Chart(page, "Loss").DrawnPoints.Keys);
    }

    // Blazor keeps the page when a lineage link leads to another run: a single-stage run's page is as before (one
    // "step" axis, no selector), and the pipeline it leads to gets its selector.
    [Fact]
    public async Task SingleStageRun_HasNoSelector_AndItsChartsAsBefore_APipelineOnTheSamePageHasOne()
    {
        using var c = App.Api();
        await using var ctx = PageContext();
        var search = await SucceededQuickDemo(c);
        var pipeline = RunningPipeline(search, pretrainSteps: 3);
        var page = ctx.Render<RunDetail>(p => p.Add(x => x.Id, search));
        page.WaitForAssertion(() => Assert.Contains($"· {Store.NextSequence(search)} events", page.Find("#run-progress").TextContent), TimeSpan.FromSeconds(10));

        Assert.Empty(page.FindAll("#stage-selector"));
        var loss = Chart(page, "Loss");
        Assert.Equal("step", loss.XTitle);
        Assert.Equal(["loss"], loss.DrawnPoints.Keys);
        Assert.Equal(4, loss.DrawnPoints["loss"]); // every step of the scripted search
        Assert.All(page.FindComponents<PlotlyLineChart>().Select(ch => ch.Instance.XTitle ?? ""), t => Assert.DoesNotContain("(", t));

        page.Render(p => p.Add(x => x.Id, pipeline));
        page.WaitForAssertion(() => Assert.Equal("pretrain", SelectedStage(page)), TimeSpan.FromSeconds(10));
        Assert.Equal("step (pretrain)", Chart(page, "Loss").XTitle);
        Assert.Equal(Losses("pretrain", 3), Chart(page, "Loss").DrawnSeries("loss"));
    }

    // The pick is kept in the address: a reload (or a shared link) with ?stage= shows that stage, and picking the
    // stage the run shows anyway takes it out again.
    [Fact]
    public async Task ThePickedStage_IsKeptInTheAddress_AndAReloadShowsIt()
    {
        using var c = App.Api();
        await using var ctx = PageContext();
        var id = RunningPipeline(await SucceededQuickDemo(c), pretrainSteps: 3);
        var nav = ctx.Services.GetRequiredService<Microsoft.AspNetCore.Components.NavigationManager>();
        nav.NavigateTo($"/runs/{id}");
        var page = ctx.Render<RunDetail>(p => p.Add(x => x.Id, id));
        page.WaitForAssertion(() => Assert.Equal("pretrain", SelectedStage(page)), TimeSpan.FromSeconds(10));

        await page.Find("#stage-search").ClickAsync(new MouseEventArgs());
        page.WaitForAssertion(() => Assert.EndsWith($"/runs/{id}?stage=search", nav.Uri), TimeSpan.FromSeconds(10));

        // A reload: a new page from the address's query.
        var reloaded = ctx.Render<RunDetail>(p => p.Add(x => x.Id, id));
        reloaded.WaitForAssertion(() => Assert.Equal("search", SelectedStage(reloaded)), TimeSpan.FromSeconds(10));
        Assert.Equal(Losses("search", 5), Chart(reloaded, "Loss").DrawnSeries("loss"));

        // Picking the stage the run shows anyway (the running one) takes the pick out of the address.
        await reloaded.Find("#stage-pretrain").ClickAsync(new MouseEventArgs());
        reloaded.WaitForAssertion(() => Assert.EndsWith($"/runs/{id}", nav.Uri), TimeSpan.FromSeconds(10));
        Assert.Equal("pretrain", SelectedStage(reloaded));

        // A stage the run has not reached (or a typo) shows what the run would.
        nav.NavigateTo($"/runs/{id}?stage=lincls");
        var unknown = ctx.Render<RunDetail>(p => p.Add(x => x.Id, id));
        unknown.WaitForAssertion(() => Assert.Equal("pretrain", SelectedStage(unknown)), TimeSpan.FromSeconds(10));
    }
}

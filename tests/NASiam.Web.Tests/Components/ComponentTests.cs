using Microsoft.AspNetCore.Components;
using Bunit;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using MudBlazor.Services;
using NASiam.Core.Genotypes;
using NASiam.Core.Options;
using NASiam.Core.Reporting;
using NASiam.Web.Components.Shared;
using NASiam.Web.Runs;
using NASiam.Web.Tests.Fakes;

namespace NASiam.Web.Tests.Components;

static class Bunit
{
    public static BunitContext Context()
    {
        var ctx = new BunitContext();
        ctx.JSInterop.Mode = JSRuntimeMode.Loose;
        ctx.Services.AddMudServices();
        ctx.Render<MudPopoverProvider>();
        return ctx;
    }
}

public class RunFormTests
{
    /// <summary>What the form submitted, resolved the way the scheduler resolves it.</summary>
    static RunOptions Resolve(RunRequest request) => RunRequestResolver.Resolve(request, RunRequestPolicy.Web).OptionsOrThrow();

    // MudBlazor inputs and buttons handle events asynchronously, and bUnit's synchronous Change/Click
    // do not wait for those handlers: the tests await the events and then wait for the effect they
    // assert, so a slow render cannot make them fail (an earlier version read `submitted` right after
    // a synchronous Click and failed once in two CI runs).
    static async Task Type(IRenderedComponent<RunForm> form, string path, string value)
    {
        await form.Find($"[data-field='{path}'] input").ChangeAsync(new Microsoft.AspNetCore.Components.ChangeEventArgs { Value = value });
        form.WaitForAssertion(() => Assert.Equal(value, form.Instance.Model.Values[path]));
    }

    static Task Submit(IRenderedComponent<RunForm> form) =>
        form.Find("#submit-run").ClickAsync(new Microsoft.AspNetCore.Components.Web.MouseEventArgs());

    [Fact]
    public async Task Submit_InvalidEpochsAndText_ShowsMessagesNextToTheFields_AndDoesNotSubmit()
    {
        await using var ctx = Bunit.Context();
        RunRequest? submitted = null;
        var form = ctx.Render<RunForm>(p => p.Add(x => x.OnSubmit, o => submitted = o));
        await Type(form, "search.epochs", "0");
        await Type(form, "search.lr", "fast");
        await Submit(form);

        // Every field's error at once: the unreadable value's, and the resolver's range check on the others
        // (before, the range error appeared only at the next submit, once every value read as its type).
        form.WaitForAssertion(() => Assert.Contains("must be a number", form.Find("[data-field='search.lr']").TextContent));
        Assert.Contains("must be between 1 and 100000", form.Find("[data-field='search.epochs']").TextContent);
        Assert.Null(submitted);
        await Type(form, "search.lr", "0.05");
        await Submit(form);
        form.WaitForAssertion(() => Assert.Contains("must be between 1 and 100000", form.Find("[data-field='search.epochs']").TextContent));
        Assert.Null(submitted);
        Assert.DoesNotContain("must be", form.Find("[data-field='search.lr']").TextContent);
    }

    // After a refused submit each edit checks the form again: a corrected field lost its "(got 'NaN')" only
    // at the next submit. The refused submit also brings the first field in error into view (the Queue run
    // button is far below it).
    [Fact]
    public async Task AfterARefusedSubmit_CorrectingAField_ClearsItsError_AtOnce_AndTheFirstErrorIsFocused()
    {
        await using var ctx = Bunit.Context();
        var module = ctx.JSInterop.SetupModule("./js/run-form.js");
        module.Setup<bool>("focusFirstError").SetResult(true);
        RunRequest? submitted = null;
        var form = ctx.Render<RunForm>(p => p.Add(x => x.OnSubmit, o => submitted = o));
        await Type(form, "search.lr", "NaN");
        await Type(form, "search.epochs", "0");
        Assert.Empty(form.FindAll("[data-error]")); // no checks while typing before the first submit
        Assert.Empty(module.Invocations);
        await Submit(form);

        form.WaitForAssertion(() => Assert.Contains("(got 'NaN')", form.Find("[data-field='search.lr']").TextContent));
        Assert.Equal("true", form.Find("[data-field='search.lr']").GetAttribute("data-error"));
        form.WaitForAssertion(() => Assert.Single(module.Invocations, i => i.Identifier == "focusFirstError"));

        await Type(form, "search.lr", "0.05");
        form.WaitForAssertion(() => Assert.DoesNotContain("NaN", form.Find("[data-field='search.lr']").TextContent));
        Assert.Null(form.Find("[data-field='search.lr']").GetAttribute("data-error"));
        Assert.Contains("must be between 1 and 100000", form.Find("[data-field='search.epochs']").TextContent); // still wrong: still said
        await Type(form, "search.epochs", "2");
        form.WaitForAssertion(() => Assert.Empty(form.FindAll("[data-error]")));
        Assert.Empty(form.FindAll(".form-error-summary"));
        Assert.Null(submitted); // an edit checks, it never submits
        Assert.Single(module.Invocations, i => i.Identifier == "focusFirstError"); // focused once, at the submit

        await Submit(form);
        form.WaitForAssertion(() => Assert.NotNull(submitted));
    }

    [Fact]
    public async Task Submit_ValidChanges_SubmitsThePresetWithOnlyTheChangedFields()
    {
        await using var ctx = Bunit.Context();
        RunRequest? submitted = null;
        var form = ctx.Render<RunForm>(p => p.Add(x => x.OnSubmit, o => submitted = o));
        await Type(form, "search.epochs", "2");
        // The quick demo's default framework is SimCLR: its head cell's depth (heads.encoderLayers, the projector
        // cell's, is SimSiam's and MoCo's, and the form says so before queueing).
        await Type(form, "heads.predictorLayers", "3");
        await Submit(form);

        form.WaitForAssertion(() => Assert.NotNull(submitted));
        Assert.Equal(RunPresets.QuickDemo, submitted!.Preset);
        var options = Resolve(submitted);
        var expected = RunPresets.Get(RunPresets.QuickDemo);
        Assert.Equal(RunPresets.QuickDemoDefaultFramework, options.Framework);
        Assert.Equal(2, options.Search.Epochs);
        Assert.Equal(3, options.Heads.PredictorLayers);
        Assert.Equal(expected.Backbone, options.Backbone);
        Assert.Equal(expected.Search.BatchSize, options.Search.BatchSize);
        Assert.Equal(expected.Heads.Dim, options.Heads.Dim);
        // Only what the user changed travels as overrides: the rest is the preset's, resolved once.
        Assert.Equal(["heads", "search"], submitted.Overrides!.Select(p => p.Key).Order().ToArray());
    }

    [Fact]
    public async Task PipelinePreset_ShowsSearchedGenotype_AndSubmitsAPipelineThatPretrainsIt()
    {
        await using var ctx = Bunit.Context();
        RunRequest? submitted = null;
        var form = ctx.Render<RunForm>(p => p.Add(x => x.OnSubmit, o => submitted = o));
        await form.InvokeAsync(() => form.Instance.ApplyPreset("simsiam-cifar10", NASiam.Core.Framework.SimSiam));
        form.WaitForAssertion(() => Assert.Equal("searched", form.Instance.Model.Values["pretrain.genotype"]));
        Assert.Equal("pipeline", form.Instance.Model.Values["kind"]);
        await Type(form, "dataPath", "/data/cifar");
        await Submit(form);

        form.WaitForAssertion(() => Assert.NotNull(submitted));
        var options = Resolve(submitted!);
        Assert.Equal(RunKind.Pipeline, options.Kind);
        Assert.Equal(GenotypeReference.Searched, options.Pretrain.Genotype);
        Assert.Equal(NASiam.Core.Framework.SimSiam, options.Framework);
    }

    // The quick demo is a pipeline whose genotype is "searched"; as a pre-training that means the standard
    // heads. The form used to queue at once with "searched" still shown and drop the resolver's notice;
    // now the first click shows what the run would get and the notice, the second queues it.
    [Fact]
    public async Task AResolutionWithNotices_ShowsTheResolvedValuesFirst_AndQueuesOnTheSecondClick()
    {
        await using var ctx = Bunit.Context();
        RunRequest? submitted = null;
        var form = ctx.Render<RunForm>(p => p.Add(x => x.OnSubmit, o => submitted = o));
        await form.InvokeAsync(() => form.Instance.Set("kind", "pretrain"));
        Assert.Equal("searched", form.Instance.Model.Values["pretrain.genotype"]);
        await Submit(form);
        form.WaitForAssertion(() => Assert.Equal("standard", form.Instance.Model.Values["pretrain.genotype"]));
        Assert.Null(submitted);
        Assert.Contains("pretrain.genotype: none given, so the framework's standard heads are pre-trained",
            form.FindAll(".form-notice").Select(n => n.TextContent.Trim()));
        Assert.Equal("pretrain", form.Instance.Model.Values["kind"]);
        Assert.NotEmpty(form.FindAll("#confirm-notices"));

        await Submit(form);
        form.WaitForAssertion(() => Assert.NotNull(submitted));
        var options = Resolve(submitted!);
        Assert.Equal((RunKind.Pretrain, GenotypeReference.Standard), (options.Kind, options.Pretrain.Genotype));
    }

    // The dashboard's door for genotype ids: the form resolves with the scheduler's policy (a library
    // entry's id is a genotype, checked for its framework), so it shows what a submit would refuse.
    [Fact]
    public async Task GenotypeLibraryId_IsCheckedForItsFramework_NextToTheField()
    {
        await using var ctx = Bunit.Context();
        var entry = Guid.NewGuid();
        var moco = GenotypeText.Write(GenotypePresets.Find("moco/cifar10_resnet18")!.Genotype!);
        var policy = RunRequestPolicy.Web with
        {
            GenotypeById = id => id == entry ? new StoredGenotype(moco, NASiam.Core.Framework.MoCo, "genotype library entry 'mine'") : null,
        };
        RunRequest? submitted = null;
        var form = ctx.Render<RunForm>(p => p.Add(x => x.OnSubmit, o => submitted = o).Add(x => x.Policy, policy));
        await form.InvokeAsync(() => form.Instance.ApplyPreset(RunPresets.QuickDemo, NASiam.Core.Framework.SimSiam));
        await form.InvokeAsync(() => form.Instance.Set("kind", "pretrain"));
        await form.InvokeAsync(() => form.Instance.Set("pretrain.genotype", entry.ToString()));
        await Submit(form);
        form.WaitForAssertion(() => Assert.Contains("genotype library entry 'mine' holds a moco genotype, not a simsiam one.",
            form.Find("[data-field='pretrain.genotype']").TextContent));
        Assert.Null(submitted);

        await form.InvokeAsync(() => form.Instance.Set("framework", "moco"));
        await form.InvokeAsync(() => form.Instance.Set("kind", "pretrain"));
        await form.InvokeAsync(() => form.Instance.Set("pretrain.genotype", entry.ToString()));
        await Submit(form);
        form.WaitForAssertion(() => Assert.NotNull(submitted));
        Assert.Equal(moco, RunRequestResolver.Resolve(submitted!, policy).OptionsOrThrow().Pretrain.Genotype);
    }

    // A stored genotype with a notice (a stopped search's, given by the run's id): the first click showed the notice and
    // replaced the id by the genotype's text, so the second queued the text, without the notice or the run's lineage.
    [Fact]
    public async Task AStoredGenotypesReference_StaysInTheField_WhenTheFirstClickShowsItsNotice()
    {
        await using var ctx = Bunit.Context();
        var run = Guid.NewGuid();
        var moco = GenotypeText.Write(GenotypePresets.Find("moco/cifar10_resnet18")!.Genotype!);
        var policy = RunRequestPolicy.Web with
        {
            GenotypeById = id => id == run ? new StoredGenotype(moco, NASiam.Core.Framework.MoCo, "run x") { Notice = "Provisional genotype: argmax of the alphas at step 3" } : null,
        };
        RunRequest? submitted = null;
        var form = ctx.Render<RunForm>(p => p.Add(x => x.OnSubmit, o => submitted = o).Add(x => x.Policy, policy));
        await form.InvokeAsync(() => form.Instance.ApplyPreset(RunPresets.QuickDemo, NASiam.Core.Framework.MoCo));
        await form.InvokeAsync(() => form.Instance.Set("kind", "pretrain"));
        await form.InvokeAsync(() => form.Instance.Set("pretrain.genotype", run.ToString()));
        await Submit(form);
        form.WaitForAssertion(() => Assert.Contains("pretrain.genotype: Provisional genotype: argmax of the alphas at step 3",
            form.FindAll(".form-notice").Select(n => n.TextContent.Trim())));
        Assert.Null(submitted);
        Assert.Equal(run.ToString(), form.Instance.Model.Values["pretrain.genotype"]);

        await Submit(form);
        form.WaitForAssertion(() => Assert.NotNull(submitted));
        Assert.Equal(run.ToString(), submitted!.Overrides!["pretrain"]!["genotype"]!.GetValue<string>());
    }

    [Fact]
    public async Task ChoosingAFrameworkPreset_LoadsThatPresetWithItsOwnFramework()
    {
        await using var ctx = Bunit.Context();
        var form = ctx.Render<RunForm>(); // the quick demo, SimCLR by default
        await form.InvokeAsync(() => form.Instance.SelectPreset("simsiam-cifar10"));
        form.WaitForAssertion(() => Assert.Equal("simsiam-cifar10", form.Instance.Model.Preset));
        Assert.Equal("simsiam", form.Instance.Model.Values["framework"]);
    }

    [Fact]
    public async Task ChangingTheFramework_ReloadsThePresetForIt_NotAMixOfTwoRecipes()
    {
        await using var ctx = Bunit.Context();
        var form = ctx.Render<RunForm>();
        await form.InvokeAsync(() => form.Instance.Set("framework", "moco"));
        form.WaitForAssertion(() => Assert.Equal("moco", form.Instance.Model.Values["framework"]));
        var moco = RunPresets.Get(RunPresets.QuickDemo, NASiam.Core.Framework.MoCo);
        Assert.Equal(moco.Heads.Dim.ToString(System.Globalization.CultureInfo.InvariantCulture), form.Instance.Model.Values["heads.dim"]);
        Assert.Equal("adam", form.Instance.Model.Values["search.alphaOptimizer"]);
        form.Render();
        Assert.Empty(form.FindAll("#framework-reload")); // nothing was edited: nothing to say

        // An edit is reset by the reload: the form says so.
        await Type(form, "search.epochs", "7");
        await form.InvokeAsync(() => form.Instance.Set("framework", "simsiam"));
        form.Render(); // Set is called as the select's handler would; a direct call does not render by itself
        Assert.Contains("Reset to the recipe: Search epochs (was 7).", form.Find("#framework-reload").TextContent);
        Assert.NotEqual("7", form.Instance.Model.Values["search.epochs"]);
    }

    // Changing the framework reloaded the whole preset: the data set, its folder, the image size, the step cap and
    // the run name went back to the quick demo's, and the notice said only "your earlier edits were reset".
    [Fact]
    public async Task ChangingTheFramework_KeepsEditsNoRecipeHolds_ResetsTheRecipe_AndSaysWhichIsWhich()
    {
        await using var ctx = Bunit.Context();
        var form = ctx.Render<RunForm>();
        var edits = new Dictionary<string, string>
        {
            ["name"] = "my folder run", ["dataset"] = "folder", ["dataPath"] = "/data/flowers", ["data.imageSize"] = "32",
            ["maxStepsPerStage"] = "5", ["seed"] = "7", ["search.epochs"] = "2", ["search.batchSize"] = "32",
        };
        foreach (var (path, value) in edits) await form.InvokeAsync(() => form.Instance.Set(path, value));
        await form.InvokeAsync(() => form.Instance.Set("framework", "moco"));
        form.Render();

        var values = form.Instance.Model.Values;
        Assert.Equal("moco", values["framework"]);
        foreach (var path in new[] { "name", "dataset", "dataPath", "data.imageSize", "maxStepsPerStage", "seed" }) Assert.Equal(edits[path], values[path]);
        var moco = RunPresets.Get(RunPresets.QuickDemo, NASiam.Core.Framework.MoCo);
        Assert.Equal(moco.Search.Epochs.ToString(System.Globalization.CultureInfo.InvariantCulture), values["search.epochs"]);
        Assert.Equal(moco.Search.BatchSize.ToString(System.Globalization.CultureInfo.InvariantCulture), values["search.batchSize"]);
        Assert.Equal("adam", values["search.alphaOptimizer"]);
        var note = form.Find("#framework-reload").TextContent;
        Assert.Contains("Reset to the recipe: Search epochs (was 2), Search batch size (was 32).", note);
        Assert.Contains("Kept: Run name, Random seed, Step cap per stage, Data set, Data folder, Image size.", note);
        Assert.DoesNotContain("earlier edits were reset", note);

        // An unedited name follows the preset's flavour (the kept one was the user's own).
        form = ctx.Render<RunForm>();
        await form.InvokeAsync(() => form.Instance.Set("dataset", "folder"));
        await form.InvokeAsync(() => form.Instance.Set("framework", "moco"));
        Assert.Equal(moco.Name, form.Instance.Model.Values["name"]);
        Assert.Equal("folder", form.Instance.Model.Values["dataset"]);
    }
}

public class AlphaHeatmapTests
{
    [Fact]
    public async Task Render_GivenCell_DrawsOneRectPerLayerAndOpWithItsWeight_AndOutlinesTheWinner()
    {
        await using var ctx = Bunit.Context();
        var ops = NASiam.Core.Search.OperationNames.SimSiamMoCoOrder;
        var layers = Enumerable.Range(0, 3).Select(l =>
        {
            var w = ScriptedRunEngine.Weights(l, 20);
            return new AlphaLayer(l, w, ops[GenotypeDerivation.ArgmaxLastTie(w)], 1, 0.1);
        }).ToArray();
        var cut = ctx.Render<AlphaHeatmap>(p => p.Add(x => x.Cell, new CellAlphas("encoder", ops, layers)));

        var rects = cut.FindAll("rect.alpha-cell");
        Assert.Equal(3 * 7, rects.Count);
        foreach (var layer in layers)
            for (int o = 0; o < 7; o++)
            {
                var r = rects.Single(x => x.GetAttribute("data-layer") == layer.Layer.ToString() && x.GetAttribute("data-op") == ops[o]);
                Assert.Equal(layer.Weights[o], double.Parse(r.GetAttribute("data-value")!, System.Globalization.CultureInfo.InvariantCulture), 4);
                Assert.Equal(ops[o] == layer.Winner ? "#ff9800" : "none", r.GetAttribute("stroke"));
            }
    }

    // The run page re-renders on every step; the grid is rebuilt only when new alphas arrive.
    [Fact]
    public async Task ParentRender_WithTheSameCell_SkipsTheGrid_NewAlphasRedrawIt()
    {
        await using var ctx = Bunit.Context();
        var ops = NASiam.Core.Search.OperationNames.SimSiamMoCoOrder;
        CellAlphas Cell(int step) => new("encoder", ops, [new AlphaLayer(0, ScriptedRunEngine.Weights(0, step), ops[0], 1, 0.1)]);
        var first = Cell(5);
        var cut = ctx.Render<AlphaHeatmap>(p => p.Add(x => x.Cell, first));
        Assert.Equal(1, cut.RenderCount);

        cut.Render(p => p.Add(x => x.Cell, first));
        Assert.Equal(1, cut.RenderCount);

        var next = Cell(30);
        cut.Render(p => p.Add(x => x.Cell, next));
        Assert.Equal(2, cut.RenderCount);
        var shown = cut.FindAll("rect.alpha-cell").Select(r => double.Parse(r.GetAttribute("data-value")!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(next.Layers[0].Weights.Select(w => Math.Round(w, 4)), shown.Select(w => Math.Round(w, 4)));
    }
}

public class PlotlyLineChartTests
{
    static ChartLine Steps(string name, int from, int to) =>
        new(name, Enumerable.Range(from, to - from + 1).Select(x => new ChartPoint(x, x * 0.5)).ToArray());

    // Whole-number axes (steps, epochs) tick every 1 over a short range, not 2.5, 3.5; as the run grows the
    // chart gives plotly its own ticks back. A legend sits above the plot, out of the x-axis title's way.
    [Fact]
    public async Task ShortWholeNumberAxes_TickEveryOne_AndTheLegendSitsAboveThePlot()
    {
        await using var ctx = Bunit.Context();
        var cut = ctx.Render<PlotlyLineChart>(p => p.Add(x => x.Title, "Loss").Add(x => x.XTitle, "step")
            .Add(x => x.Lines, [Steps("loss (search)", 1, 4), Steps("loss (pretrain)", 1, 3)]));
        var layout = cut.FindComponent<Plotly.Blazor.PlotlyChart>().Instance.Layout;
        Assert.Equal(1, Convert.ToInt32(layout.XAxis[0].DTick));
        Assert.Equal(Plotly.Blazor.LayoutLib.LegendLib.YAnchorEnum.Bottom, layout.Legend[0].YAnchor);
        Assert.True(layout.ShowLegend);
        Assert.True(layout.Margin.T > 8, $"top margin {layout.Margin.T}");
        Assert.Equal(220 + (layout.Margin.T - 8), layout.Height); // the legend's rows add to the chart, not take from the plot

        cut.Render(p => p.Add(x => x.Lines, [Steps("loss (search)", 1, 400), Steps("loss (pretrain)", 1, 3)]));
        Assert.Null(cut.FindComponent<Plotly.Blazor.PlotlyChart>().Instance.Layout.XAxis[0].DTick);

        // A live series with one point has no stable prefix yet: its legend entry goes on the trace that has the point.
        var lone = new ChartLine("linear top-1", [new ChartPoint(1, 30)], Stable: 0);
        cut.Render(p => p.Add(x => x.Lines, [lone, Steps("kNN top-1", 1, 3)]));
        var traces = cut.FindComponent<Plotly.Blazor.PlotlyChart>().Instance.Data.Cast<Plotly.Blazor.Traces.Scatter>().ToArray();
        var shown = traces.Where(t => t.ShowLegend == true).ToArray();
        Assert.Equal(["linear top-1", "kNN top-1"], shown.Select(t => t.Name));
        Assert.All(shown, t => Assert.NotEmpty(t.X));
    }

    [Fact]
    public async Task Render_GivenLinesAndMarkers_HandsPlotlyEveryPointAndListsTheMarkers()
    {
        await using var ctx = Bunit.Context();
        var view = new RunView();
        var engineEvents = new RecordingObserver();
        new ScriptedRunEngine(totalSteps: 40, stepMilliseconds: 0).Run(RunPresets.QuickDemoFor(NASiam.Core.Framework.SimSiam),
            new NASiam.Core.Engine.RunContext { RunId = Guid.NewGuid(), OutputDirectory = Directory.CreateTempSubdirectory().FullName }, engineEvents, default);
        view.Apply(engineEvents.Events);
        var lines = view.OpLines("encoder", 0);
        var markers = view.WinnerChanges("encoder", 0);
        Assert.NotEmpty(markers); // the scripted alphas change their winner

        var cut = ctx.Render<PlotlyLineChart>(p => p.Add(x => x.Title, "ops").Add(x => x.Lines, lines).Add(x => x.Markers, markers));
        Assert.Equal(7, cut.Instance.DrawnPoints.Count);
        Assert.All(lines, l => Assert.Equal(l.Points, cut.Instance.DrawnSeries(l.Name))); // 20 alpha rows: under the budget, every point
        Assert.All(cut.Instance.DrawnPoints.Values, n => Assert.Equal(20, n));
        // What plotly gets: a stable and a live trace per series, one dashed shape per marker.
        var chart = cut.FindComponent<Plotly.Blazor.PlotlyChart>().Instance;
        Assert.Equal(14, chart.Data.Count);
        var traces = chart.Data.Cast<Plotly.Blazor.Traces.Scatter>().ToArray();
        for (int i = 0; i < 7; i++) // stable prefix + live tail (which repeats the last stable point to join the line)
            Assert.Equal(20, traces[2 * i].X.Count + Math.Max(0, traces[2 * i + 1].X.Count - 1));
        Assert.Equal(markers.Count, chart.Layout.Shapes.Count);
        Assert.Contains($"step {markers[^1].X:0} → {markers[^1].Label}", cut.Find(".chart-markers").TextContent);
    }

    // A constant learning rate (0.001) on plotly's own autorange spans -1..1 and reads as 0; a lone point is
    // invisible as a line. The chart ranges a flat series around its value, marks a one-point series and
    // names a lone series the title does not name.
    [Fact]
    public async Task Render_AFlatSeries_IsRangedAroundItsValue_AOnePointSeriesHasAMarker_AndALoneSeriesIsNamed()
    {
        await using var ctx = Bunit.Context();
        ChartPoint[] flat = [new(1, 0.001), new(2, 0.001), new(3, 0.001)];
        var cut = ctx.Render<PlotlyLineChart>(p => p.Add(x => x.Title, "Learning rates").Add(x => x.Lines, [new ChartLine("encoder", flat)]));
        var chart = cut.FindComponent<Plotly.Blazor.PlotlyChart>().Instance;
        var range = Assert.Single(chart.Layout.YAxis).Range!.Cast<double>().ToArray();
        Assert.Equal([0.0005, 0.0015], range);
        Assert.True(chart.Layout.ShowLegend);

        // Values that differ: plotly ranges the axis again.
        cut.Render(p => p.Add(x => x.Lines, [new ChartLine("encoder", [.. flat, new(4, 0.0005)])]));
        Assert.Null(Assert.Single(cut.FindComponent<Plotly.Blazor.PlotlyChart>().Instance.Layout.YAxis).Range);

        var one = ctx.Render<PlotlyLineChart>(p => p.Add(x => x.Title, "Linear top-1").Add(x => x.Lines, [new ChartLine("run a", [new(1, 18.58)])]));
        var traces = one.FindComponent<Plotly.Blazor.PlotlyChart>().Instance.Data.Cast<Plotly.Blazor.Traces.Scatter>();
        Assert.Contains(traces, t => t.X.Count == 1 && t.Mode!.Value.HasFlag(Plotly.Blazor.Traces.ScatterLib.ModeFlag.Markers));

        var loss = ctx.Render<PlotlyLineChart>(p => p.Add(x => x.Title, "loss").Add(x => x.Lines, [new ChartLine("loss", flat)]));
        Assert.False(loss.FindComponent<Plotly.Blazor.PlotlyChart>().Instance.Layout.ShowLegend);
    }

    [Fact]
    public async Task Render_NoPoints_SaysSo()
    {
        await using var ctx = Bunit.Context();
        var cut = ctx.Render<PlotlyLineChart>(p => p.Add(x => x.Title, "loss").Add(x => x.Lines, [new ChartLine("loss", [])]));
        Assert.Contains("No data yet", cut.Markup);
        Assert.Empty(cut.FindComponents<Plotly.Blazor.PlotlyChart>());
    }

    [Fact]
    public async Task LiveSeries_IsExtendedInPlace_RedrawnOnlyWhenReBucketed_AndHoldsExactlyTheServersPoints()
    {
        await using var ctx = Bunit.Context();
        var series = new SeriesBuffer(60);
        series.Add(0, 1);
        var cut = ctx.Render<PlotlyLineChart>(p => p.Add(x => x.Title, "loss").Add(x => x.Lines, [new ChartLine("loss", series.Snapshot())]));
        var rng = new Random(3);
        for (int i = 1; i < 1000; i++)
        {
            series.Add(i, Math.Sin(i / 30.0) + rng.NextDouble() * 0.1 + (i == 500 ? 10 : 0));
            if (i % 3 != 0) continue; // a live batch carries a few steps
            cut.Render(p => p.Add(x => x.Lines, [new ChartLine("loss", series.Snapshot())]));
            Assert.Equal(series.Points(), cut.Instance.DrawnSeries("loss"));
        }
        Assert.Contains(cut.Instance.DrawnSeries("loss"), p => p.Y > 5); // the spike survived the buckets
        var (redraws, extends, tails) = cut.Instance.Updates;
        Assert.True(series.Generation >= 4, $"{series.Generation} merges");
        Assert.InRange(redraws, 1, series.Generation + 1); // once per merge (and once if data changed before plotly was ready)
        Assert.True(extends >= 50, $"{extends} extends"); // of 333 updates: once buckets hold w points, one completes every w points
        Assert.True(tails > 100, $"{tails} tail updates");
        // Two updates before one after-render (a page re-rendered twice in a turn): one call per trace.
        await cut.InvokeAsync(async () =>
        {
            series.Add(1000, 0); series.Add(1001, 0);
            await cut.Instance.SetParametersAsync(ParameterView.FromDictionary(new Dictionary<string, object?> { ["Lines"] = new[] { new ChartLine("loss", series.Snapshot()) } }));
            series.Add(1002, 0); series.Add(1003, 0);
            await cut.Instance.SetParametersAsync(ParameterView.FromDictionary(new Dictionary<string, object?> { ["Lines"] = new[] { new ChartLine("loss", series.Snapshot()) } }));
        });
        cut.Render(p => p.Add(x => x.Lines, [new ChartLine("loss", series.Snapshot())]));
        Assert.Equal(series.Points(), cut.Instance.DrawnSeries("loss"));
        foreach (var inv in ctx.JSInterop.Invocations.Where(i => i.Identifier is "extendTraces" or "update"))
        {
            var indices = System.Text.Json.JsonSerializer.Deserialize<int[]>(System.Text.Json.JsonSerializer.Serialize(inv.Arguments[3]))!; // (id, x|data, y|layout, indices, …)
            Assert.Equal(indices.Distinct().Count(), indices.Length);
        }
        // The calls reached plotly's interop module in that form.
        var calls = ctx.JSInterop.Invocations.Select(i => i.Identifier).ToList();
        Assert.Contains("extendTraces", calls);
        Assert.Contains("update", calls);
        Assert.Contains("react", calls);
    }
}

public class GenotypeDiagramTests
{
    [Fact]
    public async Task Render_PresetGenotype_ShowsEachCellsOpsInOrder()
    {
        await using var ctx = Bunit.Context();
        var g = GenotypePresets.Find("simsiam/cifar10_resnet18")!.Genotype!;
        var cut = ctx.Render<GenotypeDiagram>(p => p.Add(x => x.Genotype, g));
        var encoder = cut.FindAll("[data-cell='encoder'] .genotype-op").Select(e => e.TextContent.Trim());
        var predictor = cut.FindAll("[data-cell='predictor'] .genotype-op").Select(e => e.TextContent.Trim());
        Assert.Equal(g.Encoder!.Select(x => x[0]), encoder);
        Assert.Equal(g.Predictor!.Select(x => x[0]), predictor);
    }
}

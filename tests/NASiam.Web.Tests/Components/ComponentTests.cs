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
    [Fact]
    public async Task Submit_InvalidEpochsAndText_ShowsMessagesNextToTheFields_AndDoesNotSubmit()
    {
        await using var ctx = Bunit.Context();
        RunOptions? submitted = null;
        var form = ctx.Render<RunForm>(p => p.Add(x => x.OnSubmit, o => submitted = o));
        form.Find("[data-field='Search.Epochs'] input").Change("0");
        form.Find("[data-field='Search.Lr'] input").Change("fast");
        form.Find("#submit-run").Click();

        Assert.Null(submitted);
        Assert.Contains("must be a number", form.Find("[data-field='Search.Lr']").TextContent);
        // Epochs is parsed fine, so the engine's own validator is not reached until Lr parses.
        form.Find("[data-field='Search.Lr'] input").Change("0.05");
        form.Find("#submit-run").Click();
        Assert.Null(submitted);
        Assert.Contains("must be between 1 and 100000", form.Find("[data-field='Search.Epochs']").TextContent);
        Assert.DoesNotContain("must be", form.Find("[data-field='Search.Lr']").TextContent);
    }

    [Fact]
    public async Task Submit_ValidChanges_SubmitsTheQuickDemoWithThem()
    {
        await using var ctx = Bunit.Context();
        RunOptions? submitted = null;
        var form = ctx.Render<RunForm>(p => p.Add(x => x.OnSubmit, o => submitted = o));
        form.Find("[data-field='Search.Epochs'] input").Change("2");
        form.Find("[data-field='Heads.EncoderLayers'] input").Change("3");
        form.Find("#submit-run").Click();

        Assert.NotNull(submitted);
        var expected = RunPresets.QuickDemoFor(NASiam.Core.Framework.SimSiam);
        Assert.Equal(2, submitted.Search.Epochs);
        Assert.Equal(3, submitted.Heads.EncoderLayers);
        Assert.Equal(expected.Backbone, submitted.Backbone);
        Assert.Equal(expected.Search.BatchSize, submitted.Search.BatchSize);
        Assert.Equal(expected.Heads.Dim, submitted.Heads.Dim);
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
}

public class LineChartTests
{
    [Fact]
    public async Task Render_GivenLinesAndMarkers_DrawsEachPointAndMarker()
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

        var cut = ctx.Render<LineChart>(p => p.Add(x => x.Title, "ops").Add(x => x.Lines, lines).Add(x => x.Markers, markers));
        var polylines = cut.FindAll("polyline.chart-line");
        Assert.Equal(7, polylines.Count);
        Assert.All(polylines, pl => Assert.Equal(20, pl.GetAttribute("points")!.Split(' ').Length));
        Assert.Equal(markers.Count, cut.FindAll("line.chart-marker").Count);
    }

    [Fact]
    public async Task Render_NoPoints_SaysSo()
    {
        await using var ctx = Bunit.Context();
        var cut = ctx.Render<LineChart>(p => p.Add(x => x.Title, "loss").Add(x => x.Lines, [new ChartLine("loss", [])]));
        Assert.Contains("No data yet", cut.Markup);
        Assert.Empty(cut.FindAll("polyline"));
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

using Bunit;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using NASiam.Core.Reporting;
using NASiam.Web.Components.Shared;
using NASiam.Web.Runs;
using NASiam.Web.Tests.Fakes;

namespace NASiam.Web.Tests.Components;

/// <summary>/compare ("Overlay runs") on the real app's services.</summary>
public sealed class CompareOverlayTests() : ScriptedAppTests("overlay", () => new ScriptedRunEngine(totalSteps: 6, stepMilliseconds: 1))
{
    // Two runs of one name get told apart by their ids; a run whose stages both logged steps draws a line per
    // stage (each stage counts from step 1); kNN epochs count from 1.
    [Fact]
    public async Task SharedNamesAreToldApart_AStagesLinesAreSeparate_AndEpochsCountFromOne()
    {
        using var c = App.Api();
        await using var ctx = PageContext();
        var a = await NasiamAppFactory.CreateQuickDemo(c);
        var b = await NasiamAppFactory.CreateQuickDemo(c);
        await NasiamAppFactory.WaitForStatus(c, a, "Succeeded");
        await NasiamAppFactory.WaitForStatus(c, b, "Succeeded");
        var store = App.Services.GetRequiredService<RunStore>();
        long next = store.NextSequence(b);
        store.Append(b, [
            new StepLogged { RunId = b, Sequence = next, Stage = "pretrain", Epoch = 0, Step = 1, Loss = 9, LearningRates = new Dictionary<string, double>() },
            new KnnLogged { RunId = b, Sequence = next + 1, Stage = "pretrain", Epoch = 0, Top1 = 30, Top5 = 70, IsBest = true, Protocol = "k=200" },
        ]);

        var page = ctx.Render<NASiam.Web.Components.Pages.Compare>();
        var select = page.FindComponent<MudSelect<Guid>>();
        await page.InvokeAsync(() => select.Instance.SelectedValuesChanged.InvokeAsync([a, b]));
        page.Render();

        var charts = page.FindComponents<PlotlyLineChart>().Select(x => x.Instance).ToList();
        var loss = charts.Single(x => x.Title == "Loss").DrawnPoints.Keys.ToList();
        string name = store.Get(a)!.Name, idA = a.ToString("N")[..8], idB = b.ToString("N")[..8];
        Assert.Equal(store.Get(b)!.Name, name);
        Assert.Equal([$"{name} · {idA}", $"{name} · {idB} (search)", $"{name} · {idB} (pretrain)"], loss);
        var knn = charts.Single(x => x.Title == "kNN top-1");
        Assert.Equal([new ChartPoint(1, 30)], knn.DrawnSeries($"{name} · {idB} (pretrain)")); // the event's epoch 0
    }
}

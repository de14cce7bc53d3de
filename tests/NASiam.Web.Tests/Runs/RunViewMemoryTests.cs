using NASiam.Core.Reporting;
using NASiam.Web.Runs;

namespace NASiam.Web.Tests.Runs;

/// <summary>The run page's resident-memory figures: drawn when an epoch reports them, said to be missing otherwise.</summary>
public class RunViewMemoryTests
{
    static ThroughputLogged Epoch(long step, double? rss, double? peak) => new()
    {
        Stage = "search", Sequence = step, Epoch = (int)step / 10, Step = step,
        ImagesPerSecond = 100, DataSecondsPerStep = 0.01, ComputeSecondsPerStep = 0.2, RssMib = rss, PeakRssMib = peak,
    };

    [Fact]
    public void Throughput_WithMemory_AddsAPointPerEpoch_AndTheTextGivesBothFigures()
    {
        var view = new RunView();
        view.Apply([Epoch(10, 1281.6, 1400.2), Epoch(20, 1290.4, 1402)]);
        Assert.Equal([new ChartPoint(10, 1281.6), new ChartPoint(20, 1290.4)], Assert.Single(view.Lines("rss MiB")).Points);
        Assert.Equal("Worker process memory: 1290 MiB resident, peak 1402 MiB", RunView.ResidentText(view.LatestThroughput!));
    }

    [Fact]
    public void Throughput_WithoutMemory_DrawsNoPoint_AndTheTextSaysNotMeasured()
    {
        var view = new RunView();
        view.Apply([Epoch(10, null, null)]);
        Assert.DoesNotContain("rss MiB", view.SeriesNames);
        Assert.Equal("Worker process memory: not measured for this run", RunView.ResidentText(view.LatestThroughput!));
    }
}

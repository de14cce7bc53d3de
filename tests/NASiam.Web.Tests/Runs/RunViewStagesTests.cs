using NASiam.Core.Reporting;
using NASiam.Web.Runs;

namespace NASiam.Web.Tests.Runs;

/// <summary>A pipeline's stages each count their steps from 1: the run page draws one line per stage.</summary>
public class RunViewStagesTests
{
    static StepLogged Step(long seq, string stage, long step, double loss) => new()
    {
        Sequence = seq, Stage = stage, Epoch = 0, Step = step, Loss = loss,
        LearningRates = new Dictionary<string, double> { ["encoder"] = 0.1 * step },
    };

    [Fact]
    public void PipelineSeries_AreOneLinePerStage_NamedByStage_InStageOrder()
    {
        var view = new RunView();
        view.Apply([Step(0, "search", 1, 5), Step(1, "search", 2, 4), Step(2, "pretrain", 1, 9), Step(3, "pretrain", 2, 8), Step(4, "pretrain", 3, 7)]);
        var loss = view.LossLines();
        Assert.Equal(["loss (search)", "loss (pretrain)"], loss.Select(l => l.Name));
        Assert.Equal([new ChartPoint(1, 5), new ChartPoint(2, 4)], loss[0].Points);
        Assert.Equal([new ChartPoint(1, 9), new ChartPoint(2, 8), new ChartPoint(3, 7)], loss[1].Points);
        Assert.Equal(["lr encoder (search)", "lr encoder (pretrain)"], view.LearningRateLines().Select(l => l.Name));
        Assert.Equal(["loss", "lr encoder"], view.SeriesNames.Order());
    }

    [Fact]
    public void OneStage_KeepsTheSeriesName_AndAnUnwrittenSeriesHasNoLine()
    {
        var view = new RunView();
        view.Apply([Step(0, "search", 1, 5), Step(1, "search", 2, 4)]);
        Assert.Equal("loss", Assert.Single(view.LossLines()).Name);
        Assert.Equal("training loss", Assert.Single(view.Lines("loss", "training loss")).Name);
        Assert.Empty(view.Lines("knn top1"));
    }

    [Fact]
    public void EpochSeries_CountFromOne_AsPeopleRead_TheEventsFromZero()
    {
        var view = new RunView();
        view.Apply([
            new KnnLogged { Sequence = 0, Stage = "pretrain", Epoch = 0, Top1 = 30, Top5 = 70, IsBest = true, Protocol = "k=200" },
            new KnnLogged { Sequence = 1, Stage = "pretrain", Epoch = 1, Top1 = 35, Top5 = 75, IsBest = true, Protocol = "k=200" },
        ]);
        Assert.Equal([new ChartPoint(1, 30), new ChartPoint(2, 35)], Assert.Single(view.Lines("knn top1")).Points);
    }
}

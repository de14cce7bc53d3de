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

    static StageStarted Started(long seq, string stage) => new() { Sequence = seq, Stage = stage, TotalEpochs = 1, TotalSteps = 10, StepsPerEpoch = 10 };

    // The page draws one stage's steps at a time: a stage picked by hand, else the running one once it has step
    // data, else the last with step data; epoch series (kNN) do not make a stage a step stage.
    [Fact]
    public void ShownStepStage_IsThePickedOne_ElseTheRunningStageOnceItHasSteps()
    {
        var view = new RunView();
        Assert.Empty(view.StepStages);
        Assert.Null(view.DefaultStepStage(active: true));

        // One stage with steps: nothing to choose, every line as before.
        view.Apply([Started(0, "search"), Step(1, "search", 1, 5)]);
        Assert.Null(view.ShownStepStage(null, active: true));

        view.Apply([Started(2, "pretrain"), Step(3, "pretrain", 1, 9)]);
        Assert.Equal(["search", "pretrain"], view.StepStages);
        Assert.Equal("pretrain", view.DefaultStepStage(active: true));
        Assert.Equal("pretrain", view.ShownStepStage(null, active: true));
        Assert.Equal("search", view.ShownStepStage("search", active: true)); // picked by hand
        Assert.Equal("search", view.ShownStepStage("SEARCH", active: true)); // ?stage= as the selector shows it
        Assert.Equal("pretrain", view.ShownStepStage("lincls", active: true)); // no steps of it (yet)

        view.Apply([new KnnLogged { Sequence = 4, Stage = "lincls", Epoch = 0, Top1 = 30, Top5 = 70, IsBest = true, Protocol = "k=200" }, Started(5, "lincls")]);
        Assert.Equal(["search", "pretrain"], view.StepStages);
        Assert.Equal("pretrain", view.DefaultStepStage(active: true)); // lincls runs but has no steps yet

        view.Apply([Step(6, "lincls", 1, 2)]);
        Assert.Equal(["search", "pretrain", "lincls"], view.StepStages);
        Assert.Equal("lincls", view.DefaultStepStage(active: true));

        // One stage's lines only, named without the stage; the epoch series and the unfiltered lines as before.
        Assert.Equal([new ChartPoint(1, 9)], Assert.Single(view.LossLines("pretrain")).Points);
        Assert.Equal("loss", Assert.Single(view.LossLines("pretrain")).Name);
        Assert.Equal(["lr encoder"], view.LearningRateLines("search").Select(l => l.Name));
        Assert.Equal(["loss (search)", "loss (pretrain)", "loss (lincls)"], view.LossLines().Select(l => l.Name));
        Assert.Empty(view.Lines("std ratio", stage: "search"));
    }

    [Fact]
    public void StepStages_AreInPipelineOrder_AndAnEndedRunDefaultsToTheLastWithSteps()
    {
        // Whatever order the stages first wrote in; a stage the pipeline does not name goes after its stages.
        var mixed = new RunView();
        mixed.Apply([Step(0, "lincls", 1, 2), Step(1, "custom", 1, 1), Step(2, "search", 1, 5)]);
        Assert.Equal(["search", "lincls", "custom"], mixed.StepStages);

        var view = new RunView();
        view.Apply([Started(0, "search"), Step(1, "search", 1, 5), Started(2, "pretrain"), Step(3, "pretrain", 1, 9), Started(4, "lincls")]);
        Assert.Equal("pretrain", view.DefaultStepStage(active: false));
        Assert.Equal("pretrain", view.DefaultStepStage(active: true));
        view.Apply([Started(5, "search")]); // a resume that runs a search again: the running stage once more
        Assert.Equal("search", view.DefaultStepStage(active: true));
        Assert.Equal("pretrain", view.DefaultStepStage(active: false));
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

    // The runs list showed a pipeline's progress as "search 66%" then "pretrain 31%": the stage's place is named.
    [Fact]
    public void APipelinesStage_IsNamedWithItsPlace_OtherRunsStagesAsThey_Are()
    {
        Assert.Equal("pretrain (2 of 3)", RunView.StageLabel(NASiam.Core.Options.RunKind.Pipeline, "pretrain"));
        Assert.Equal("search (1 of 3)", RunView.StageLabel(NASiam.Core.Options.RunKind.Pipeline, "search"));
        Assert.Equal("pretrain", RunView.StageLabel(NASiam.Core.Options.RunKind.Pretrain, "pretrain"));
        Assert.Null(RunView.StageLabel(NASiam.Core.Options.RunKind.Pipeline, null));
    }
}

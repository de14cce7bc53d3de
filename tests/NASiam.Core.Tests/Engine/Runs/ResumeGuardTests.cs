using NASiam.Core.Engine.Checkpoints;
using NASiam.Core.Engine.Runs;
using NASiam.Core.Options;

namespace NASiam.Core.Tests.Engine.Runs;

public class ResumeGuardTests
{
    static RunOptions Base => RunPresets.ForFramework(Framework.MoCo) with { Kind = RunKind.Pipeline };

    static CheckpointState State(RunOptions saved, string stage, int epoch, bool completed, int stepInEpoch = 0) => new()
    {
        Stage = stage, Epoch = epoch, Step = epoch * 10L + stepInEpoch, StepInEpoch = stepInEpoch, Completed = completed, OptionsJson = saved.ToJson(),
    };

    [Fact]
    public void Compare_ListsEveryComputationField_AndIgnoresFreeFieldsAndOtherStages()
    {
        var saved = Base;
        var now = RunPresets.ForFramework(Framework.SimClr) with
        {
            Kind = RunKind.Search, Name = "renamed", Threads = 7, LogEverySteps = 9, MaxStepsPerStage = 3,
            Pretrain = saved.Pretrain with { Epochs = 5 }, // another stage's section
        };
        var changes = ResumeGuard.Compare(saved, now, "search");
        var paths = changes.Select(c => c.Path).ToList();
        Assert.Contains("framework", paths);
        Assert.Contains("heads.temperature", paths);
        Assert.DoesNotContain(paths, p => p is "name" or "kind" or "threads" or "logEverySteps" or "maxStepsPerStage" || p.StartsWith("pretrain.") || p.StartsWith("linear."));
        var temperature = changes.Single(c => c.Path == "heads.temperature");
        Assert.Equal("heads.temperature: 0.1 → 0.5", temperature.ToString());
        Assert.Empty(ResumeGuard.Compare(saved, saved with { Name = "x", Device = "cpu", CheckpointEveryEpochs = 4 }, "pretrain"));
    }

    [Fact]
    public void Check_RefusesOtherOptions_NamingEachField()
    {
        var saved = Base;
        var now = saved with { Framework = Framework.SimClr, Heads = saved.Heads with { Dim = 2048 } };
        var e = Assert.Throws<ResumeRefusedException>(() => ResumeGuard.Check("checkpoints/search.ckpt", State(saved, "search", 3, false), now));
        Assert.Equal(["framework", "heads.dim"], e.Changes.Select(c => c.Path));
        Assert.Contains("heads.dim: 128 → 2048", e.Message);
        Assert.Contains("checkpoints/search.ckpt", e.Message);
    }

    [Fact]
    public void Check_AMoCoSearchCheckpointFromBeforeTheSharedCell_IsRefusedByName()
    {
        // Written before Compat.MocoMomentumKeyCellInSearch existed: its key side is a momentum copy (projector_k).
        var saved = Base;
        var json = System.Text.Json.Nodes.JsonNode.Parse(saved.ToJson())!.AsObject();
        var compat = json["compat"]!.AsObject();
        Assert.True(compat.Remove("mocoMomentumKeyCellInSearch"));
        var old = State(saved, "search", 1, true) with { OptionsJson = json.ToJsonString() };
        var e = Assert.Throws<ResumeRefusedException>(() => ResumeGuard.Check("s", old, saved));
        Assert.Equal("compat.mocoMomentumKeyCellInSearch: true → false", Assert.Single(e.Changes).ToString());
        Assert.Null(ResumeGuard.Check("s", old, saved with { Compat = saved.Compat with { MocoMomentumKeyCellInSearch = true } }).Note);
        // A checkpoint that records the switch is taken at its word.
        Assert.Null(ResumeGuard.Check("s", State(saved, "search", 1, true), saved).Note);
    }

    [Fact]
    public void Check_MoreEpochsExtend_WithTheRecomputedScheduleInTheNote_FewerThanDoneAreRefused()
    {
        var saved = Base with { Pretrain = Base.Pretrain with { Epochs = 4 } };
        var state = State(saved, "pretrain", 4, completed: true);
        Assert.Null(ResumeGuard.Check("p", state, saved).Note);

        var plan = ResumeGuard.Check("p", state, saved with { Pretrain = saved.Pretrain with { Epochs = 8 } });
        Assert.True(plan.EpochsChanged);
        // Cosine: the old schedule ended at ½(1+cos(3π/4)) ≈ 0.1464 in its 4th epoch; the 5th of 8 runs at ½(1+cos(π/2)) = 0.5.
        Assert.Contains("pretrain.epochs 4 → 8: extending", plan.Note);
        Assert.Contains("recomputed over the new total of 8 epochs", plan.Note);
        Assert.Contains("epoch 5 runs at 0.5 ×", plan.Note);
        Assert.Contains("ended at 0.1464 in epoch 4", plan.Note);

        var e = Assert.Throws<ResumeRefusedException>(() => ResumeGuard.Check("p", state, saved with { Pretrain = saved.Pretrain with { Epochs = 3 } }));
        Assert.Contains("pretrain.epochs: 4 → 3 (fewer than the 4 epochs already done)", e.Message);
        // An unfinished stage stopped inside epoch 2 cannot end after 2 epochs.
        var partial = State(saved, "pretrain", 2, completed: false, stepInEpoch: 3);
        Assert.Throws<ResumeRefusedException>(() => ResumeGuard.Check("p", partial, saved with { Pretrain = saved.Pretrain with { Epochs = 2 } }));
        Assert.NotNull(ResumeGuard.Check("p", partial, saved with { Pretrain = saved.Pretrain with { Epochs = 3 } }).Note);
    }
}

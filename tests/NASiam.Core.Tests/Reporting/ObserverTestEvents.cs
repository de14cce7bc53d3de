using NASiam.Core.Reporting;

namespace NASiam.Core.Tests.Reporting;

static class ObserverTestEvents
{
    static readonly Guid Run = Guid.Parse("11111111-2222-3333-4444-555555555555");
    static readonly DateTimeOffset At = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);

    public static StepLogged Step(long step, double loss = 0.5) => new()
    {
        RunId = Run, Sequence = step, At = At, Stage = "search", Epoch = 0, Step = step, Loss = loss, ArchLoss = 0.25,
        LearningRates = new Dictionary<string, double> { ["encoder"] = 0.12, ["alpha"] = 0.001 },
    };

    public static StageStarted Started(long total) => new()
    {
        RunId = Run, Sequence = 0, At = At, Stage = "search", TotalEpochs = 2, TotalSteps = total, StepsPerEpoch = (int)(total / 2),
    };
}

/// <summary>One instance of every event type with every field set (NaN and null where a field allows them).</summary>
static class EveryEvent
{
    static readonly Guid Run = Guid.Parse("11111111-2222-3333-4444-555555555555");
    static readonly DateTimeOffset At = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);

    public static IReadOnlyList<TrainingEvent> All()
    {
        var cell = new CellAlphas("encoder", ["identity", "linear_relu"], [new AlphaLayer(0, [0.4, 0.6], "linear_relu", 0.67, 0.2)]);
        TrainingEvent[] list =
        [
            new RunStarted { Kind = "pipeline", ResumedFrom = "checkpoints/search.ckpt" },
            new StageStarted { TotalEpochs = 2, TotalSteps = 8, StepsPerEpoch = 4, ResumedAtStep = 4, Device = "cpu" },
            new StepLogged { Epoch = 1, Step = 5, Loss = double.NaN, ArchLoss = null, LearningRates = new Dictionary<string, double> { ["encoder"] = 0.1, ["alpha"] = 1e-3 } },
            new AlphasLogged { Epoch = 1, Step = 6, Cells = [cell], GenotypeText = "Genotype(x)" },
            new CollapseLogged { Epoch = 1, Step = 8, Output = "z", Dimension = 64, NormalizedStd = 0.1, StdRatio = 0.8, EffectiveRank = 12, Alignment = 0.5, Uniformity = double.NegativeInfinity, ProbeSize = 32 },
            new KnnLogged { Epoch = 1, Top1 = 12.5, Top5 = 50, Protocol = "k=20", IsBest = true },
            new ThroughputLogged { Epoch = 1, Step = 8, ImagesPerSecond = 100, DataSecondsPerStep = 0.01, ComputeSecondsPerStep = 0.2, RssMib = 812.4, PeakRssMib = 901.2 },
            new LinearEvalLogged { Epoch = 0, TrainLoss = double.PositiveInfinity, Top1 = 30, Top5 = 70, IsBest = false },
            new WarningRaised { Kind = "collapse", Message = "std ratio 0.05", Step = 8 },
            new CheckpointSaved { Name = "search", Path = "checkpoints/search.ckpt", Epoch = 2, Step = 8 },
            new LogMessage { Level = "info", Message = "resumed" },
            new GenotypeDerived { GenotypeText = "Genotype(y)" },
            new StageFinished { Outcome = RunOutcome.Cancelled, Message = null, Metrics = new Dictionary<string, double> { ["knn_top1"] = 12.5 } },
        ];
        return list.Select((e, i) => e with { RunId = Run, Sequence = i, At = At, Stage = e is RunStarted ? "run" : "search" }).ToArray();
    }
}

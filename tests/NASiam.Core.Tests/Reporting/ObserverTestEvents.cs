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

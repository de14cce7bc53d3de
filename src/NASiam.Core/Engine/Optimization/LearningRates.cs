using NASiam.Core.Options;

namespace NASiam.Core.Engine.Optimization;

/// <summary>
/// Learning-rate schedules of method doc 5.3, as pure functions of the epoch. The rate is set once
/// at the start of each epoch (0-based), never per step, as in the reference.
/// </summary>
public static class LearningRates
{
    /// <summary>The initial rate: the configured value, times batch/256 for <see cref="LrScaling.PerBatch256"/>.</summary>
    public static double Initial(double lr, LrScaling scaling, int batchSize) =>
        scaling == LrScaling.PerBatch256 ? lr * batchSize / 256.0 : lr;

    /// <summary>
    /// Multiplier of the initial rate at the start of <paramref name="epoch"/> of <paramref name="totalEpochs"/>:
    /// cosine ½(1 + cos(π·e/E)) (the last epoch never reaches zero), step ×0.1 at each milestone
    /// passed (<see cref="StepMilestones"/>), or 1 for constant.
    /// </summary>
    public static double Factor(LrSchedule schedule, int epoch, int totalEpochs)
    {
        if (totalEpochs < 1) throw new ArgumentOutOfRangeException(nameof(totalEpochs), "must be >= 1");
        if (epoch < 0) throw new ArgumentOutOfRangeException(nameof(epoch), "must be >= 0");
        return schedule switch
        {
            LrSchedule.Constant => 1.0,
            LrSchedule.Cosine => 0.5 * (1.0 + Math.Cos(Math.PI * epoch / totalEpochs)),
            LrSchedule.Step => StepMilestones(totalEpochs).Aggregate(1.0, (f, m) => epoch >= m ? f * 0.1 : f),
            _ => throw new ArgumentOutOfRangeException(nameof(schedule)),
        };
    }

    /// <summary>
    /// Epochs at which the step schedule multiplies by 0.1: the reference's 60 and 80 for runs of
    /// 90 epochs or more; shorter runs keep the same shape at 2/3 and 8/9 of the run (60/90, 80/90).
    /// </summary>
    public static IReadOnlyList<int> StepMilestones(int totalEpochs) =>
        totalEpochs >= 90
            ? [60, 80]
            : [Math.Max(1, (int)Math.Round(totalEpochs * 2.0 / 3.0)), Math.Max(1, (int)Math.Round(totalEpochs * 8.0 / 9.0))];
}

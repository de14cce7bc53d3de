using NASiam.Core.Engine.Optimization;
using NASiam.Core.Options;

namespace NASiam.Core.Tests.Engine.Optimization;

public class LearningRatesTests
{
    [Theory]
    [InlineData(0, 100, 1.0)]
    [InlineData(50, 100, 0.5)]
    [InlineData(25, 100, 0.8535533905932737)]
    [InlineData(99, 100, 0.00024671981713420)]
    public void Factor_Cosine_FollowsHalfCosinePerEpoch(int epoch, int total, double expected) =>
        Assert.Equal(expected, LearningRates.Factor(LrSchedule.Cosine, epoch, total), 10);

    [Fact]
    public void Factor_CosineLastEpoch_NeverReachesZero() =>
        Assert.True(LearningRates.Factor(LrSchedule.Cosine, 9, 10) > 0);

    [Theory]
    [InlineData(59, 1.0)]
    [InlineData(60, 0.1)]
    [InlineData(79, 0.1)]
    [InlineData(80, 0.01)]
    [InlineData(99, 0.01)]
    public void Factor_Step_DropsTenfoldAt60And80_WhenRunIsLong(int epoch, double expected) =>
        Assert.Equal(expected, LearningRates.Factor(LrSchedule.Step, epoch, 100), 12);

    [Fact]
    public void StepMilestones_ScaleToTwoThirdsAndEightNinths_WhenRunIsShort()
    {
        Assert.Equal([6, 8], LearningRates.StepMilestones(9));
        Assert.Equal([60, 80], LearningRates.StepMilestones(90));
        Assert.Equal(0.1, LearningRates.Factor(LrSchedule.Step, 6, 9), 12);
        Assert.Equal(1.0, LearningRates.Factor(LrSchedule.Step, 5, 9), 12);
    }

    [Fact]
    public void Factor_Constant_IsOne() => Assert.Equal(1.0, LearningRates.Factor(LrSchedule.Constant, 7, 10));

    [Fact]
    public void Initial_PerBatch256_ScalesByBatch()
    {
        Assert.Equal(0.12, LearningRates.Initial(0.06, LrScaling.PerBatch256, 512), 12);
        Assert.Equal(0.06, LearningRates.Initial(0.06, LrScaling.Absolute, 512), 12);
    }

    [Fact]
    public void Factor_Throws_WhenTotalIsZero() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => LearningRates.Factor(LrSchedule.Cosine, 0, 0));
}

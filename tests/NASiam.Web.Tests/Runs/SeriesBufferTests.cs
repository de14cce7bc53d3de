using NASiam.Web.Runs;

namespace NASiam.Web.Tests.Runs;

public class SeriesBufferTests
{
    [Theory]
    [InlineData(3, 10)]
    [InlineData(101, 100)]
    [InlineData(600, 4800)]
    [InlineData(600, 100_000)]
    public void Points_StayWithinTheBudget_InXOrder_KeepingExtremesAndTheLatestPoint(int budget, int count)
    {
        var s = new SeriesBuffer(budget);
        for (int i = 0; i < count; i++) s.Add(i, i == count / 3 ? 1000 : i == 2 * count / 3 ? -1000 : Math.Sin(i));
        var points = s.Points();
        Assert.InRange(points.Count, 1, budget);
        Assert.Equal(points.OrderBy(p => p.X).Select(p => p.X), points.Select(p => p.X));
        Assert.Contains(points, p => p.Y == 1000);   // a spike is never smoothed away
        Assert.Contains(points, p => p.Y == -1000);
        Assert.Equal(count - 1, points[^1].X);       // the newest value is always shown
        Assert.Equal(count > budget, s.Downsampled);
    }

    [Fact]
    public void NonFiniteValues_AreCountedNotDrawn()
    {
        var s = new SeriesBuffer(10);
        s.Add(0, 1); s.Add(1, double.NaN); s.Add(2, double.PositiveInfinity); s.Add(3, 2);
        Assert.Equal(2, s.NonFinite);
        Assert.Equal([0.0, 3.0], s.Points().Select(p => p.X));
    }
}

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

    [Fact]
    public void Snapshot_StablePrefix_DoesNotChangeUntilTheNextMerge()
    {
        var s = new SeriesBuffer(41);
        var rng = new Random(5);
        var before = s.Snapshot();
        int merges = 0;
        for (int i = 0; i < 2000; i++)
        {
            s.Add(i, rng.NextDouble());
            var now = s.Snapshot();
            Assert.Equal(s.Points(), now.Points);
            Assert.InRange(now.Points.Count - now.Stable, 1, 3); // only the newest bucket is live
            if (now.Generation == before.Generation)
                Assert.Equal(before.Points.Take(before.Stable), now.Points.Take(before.Stable)); // what a chart drew stays a prefix
            else merges += now.Generation - before.Generation; // one point can merge twice (budget → half → under it)
            Assert.True(now.Stable >= (now.Generation == before.Generation ? before.Stable : 0));
            before = now;
        }
        Assert.Equal(merges, s.Generation);
        Assert.True(merges >= 5);
    }
}

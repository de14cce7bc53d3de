using NASiam.Core.Search;
using static TorchSharp.torch;

namespace NASiam.Core.Tests.Search;

public class FeaturePoolTests
{
    static float[] Row(Tensor t, int row) => t[row].data<float>().ToArray();

    [Fact]
    public void Forward_AveragesThreeNeighbours_CountingZeroPaddingAtEdges()
    {
        using var x = tensor(new float[] { 3, 6, 9, 12, 1, 2, 4, 8 }).reshape(2, 4);
        using var pool = new FeaturePool(PoolKind.Average);
        using var y = pool.call(x);
        Assert.Equal(new long[] { 2, 4 }, y.shape);
        // Edges divide by 3 (zero padding counted), not 2; rows are pooled independently.
        Assert.Equal(new[] { (3 + 6) / 3f, (3 + 6 + 9) / 3f, (6 + 9 + 12) / 3f, (9 + 12) / 3f }, Row(y, 0), new FloatTolerance(1e-6f));
        Assert.Equal(new[] { 1f, 7 / 3f, 14 / 3f, 4f }, Row(y, 1), new FloatTolerance(1e-6f));
    }

    [Fact]
    public void Forward_TakesLocalMaximum_PaddingWithMinusInfinity()
    {
        using var x = tensor(new float[] { -5, -1, -7, -2, -9 }).reshape(1, 5);
        using var pool = new FeaturePool(PoolKind.Max);
        using var y = pool.call(x);
        // A zero pad would turn the negative edges into 0; −∞ keeps the real neighbours.
        Assert.Equal(new float[] { -1, -1, -1, -2, -2 }, Row(y, 0));
    }

    [Fact]
    public void Forward_Throws_WhenInputIsNeitherRowsNorStackedViews()
    {
        using var pool = new FeaturePool(PoolKind.Max);
        using var flat = zeros(4);
        using var image = zeros(2, 3, 4, 5);
        Assert.Contains("[N, D] or [N, views, D]", Assert.Throws<ArgumentException>(() => pool.call(flat)).Message);
        Assert.Contains("[N, D] or [N, views, D]", Assert.Throws<ArgumentException>(() => pool.call(image)).Message);
    }

    [Theory]
    [InlineData(PoolKind.Max)]
    [InlineData(PoolKind.Average)]
    public void Forward_PoolsEachStackedView_AsItsOwnRows(PoolKind kind)
    {
        manual_seed(3);
        using var x = randn(5, 2, 7);
        using var pool = new FeaturePool(kind);
        using var stacked = pool.call(x);
        Assert.Equal(new long[] { 5, 2, 7 }, stacked.shape);
        for (int v = 0; v < 2; v++)
        {
            using var alone = pool.call(x.select(1, v));
            Assert.True(stacked.select(1, v).eq(alone).all().item<bool>(), $"view {v}");
        }
    }
}

/// <summary>Element-wise float comparer with an absolute tolerance.</summary>
sealed class FloatTolerance(float tolerance) : IEqualityComparer<float>
{
    public bool Equals(float a, float b) => Math.Abs(a - b) <= tolerance;
    public int GetHashCode(float v) => 0;
}

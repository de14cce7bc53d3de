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
    public void Forward_Throws_WhenInputIsNotTwoDimensional()
    {
        using var x = zeros(2, 3, 4);
        using var pool = new FeaturePool(PoolKind.Max);
        Assert.Contains("2-D", Assert.Throws<ArgumentException>(() => pool.call(x)).Message);
    }
}

/// <summary>Element-wise float comparer with an absolute tolerance.</summary>
sealed class FloatTolerance(float tolerance) : IEqualityComparer<float>
{
    public bool Equals(float a, float b) => Math.Abs(a - b) <= tolerance;
    public int GetHashCode(float v) => 0;
}

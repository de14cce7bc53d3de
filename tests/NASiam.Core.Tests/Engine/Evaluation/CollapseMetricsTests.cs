using NASiam.Core.Engine;
using NASiam.Core.Engine.Evaluation;
using NASiam.Core.Engine.Runs;
using static TorchSharp.torch;

namespace NASiam.Core.Tests.Engine.Evaluation;

public class CollapseMetricsTests
{
    [Fact]
    public void Compute_HealthyGaussianEmbedding_HasStdRatioNearOneAndHighRank()
    {
        using var sc = new ScalarScope();
        manual_seed(0);
        var z1 = randn(2048, 32);
        var r = CollapseMetrics.Compute(z1, z1 + sc[0.01] * randn(2048, 32));
        Assert.InRange(r.StdRatio, 0.9, 1.1);
        Assert.True(r.EffectiveRank > 28, $"rank {r.EffectiveRank}");
        Assert.True(r.Alignment < 0.01, $"alignment {r.Alignment}");
        Assert.Equal(32, r.Dimension);
    }

    [Fact]
    public void Compute_RefusesNonFiniteEmbeddings_NamingTheView()
    {
        manual_seed(2);
        var z = randn(16, 8);
        var bad = z.clone();
        bad[4, 4] = tensor(float.NaN);
        var e = Assert.Throws<NonFiniteLossException>(() => CollapseMetrics.Compute(z, bad));
        Assert.Contains("1 of 128 values of the second view's embeddings are not finite", e.Message);
    }

    [Fact]
    public void Compute_CollapsedEmbedding_HasStdRatioNearZeroAndRankNearOne()
    {
        using var sc = new ScalarScope();
        // Every output is the same vector plus a tiny wobble along a single direction.
        manual_seed(1);
        var v = randn(1, 64);
        var w = randn(1, 64);
        var z = v + sc[1e-3] * randn(512, 1) * w;
        var r = CollapseMetrics.Compute(z, z);
        Assert.True(r.StdRatio < 0.01, $"ratio {r.StdRatio}");
        Assert.InRange(r.EffectiveRank, 1.0, 1.05);
        Assert.Equal(0.0, r.Alignment, 9);
        Assert.True(r.Uniformity > -0.01, $"uniformity {r.Uniformity}"); // all points together: log(1) = 0
    }

    [Fact]
    public void Compute_ConstantEmbedding_ReportsRankOne()
    {
        var z = ones(16, 8);
        var r = CollapseMetrics.Compute(z, z);
        Assert.Equal(0.0, r.StdRatio, 9);
        Assert.Equal(1.0, r.EffectiveRank);
    }

    [Fact]
    public void Compute_EffectiveRankCountsEqualDirections()
    {
        // Points spread equally over exactly 4 orthogonal axes (±): effective rank 4.
        var z = cat([eye(4), -eye(4)], 0).repeat(8, 1);
        z = cat([z, zeros(z.shape[0], 12)], 1);
        Assert.Equal(4.0, CollapseMetrics.Compute(z, z).EffectiveRank, 6);
    }

    [Fact]
    public void Compute_UniformityIsLowerForSpreadThanForClusteredPoints()
    {
        using var sc = new ScalarScope();
        manual_seed(2);
        var spread = randn(256, 16);
        var clustered = ones(256, 16) + sc[0.1] * randn(256, 16);
        Assert.True(CollapseMetrics.Compute(spread, spread).Uniformity < CollapseMetrics.Compute(clustered, clustered).Uniformity - 1);
    }

    [Fact]
    public void Compute_Throws_WhenShapesDiffer() =>
        Assert.Throws<ArgumentException>(() => CollapseMetrics.Compute(zeros(4, 3), zeros(5, 3)));
}

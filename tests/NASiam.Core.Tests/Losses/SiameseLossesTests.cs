using NASiam.Core.Engine;
using NASiam.Core.Losses;
using static TorchSharp.torch;

namespace NASiam.Core.Tests.Losses;

public class SiameseLossesTests
{
    static double Dot(double[] a, double[] b) => a.Zip(b).Sum(p => p.First * p.Second);
    static double[] Unit(params double[] v) { var n = Math.Sqrt(Dot(v, v)); return v.Select(x => x / n).ToArray(); }
    static Tensor T(double[][] rows) => tensor(rows.SelectMany(r => r).Select(v => (float)v).ToArray()).reshape(rows.Length, rows[0].Length);

    [Fact]
    public void SimSiam_IsMinusOne_WhenViewsIdentical()
    {
        using var sc = new ScalarScope();
        using var p = randn(4, 8);
        using var loss = SiameseLosses.SimSiam(p, p, p * sc[3], p * sc[2]); // cosine ignores scale
        Assert.Equal(-1f, loss.item<float>(), 5);
    }

    [Fact]
    public void SimSiam_OnStackedViews_PairsEachPredictionWithTheOtherViewsTarget()
    {
        using var scope = NewDisposeScope();
        var (p1, p2, z1, z2) = (randn(4, 8), randn(4, 8), randn(4, 8), randn(4, 8));
        var stacked = SiameseLosses.SimSiam(stack([p1, p2], 1), stack([z1, z2], 1));
        Assert.Equal(SiameseLosses.SimSiam(p1, p2, z1, z2).item<float>(), stacked.item<float>(), 6);
        Assert.NotEqual(SiameseLosses.SimSiam(p1, p2, z2, z1).item<float>(), stacked.item<float>(), 3); // not the same-view pairing
    }

    [Fact]
    public void NegativeCosine_StopsGradientToTarget()
    {
        using var p = randn(3, 5).requires_grad_();
        using var z = randn(3, 5).requires_grad_();
        using var loss = SiameseLosses.NegativeCosine(p, z);
        loss.backward();
        Assert.NotNull(p.grad);
        Assert.Null(z.grad);
    }

    [Fact]
    public void InfoNce_MatchesHandComputedCrossEntropy()
    {
        double[][] q = [Unit(1, 2, 0), Unit(0, 1, -1)];
        double[][] k = [Unit(1, 1, 1), Unit(-1, 0, 2)];
        double[][] queueColumns = [Unit(2, 0, 1), Unit(0, -1, 1), Unit(1, 1, -3)];
        const double temperature = 0.1;
        double expected = 0;
        for (int n = 0; n < 2; n++)
        {
            var logits = new[] { Dot(q[n], k[n]) }.Concat(queueColumns.Select(c => Dot(q[n], c))).Select(l => l / temperature).ToArray();
            expected += -logits[0] + Math.Log(logits.Sum(Math.Exp));
        }
        expected /= 2;
        using var queue = T(queueColumns).t();
        using var loss = SiameseLosses.InfoNce(T(q), T(k), queue, temperature);
        Assert.Equal(expected, loss.item<float>(), 3);
    }

    [Fact]
    public void NtXent_MatchesHandComputedValue()
    {
        double[][] a = [Unit(1, 0, 1), Unit(0, 2, 1), Unit(-1, 1, 0)];
        double[][] b = [Unit(1, 1, 1), Unit(0, 1, 0), Unit(-2, 1, 1)];
        const double temperature = 0.5;
        var all = a.Concat(b).ToArray();
        double expected = 0;
        for (int i = 0; i < 6; i++)
        {
            double positive = Math.Exp(Dot(a[i % 3], b[i % 3]) / temperature);
            double denominator = Enumerable.Range(0, 6).Where(j => j != i).Sum(j => Math.Exp(Dot(all[i], all[j]) / temperature));
            expected += -Math.Log(positive / denominator);
        }
        expected /= 6;
        using var loss = SiameseLosses.NtXent(T(a), T(b), temperature);
        Assert.Equal(expected, loss.item<float>(), 4);
    }

    [Fact]
    public void Losses_RejectBadArguments()
    {
        Assert.Throws<ArgumentException>(() => SiameseLosses.NtXent(zeros(2, 3), zeros(3, 3), 0.5));
        Assert.Throws<ArgumentException>(() => SiameseLosses.NtXent(zeros(2, 3), zeros(2, 3), 0));
        Assert.Throws<ArgumentException>(() => SiameseLosses.InfoNce(zeros(2, 3), zeros(2, 3), zeros(3, 4), -1));
    }
}

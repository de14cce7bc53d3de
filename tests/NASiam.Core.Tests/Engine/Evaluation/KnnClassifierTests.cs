using NASiam.Core.Engine;
using NASiam.Core.Engine.Evaluation;
using NASiam.Core.Engine.Runs;
using static TorchSharp.torch;

namespace NASiam.Core.Tests.Engine.Evaluation;

public class KnnClassifierTests
{
    /// <summary>Unit vectors along axis (label) with a little seeded noise: a class per axis.</summary>
    static (Tensor Features, Tensor Labels) Clusters(int perClass, int classes, int dim, double noise, int seed)
    {
        using var sc = new ScalarScope();
        manual_seed(seed);
        var labels = arange(sc[classes]).repeat_interleave(perClass);
        var features = nn.functional.one_hot(labels, dim).to(float32) + sc[noise] * randn(classes * perClass, dim);
        return (nn.functional.normalize(features, dim: 1), labels);
    }

    [Theory]
    [InlineData(KnnWeighting.Similarity)]
    [InlineData(KnnWeighting.ExpTemperature)]
    public void Evaluate_ClassifiesSeparatedClustersPerfectly(KnnWeighting weighting)
    {
        var (bank, bankLabels) = Clusters(30, 6, 16, 0.05, 1);
        var (queries, queryLabels) = Clusters(10, 6, 16, 0.05, 2);
        var acc = KnnClassifier.Evaluate(bank, bankLabels, queries, queryLabels, 6, new KnnProtocol(20, weighting, 0.1), chunk: 7);
        Assert.Equal(100.0, acc.Top1);
        Assert.Equal(100.0, acc.Top5);
    }

    [Fact]
    public void Evaluate_RefusesNonFiniteFeatures_NamingBankOrQueries()
    {
        var (bank, bankLabels) = Clusters(5, 3, 4, 0.05, 1);
        var (queries, queryLabels) = Clusters(2, 3, 4, 0.05, 2);
        var protocol = new KnnProtocol(3, KnnWeighting.Similarity, 1);
        var nanBank = bank.clone();
        nanBank[7, 1] = tensor(float.NaN);
        nanBank[9] = tensor(float.PositiveInfinity);
        var e = Assert.Throws<NonFiniteLossException>(() => KnnClassifier.Evaluate(nanBank, bankLabels, queries, queryLabels, 3, protocol));
        Assert.Contains("2 of 15 bank features (train split) are not finite (NaN or infinite), the first at row 7", e.Message);
        var nanQueries = queries.clone();
        nanQueries[0, 0] = tensor(float.NaN);
        e = Assert.Throws<NonFiniteLossException>(() => KnnClassifier.Evaluate(bank, bankLabels, nanQueries, queryLabels, 3, protocol));
        Assert.Contains("1 of 6 query features (test split)", e.Message);
    }

    [Fact]
    public void Evaluate_WeightedVoteBeatsMajority_WithKnownAnswer()
    {
        // Query (1,0). Neighbours: one class-0 point at similarity 1.0, two class-1 points at 0.6.
        // Raw similarity votes 1.0 vs 1.2 -> class 1; exp(sim/0.1) votes e^10 vs 2e^6 -> class 0.
        var bank = tensor(new float[,] { { 1, 0 }, { 0.6f, 0.8f }, { 0.6f, -0.8f } });
        var bankLabels = tensor(new long[] { 0, 1, 1 });
        var query = tensor(new float[,] { { 1, 0 } });
        var truth = tensor(new long[] { 0 });
        Assert.Equal(0.0, KnnClassifier.Evaluate(bank, bankLabels, query, truth, 2, new KnnProtocol(3, KnnWeighting.Similarity, 1)).Top1);
        Assert.Equal(100.0, KnnClassifier.Evaluate(bank, bankLabels, query, truth, 2, new KnnProtocol(3, KnnWeighting.ExpTemperature, 0.1)).Top1);
    }

    [Fact]
    public void Evaluate_Top5CountsTheTrueClassAmongFiveBest()
    {
        using var sc = new ScalarScope();
        // 10 classes on 10 axes; each query sits between its true axis and a closer wrong axis.
        var bank = eye(10);
        var bankLabels = arange(sc[10]);
        var queries = nn.functional.normalize(eye(10) * sc[0.8] + eye(10).roll(1, 1), dim: 1);
        var acc = KnnClassifier.Evaluate(bank, bankLabels, queries, arange(sc[10]), 10, new KnnProtocol(10, KnnWeighting.Similarity, 1));
        Assert.Equal(0.0, acc.Top1);
        Assert.Equal(100.0, acc.Top5);
    }

    [Fact]
    public void Evaluate_Throws_WhenDimensionsDiffer() =>
        Assert.Throws<ArgumentException>(() => KnnClassifier.Evaluate(zeros(3, 4), zeros(3, dtype: ScalarType.Int64), zeros(2, 5), zeros(2, dtype: ScalarType.Int64), 2, new KnnProtocol(2, KnnWeighting.Similarity, 1)));

    [Fact]
    public void Protocol_For_UsesRawSimilarityForSimSiamAndTemperatureOtherwise()
    {
        Assert.Equal(KnnWeighting.Similarity, KnnProtocol.For(Framework.SimSiam, 200, 0.1).Weighting);
        var moco = KnnProtocol.For(Framework.MoCo, 200, 0.1);
        Assert.Equal((KnnWeighting.ExpTemperature, 0.1), (moco.Weighting, moco.Temperature));
        Assert.Contains("exp(sim/0.5)", KnnProtocol.For(Framework.SimClr, 200, 0.5).ToString());
    }
}

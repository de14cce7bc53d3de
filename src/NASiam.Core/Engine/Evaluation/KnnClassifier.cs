using NASiam.Core.Engine.Runs;
using static TorchSharp.torch;

namespace NASiam.Core.Engine.Evaluation;

/// <summary>How a neighbour's vote is weighted (method doc 6.4).</summary>
public enum KnnWeighting
{
    /// <summary>The raw cosine similarity (SimSiam).</summary>
    Similarity,
    /// <summary>exp(similarity / T) (MoCo T = 0.1, SimCLR T = 0.5).</summary>
    ExpTemperature,
}

/// <summary>The kNN protocol: k, weighting and temperature. <see cref="ToString"/> is the protocol text events carry.</summary>
public sealed record KnnProtocol(int K, KnnWeighting Weighting, double Temperature)
{
    /// <summary>The reference protocol of a framework: SimSiam raw similarity; MoCo/SimCLR exp(sim/T) with the model's T.</summary>
    public static KnnProtocol For(Framework framework, int k, double temperature) =>
        framework == Framework.SimSiam
            ? new KnnProtocol(k, KnnWeighting.Similarity, 1.0)
            : new KnnProtocol(k, KnnWeighting.ExpTemperature, temperature);

    public override string ToString() =>
        Weighting == KnnWeighting.Similarity ? $"k={K}, weight=cosine similarity" : $"k={K}, weight=exp(sim/{Temperature:0.###})";
}

/// <summary>Top-1 and top-5 accuracy in percent.</summary>
public readonly record struct Accuracy(double Top1, double Top5);

/// <summary>
/// Weighted kNN classification on L2-normalised features (method doc 6.4): cosine similarity as a
/// dot product, the k nearest bank entries vote for their label with the protocol's weight, the
/// class with the largest summed weight wins. Computed in query chunks to bound memory.
/// </summary>
public static class KnnClassifier
{
    /// <summary>
    /// Accuracy of <paramref name="queries"/> [M,D] against <paramref name="bank"/> [N,D] (both
    /// L2-normalised, same device) with int64 labels [N] and [M] in [0, classes).
    /// k is clamped to N; top-5 is clamped to the class count. Throws <see cref="NonFiniteLossException"/>
    /// naming the bank or the queries when a feature is NaN or infinite (NaN similarities rank
    /// arbitrarily and would give a chance-level accuracy silently).
    /// </summary>
    public static Accuracy Evaluate(Tensor bank, Tensor bankLabels, Tensor queries, Tensor queryLabels, int classes,
        KnnProtocol protocol, int chunk = 512)
    {
        using var sc = new ScalarScope();
        if (bank.dim() != 2 || queries.dim() != 2 || bank.shape[1] != queries.shape[1])
            throw new ArgumentException($"kNN needs [N,D] bank and [M,D] queries with the same D; got [{string.Join(",", bank.shape)}] and [{string.Join(",", queries.shape)}].");
        if (classes < 1) throw new ArgumentException("kNN needs at least one class.");
        RequireFiniteRows(bank, "bank features (train split)");
        RequireFiniteRows(queries, "query features (test split)");
        int k = (int)Math.Min(protocol.K, bank.shape[0]);
        int top = Math.Min(5, classes);
        long m = queries.shape[0];
        long correct1 = 0, correct5 = 0;
        using var _ = no_grad();
        for (long start = 0; start < m; start += chunk)
        {
            using var scope = NewDisposeScope();
            long len = Math.Min(chunk, m - start);
            var q = queries.narrow(0, start, len);
            var truth = queryLabels.narrow(0, start, len).to(bank.device).unsqueeze(1);
            var sim = q.matmul(bank.t());                         // [len, N]
            var (weights, indices) = sim.topk(k, dim: 1);          // [len, k]
            var neighbourLabels = bankLabels.to(bank.device).index_select(0, indices.flatten()).view(len, k);
            if (protocol.Weighting == KnnWeighting.ExpTemperature) weights = (weights / sc[protocol.Temperature]).exp();
            var scores = zeros(len, classes, dtype: weights.dtype, device: bank.device)
                .scatter_add_(1, neighbourLabels, weights);        // class score = sum of its neighbours' weights
            var ranked = scores.argsort(dim: 1, descending: true).narrow(1, 0, top);
            var hits = ranked.eq(truth);
            correct1 += hits.narrow(1, 0, 1).sum().ItemInt64();
            correct5 += hits.any(1).sum().ItemInt64();
        }
        return new Accuracy(100.0 * correct1 / m, 100.0 * correct5 / m);
    }

    static void RequireFiniteRows(Tensor features, string what)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var badRows = features.isfinite().all(1).logical_not();
        var count = badRows.sum().ItemInt64();
        if (count == 0) return;
        var first = badRows.nonzero()[0, 0].ItemInt64();
        throw new NonFiniteLossException($"kNN monitor: {count} of {features.shape[0]} {what} are not finite (NaN or infinite), the first at row {first}; the model's eval-mode output has diverged (check its BatchNorm running statistics).");
    }
}

using NASiam.Core.Engine.Runs;
using static TorchSharp.torch;

namespace NASiam.Core.Engine.Evaluation;

/// <summary>Collapse diagnostics of one embedding batch (see <see cref="CollapseMetrics.Compute"/>).</summary>
/// <param name="Dimension">d, the embedding width.</param>
/// <param name="NormalizedStd">Mean over dimensions of the per-dimension std of the l2-normalised outputs.</param>
/// <param name="StdRatio">NormalizedStd · sqrt(d): about 1 when spread on the sphere, 0 when collapsed.</param>
/// <param name="EffectiveRank">exp(entropy of the normalised covariance eigenvalues), in [1, d].</param>
/// <param name="Alignment">Mean squared distance between the two views' normalised outputs.</param>
/// <param name="Uniformity">log mean exp(-2·squared distance) over distinct pairs of the first view.</param>
public sealed record CollapseReport(int Dimension, double NormalizedStd, double StdRatio, double EffectiveRank, double Alignment, double Uniformity);

/// <summary>
/// Representation-collapse metrics on a fixed probe batch: the SimSiam paper's per-dimension std
/// of normalised outputs, effective rank (Roy and Vetterli 2007), and alignment/uniformity
/// (Wang and Isola 2020). Computed in float64 so tiny variances are not lost.
/// </summary>
public static class CollapseMetrics
{
    /// <summary>
    /// Metrics of <paramref name="view1"/> and <paramref name="view2"/>, the embeddings [N,d] of the
    /// two views of the same N images (N ≥ 2). A batch with (numerically) zero variance has effective
    /// rank reported as 1: all its mass is in at most one direction. Throws
    /// <see cref="NonFiniteLossException"/> naming the view when an embedding holds NaN or infinity,
    /// and naming the metric when one comes out non-finite.
    /// </summary>
    public static CollapseReport Compute(Tensor view1, Tensor view2)
    {
        using var sc = new ScalarScope();
        if (view1.dim() != 2 || !view1.shape.SequenceEqual(view2.shape) || view1.shape[0] < 2)
            throw new ArgumentException($"Collapse metrics need two [N,d] batches of the same shape with N >= 2; got [{string.Join(",", view1.shape)}] and [{string.Join(",", view2.shape)}].");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        int d = (int)view1.shape[1];
        foreach (var (view, name) in new[] { (view1, "first"), (view2, "second") })
        {
            var bad = view.isfinite().logical_not().sum().ItemInt64();
            if (bad > 0)
                throw new NonFiniteLossException($"Collapse metrics: {bad} of {view.numel()} values of the {name} view's embeddings are not finite (NaN or infinite); the model's eval-mode output has diverged (check its BatchNorm running statistics).");
        }
        var n1 = nn.functional.normalize(view1.to(float64), dim: 1);
        var n2 = nn.functional.normalize(view2.to(float64), dim: 1);

        double std = n1.std(0, unbiased: true).mean().ItemDouble();

        var centred = n1 - n1.mean([0], keepdim: true);
        var cov = centred.t().matmul(centred) / (sc[n1.shape[0] - 1]);
        var eig = linalg.eigvalsh(cov).clamp_min(sc[0]);
        double total = eig.sum().ItemDouble();
        double rank = 1.0;
        if (total > 1e-12)
        {
            var p = eig / sc[total];
            var plogp = where(p > sc[0], p * p.clamp_min(sc[1e-300]).log(), zeros_like(p));
            rank = Math.Exp(-plogp.sum().ItemDouble());
        }

        double alignment = (n1 - n2).pow(sc[2]).sum(1).mean().ItemDouble();

        var sq = cdist(n1, n1).pow(sc[2]);
        long n = n1.shape[0];
        var offDiagonal = ones(n, n, dtype: ScalarType.Bool).triu(1);
        double uniformity = Math.Log(sq.masked_select(offDiagonal).mul(sc[-2]).exp().mean().ItemDouble());

        foreach (var (value, name) in new[] { (std, "normalised std"), (rank, "effective rank"), (alignment, "alignment"), (uniformity, "uniformity") })
            if (!double.IsFinite(value))
                throw new NonFiniteLossException($"Collapse metrics: {name} is {value} on finite embeddings.");
        return new CollapseReport(d, std, std * Math.Sqrt(d), rank, alignment, uniformity);
    }
}

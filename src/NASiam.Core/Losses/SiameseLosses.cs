using NASiam.Core.Engine;
using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Losses;

/// <summary>
/// The three self-supervised losses as pure functions (method doc 4). Inputs are [N, C] on any
/// device; results are scalars on the same device. Nothing here keeps state.
/// </summary>
public static class SiameseLosses
{
    /// <summary>
    /// SimSiam's negative cosine D(p, z) = −mean_n cos(p_n, sg(z_n)) with cosine eps 1e-8; the
    /// target z is detached (stop-gradient).
    /// </summary>
    public static Tensor NegativeCosine(Tensor p, Tensor z) =>
        -nn.functional.cosine_similarity(p, z.detach(), dim: 1, eps: 1e-8).mean();

    /// <summary>Symmetric SimSiam loss ½ [D(p1, z2) + D(p2, z1)]; −1 at perfect agreement.</summary>
    public static Tensor SimSiam(Tensor p1, Tensor p2, Tensor z1, Tensor z2) =>
        NegativeCosine(p1, z2).add(NegativeCosine(p2, z1), Scalars.One).mul(Scalars.Half);

    /// <summary><see cref="SimSiam(Tensor, Tensor, Tensor, Tensor)"/> on both views stacked: p, z [N, 2, C], view v at [:, v].</summary>
    public static Tensor SimSiam(Tensor p, Tensor z) => SimSiam(p.select(1, 0), p.select(1, 1), z.select(1, 0), z.select(1, 1));

    /// <summary>
    /// MoCo's InfoNCE for one direction: logits = [q·k, q·queue] / T ([N, 1+K]), cross-entropy
    /// with target class 0 (the positive). q, k: [N, C] L2-normalised; queue: [C, K] (used as
    /// given, detached: negatives carry no gradient). k is detached too (keys get no gradient).
    /// </summary>
    public static Tensor InfoNce(Tensor q, Tensor k, Tensor queue, double temperature)
    {
        CheckTemperature(temperature);
        var positive = (q * k.detach()).sum(1, keepdim: true);
        var negative = q.matmul(queue.detach());
        using var t = temperature.ToScalar(); // explicit: an implicit Scalar may be finalized during the call
        var logits = cat([positive, negative], 1).div(t);
        var targets = zeros(q.size(0), dtype: int64, device: q.device);
        return nn.functional.cross_entropy(logits, targets);
    }

    /// <summary>
    /// SimCLR's NT-Xent (method doc 4.3). out1, out2: [B, C], L2-normalised projections of the
    /// two views. With O = [out1; out2] and S = O·Oᵀ / T, each of the 2B rows scores
    /// −log(exp(S_pos) / Σ_{j≠i} exp(S_ij)); the positive stays in the denominator and the
    /// self-similarity is removed. Computed with log-sum-exp (same value, no overflow).
    /// </summary>
    public static Tensor NtXent(Tensor out1, Tensor out2, double temperature)
    {
        CheckTemperature(temperature);
        // size(d), not shape: each shape read leaves a native callback thunk until the next GC (ConvCall).
        if (out1.dim() != out2.dim() || Enumerable.Range(0, (int)out1.dim()).Any(d => out1.size(d) != out2.size(d)))
            throw new ArgumentException($"NT-Xent needs two views of the same shape, got [{string.Join(", ", out1.shape)}] and [{string.Join(", ", out2.shape)}].");
        long b = out1.size(0);
        var all = cat([out1, out2], 0);
        using var t = temperature.ToScalar(); // explicit: an implicit Scalar may be finalized during the call
        using var minusInfinity = double.NegativeInfinity.ToScalar();
        var logits = all.matmul(all.t()).div(t);
        var self = eye(2 * b, dtype: @bool, device: all.device);
        logits = logits.masked_fill(self, minusInfinity);
        var positive = (out1 * out2).sum(1).div(t);
        var positives = cat([positive, positive], 0);
        return (logits.logsumexp(1) - positives).mean();
    }

    static void CheckTemperature(double temperature)
    {
        if (!(temperature > 0)) throw new ArgumentException($"The temperature must be positive, got {temperature}.");
    }
}

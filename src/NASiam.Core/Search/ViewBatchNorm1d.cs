using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NASiam.Core.Search;

/// <summary>
/// BatchNorm1d for the siamese heads that can also normalise both views in one call. A 2-D input
/// [N, C] is PyTorch's BatchNorm1d exactly. A 3-D input [N, V, C] holds V views of the same N
/// images stacked on dim 1 (the heads' view-batched path): in training each view is normalised with
/// its own batch statistics, and the running statistics end as if V BatchNorm1d calls had run one
/// view after the other (the reference calls the heads once per view, method doc 4.1); in eval mode
/// every row uses the running statistics. Why: one call over [N, V·C] instead of V calls halves the
/// heads' small ops, and the Linear layers around it see one [N·V, C] GEMM per layer.
/// State-dict keys as torch.nn.BatchNorm1d: weight, bias (affine only), running_mean, running_var,
/// num_batches_tracked. Momentum is PyTorch's (new = (1 − m)·old + m·batch; unbiased batch variance).
/// </summary>
public sealed class ViewBatchNorm1d : nn.Module<Tensor, Tensor>
{
    // Named as the registered tensors: Module.to(device/dtype) replaces them and updates these fields
    // by name (as in TorchSharp's own modules).
    Parameter? weight, bias;
    Tensor running_mean, running_var, num_batches_tracked;

    /// <summary>Channels C.</summary>
    public long NumFeatures { get; }
    /// <summary>Added to the variance before the square root.</summary>
    public double Eps { get; }
    /// <summary>Running-statistics momentum m (PyTorch's convention).</summary>
    public double Momentum { get; }

    /// <summary>γ [C] (null when not affine).</summary>
    public Parameter? Weight => weight;
    /// <summary>β [C] (null when not affine).</summary>
    public Parameter? Bias => bias;
    /// <summary>Running mean [C].</summary>
    public Tensor RunningMean => running_mean;
    /// <summary>Running (unbiased) variance [C].</summary>
    public Tensor RunningVar => running_var;
    /// <summary>Training forward calls so far (a view counts as one call), int64 scalar.</summary>
    public Tensor NumBatchesTracked => num_batches_tracked;

    public ViewBatchNorm1d(long features, double eps = 1e-5, double momentum = 0.1, bool affine = true) : base("BatchNorm1d")
    {
        if (features < 1) throw new ArgumentException($"BatchNorm1d needs at least one feature, got {features}.");
        NumFeatures = features;
        Eps = eps;
        Momentum = momentum;
        if (affine)
        {
            weight = new Parameter(ones(features));
            bias = new Parameter(zeros(features));
            register_parameter(nameof(weight), weight);
            register_parameter(nameof(bias), bias);
        }
        running_mean = zeros(features);
        running_var = ones(features);
        num_batches_tracked = tensor(0L);
        register_buffer(nameof(running_mean), running_mean);
        register_buffer(nameof(running_var), running_var);
        register_buffer(nameof(num_batches_tracked), num_batches_tracked);
    }

    /// <summary>x: [N, C] or [N, V, C] (V views) → the same shape.</summary>
    /// <exception cref="ArgumentException">Another rank, or a last dimension other than C.</exception>
    public override Tensor forward(Tensor x)
    {
        if ((x.dim() != 2 && x.dim() != 3) || x.size(-1) != NumFeatures)
            throw new ArgumentException($"BatchNorm1d({NumFeatures}) expects [N, {NumFeatures}] or [N, views, {NumFeatures}], got [{string.Join(", ", x.shape)}].");
        var (w, b, mean, variance) = (weight, bias, running_mean, running_var);
        if (x.dim() == 2)
        {
            if (training) num_batches_tracked.add_(Engine.Scalars.OneInt64, Engine.Scalars.OneInt64);
            return nn.functional.batch_norm(x, mean, variance, w, b, training, Momentum, Eps);
        }
        long n = x.size(0), views = x.size(1);
        if (!training)
        {
            using var rows = x.reshape(n * views, NumFeatures);
            using var y = nn.functional.batch_norm(rows, mean, variance, w, b, false, Momentum, Eps);
            return y.view(n, views, NumFeatures);
        }
        using var scope = NewDisposeScope();
        // [N, V·C]: channel v·C + c is channel c of view v, so per-channel statistics are per view.
        var wide = x.reshape(n, views * NumFeatures);
        var meanRuns = mean.repeat(views);
        var varRuns = variance.repeat(views);
        var output = nn.functional.batch_norm(wide, meanRuns, varRuns, w?.repeat(views), b?.repeat(views), true, Momentum, Eps)
            .view(n, views, NumFeatures);
        using (no_grad())
        {
            // Each view's update is a_v = (1 − m)·r0 + m·μ_v; sequential updates give r_0 = a_0 and
            // r_v = (1 − m)·r_(v−1) + (a_v − (1 − m)·r0).
            using var keep = (1.0 - Momentum).ToScalar();
            SequentialUpdate(mean, meanRuns.view(views, NumFeatures), keep);
            SequentialUpdate(variance, varRuns.view(views, NumFeatures), keep);
            using var v = views.ToScalar();
            num_batches_tracked.add_(v, Engine.Scalars.OneInt64);
        }
        return output.MoveToOuterDisposeScope();
    }

    static void SequentialUpdate(Tensor running, Tensor perView, Scalar keep)
    {
        var decayed = running.mul(keep);
        var result = perView[0];
        for (long v = 1; v < perView.size(0); v++)
            result = result.mul(keep).add_(perView[v], Engine.Scalars.One).sub_(decayed);
        running.copy_(result);
    }

    protected override void RegisterComponents() { }
}

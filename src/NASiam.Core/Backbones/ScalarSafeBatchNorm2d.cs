using NASiam.Core.Engine;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NASiam.Core.Backbones;

/// <summary>
/// torch.nn.BatchNorm2d ([N, C, H, W] → [N, C, H, W]; the same parameters, buffers, state-dict keys
/// and arithmetic as TorchSharp's <see cref="BatchNorm2d"/>) whose training forward makes no native
/// Scalar. TorchSharp 0.107's forward counts the batch with <c>num_batches_tracked.add_(1)</c>, which
/// makes two native Scalars (the 1 and the implicit alpha of <c>add_(Scalar)</c>) that only the
/// finalizer frees. Over a MoCo ResNet-18 search that was ~450 Scalars a step; their small blocks,
/// allocated between one step's freed activations, fragment glibc's heap so that RSS grew by
/// ~100 MiB a step until a GC ran the finalizers (bench/README.md, eleventh session). This forward
/// adds the engine's static int64 one with an explicit alpha instead.
/// </summary>
public sealed class ScalarSafeBatchNorm2d : BatchNorm
{
    /// <summary>BatchNorm2d(<paramref name="features"/>), PyTorch's defaults: eps 1e-5, momentum 0.1, affine, tracked statistics.</summary>
    /// <exception cref="ArgumentException"><paramref name="features"/> &lt; 1.</exception>
    public ScalarSafeBatchNorm2d(long features, double eps = 1e-5, double momentum = 0.1)
        : base(features >= 1 ? features : throw new ArgumentException($"BatchNorm2d needs at least one channel, got {features}."),
               eps, momentum, affine: true, track_running_stats: true, device: null, dtype: null, name: "BatchNorm2d")
    {
    }

    /// <inheritdoc />
    protected override void ValidateInputDimensions(Tensor input)
    {
        if (input.ndim != 4) throw new ArgumentException($"BatchNorm2d expects a 4-D input [N, C, H, W], got {input.ndim}-D.");
    }

    /// <summary>PyTorch's _BatchNorm.forward with a fixed momentum (the only kind this class builds).</summary>
    public override Tensor forward(Tensor input)
    {
        ValidateInputDimensions(input);
        double factor = momentum ?? 0.0;
        if (training && track_running_stats && num_batches_tracked is { } count)
        {
            count.add_(Engine.Scalars.OneInt64, Engine.Scalars.OneInt64);
            if (momentum is null) factor = 1.0 / count.ItemInt64();
        }
        bool useRunning = !training || track_running_stats;
        bool batchStats = training || (running_mean is null && running_var is null);
        return nn.functional.batch_norm(input, useRunning ? running_mean : null, useRunning ? running_var : null, weight, bias, batchStats, factor, eps);
    }
}

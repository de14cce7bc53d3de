using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Search;

/// <summary>Which 1-D pooling a <see cref="FeaturePool"/> applies.</summary>
public enum PoolKind { Max, Average }

/// <summary>
/// 1-D pooling along the feature axis of each sample (method doc 2.3): kernel 3, stride 1,
/// padding 1, so [N, D] → [N, D] (or [N, V, D] → [N, V, D] for V stacked views). Samples are
/// never mixed: the input is viewed as [rows, 1, D].
/// Average pooling counts the zero padding (edge feature = (x0 + x1) / 3, PyTorch's
/// count_include_pad default); max pooling pads with −∞. No parameters; any device.
/// </summary>
public sealed class FeaturePool : nn.Module<Tensor, Tensor>
{
    /// <summary>The pooling this module applies.</summary>
    public PoolKind Kind { get; }

    /// <summary>Creates a parameter-free k3 s1 p1 pool over the feature axis.</summary>
    public FeaturePool(PoolKind kind) : base(kind == PoolKind.Max ? "MaxPool1d" : "AvgPool1d") => Kind = kind;

    /// <summary>x: [N, D] or [N, V, D] → the same shape.</summary>
    public override Tensor forward(Tensor x)
    {
        if (x.dim() == 3)
        {
            // size(d), not shape: each shape read leaves a native callback thunk until the next GC (ConvCall).
            long n = x.size(0), views = x.size(1), d = x.size(2);
            using var rows = x.reshape(n * views, d);
            using var pooledRows = forward(rows);
            return pooledRows.view(n, views, d);
        }
        if (x.dim() != 2)
            throw new ArgumentException($"Feature pooling expects a [N, D] or [N, views, D] tensor, got shape [{string.Join(", ", x.shape)}].");
        using var batched = x.unsqueeze(1);
        using var pooled = Kind == PoolKind.Max
            ? nn.functional.max_pool1d(batched, kernel_size: 3, stride: 1, padding: 1)
            : nn.functional.avg_pool1d(batched, kernel_size: 3, stride: 1, padding: 1, count_include_pad: true);
        return pooled.squeeze(1);
    }
}

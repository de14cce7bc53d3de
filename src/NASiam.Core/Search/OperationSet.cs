using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Search;

/// <summary>
/// Builds the seven candidate operations of one framework (method doc 2.1, 2.2). What an op is
/// depends on (in, out): reduction (in &gt; out) and equal-width layers put BN and an activation
/// after a bias-free Linear, while expansion layers (in &lt; out) are a plain Linear with bias
/// (the reference drops BN on the predictor output for stability). Modules are nested exactly as
/// the reference's nn.Sequential so that state-dict keys match it ("0.weight", "3.1.running_mean").
/// Built on the CPU with PyTorch's default inits; the caller moves the model to its device.
/// </summary>
public sealed class OperationSet
{
    /// <summary>The framework whose column order (and, with the compat flag, MoCo wrapper) is used.</summary>
    public Framework Framework { get; }

    /// <summary>
    /// D1 compatibility: MoCo's linear ops with in ≥ out become Lin(b) → BN(in_dim, eps = out_dim) → act,
    /// as in the reference (the released MoCo genotypes were searched this way). Off by default.
    /// </summary>
    public bool MocoReferenceBatchNorm { get; }

    /// <summary>Alpha column order: op names in the order of the framework's alpha columns.</summary>
    public IReadOnlyList<string> Columns { get; }

    public OperationSet(Framework framework, bool mocoReferenceBatchNorm = false)
    {
        Framework = framework;
        MocoReferenceBatchNorm = mocoReferenceBatchNorm && framework == Framework.MoCo;
        Columns = OperationNames.For(framework);
    }

    /// <summary>Creates operation <paramref name="name"/> mapping [N, inDim] → [N, outDim].</summary>
    public nn.Module<Tensor, Tensor> Create(string name, int inDim, int outDim)
    {
        if (inDim < 1 || outDim < 1)
            throw new ArgumentException($"Operation '{name}' needs positive widths, got {inDim}→{outDim}.");
        return name switch
        {
            OperationNames.MaxPool => Wrap(inDim, outDim, Seq(new FeaturePool(PoolKind.Max), new ViewBatchNorm1d(outDim))),
            OperationNames.AvgPool => Wrap(inDim, outDim, Seq(new FeaturePool(PoolKind.Average), new ViewBatchNorm1d(outDim))),
            OperationNames.Identity => Wrap(inDim, outDim, null),
            OperationNames.LinearRelu => LinearOp(inDim, outDim, nn.ReLU()),
            OperationNames.LinearSilu => LinearOp(inDim, outDim, nn.SiLU()),
            OperationNames.LinearHardswish => LinearOp(inDim, outDim, nn.Hardswish()),
            OperationNames.LinearElu => LinearOp(inDim, outDim, new ScalarSafeElu()),
            _ => throw new ArgumentException(
                $"Unknown operation '{name}'. Valid operations: {string.Join(", ", Columns)}."),
        };
    }

    /// <summary>
    /// Pooling / identity wrapper (method doc 2.2): reduction Lin(nb)-BN-ReLU-op, expansion Lin(b)-op,
    /// equal widths: the op alone. For identity the reference's op is an nn.Identity inside the same
    /// Sequential, so an expanding identity is Sequential(Lin(b), Identity) with keys "0.weight" and
    /// "0.bias" (not a bare Linear, whose keys "weight"/"bias" do not load into the reference); a
    /// reducing identity is Sequential(Lin, BN, ReLU), whose keys equal the reference's
    /// Sequential(Lin, BN, ReLU, Identity) because the trailing Identity holds nothing.
    /// </summary>
    static nn.Module<Tensor, Tensor> Wrap(int inDim, int outDim, nn.Module<Tensor, Tensor>? op)
    {
        if (inDim > outDim)
            return op is null
                ? Seq(nn.Linear(inDim, outDim, hasBias: false), new ViewBatchNorm1d(outDim), nn.ReLU())
                : Seq(nn.Linear(inDim, outDim, hasBias: false), new ViewBatchNorm1d(outDim), nn.ReLU(), op);
        if (inDim < outDim)
            return Seq(nn.Linear(inDim, outDim), op ?? nn.Identity());
        return op ?? nn.Identity();
    }

    nn.Module<Tensor, Tensor> LinearOp(int inDim, int outDim, nn.Module<Tensor, Tensor> activation)
    {
        // Expansion: one affine map; the activation in the op's name is ignored (reference behaviour).
        if (inDim < outDim) return nn.Linear(inDim, outDim);
        if (MocoReferenceBatchNorm)
        {
            // D1: BN is sized by in_dim and the reference passes out_dim where eps belongs.
            if (inDim != outDim)
                throw new ArgumentException(
                    $"The reference MoCo batch-norm variant (D1) only works for equal widths; got {inDim}→{outDim}.");
            return Seq(nn.Linear(inDim, outDim, hasBias: true), new ViewBatchNorm1d(inDim, eps: outDim), activation);
        }
        return Seq(nn.Linear(inDim, outDim, hasBias: false), new ViewBatchNorm1d(outDim), activation);
    }

    static nn.Module<Tensor, Tensor> Seq(params nn.Module<Tensor, Tensor>[] modules) => nn.Sequential(modules);
}

using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NASiam.Core.Search;

/// <summary>
/// One search layer (method doc 2.4): all seven candidate ops, each with its own independently
/// initialised parameters, evaluated on every forward; output = Σ_k w_k · op_k(x) for softmaxed
/// weights w (length 7, in the framework's column order). [N, inDim] → [N, outDim].
/// Registered child: "_ops" (as in the reference, so state-dict keys read "_ops.3.0.weight").
/// </summary>
public sealed class MixedOp : nn.Module<Tensor, Tensor, Tensor>
{
    readonly ModuleList<nn.Module<Tensor, Tensor>> _ops;

    /// <summary>Input and output widths of this layer.</summary>
    public int InDim { get; }
    public int OutDim { get; }

    /// <summary>The candidate ops, in alpha column order.</summary>
    public IReadOnlyList<nn.Module<Tensor, Tensor>> Ops => _ops.ToArray();

    public MixedOp(OperationSet operations, int inDim, int outDim) : base(nameof(MixedOp))
    {
        InDim = inDim;
        OutDim = outDim;
        _ops = nn.ModuleList(operations.Columns.Select(name => operations.Create(name, inDim, outDim)).ToArray());
        register_module("_ops", _ops);
    }

    /// <summary>x: [N, inDim]; weights: [7] (one softmax row). Returns [N, outDim].</summary>
    public override Tensor forward(Tensor x, Tensor weights)
    {
        if (weights.dim() != 1 || weights.size(0) != _ops.Count)
            throw new ArgumentException($"MixedOp expects {_ops.Count} weights, got shape [{string.Join(", ", weights.shape)}].");
        Tensor? sum = null;
        for (int k = 0; k < _ops.Count; k++)
        {
            var term = weights[k] * _ops[k].call(x);
            sum = sum is null ? term : sum.add(term, Engine.Scalars.One); // a cached alpha, not an implicit Scalar
        }
        return sum!;
    }

    // Children are registered explicitly under the reference's names.
    protected override void RegisterComponents() { }
}

using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NASiam.Core.Search;

/// <summary>
/// A derived (fixed) cell for final training (method doc 2.6): one layer per gene, widths from
/// <see cref="CellLayout"/>, each layer instantiating only the gene's first op name (gene[0]),
/// as the reference does. No alphas, no mixing. [N, in] → [N, out].
/// Registered as "_ops.{layer}.0.…", the reference's key layout.
/// </summary>
public sealed class Cell : nn.Module<Tensor, Tensor>
{
    readonly ModuleList<ModuleList<nn.Module<Tensor, Tensor>>> _ops;

    /// <summary>The op name each layer instantiates.</summary>
    public IReadOnlyList<string> LayerOps { get; }

    /// <summary>The (in, out) widths of each layer.</summary>
    public IReadOnlyList<(int In, int Out)> Widths { get; }

    /// <summary>The instantiated op of each layer.</summary>
    public IReadOnlyList<nn.Module<Tensor, Tensor>> Layers => _ops.Select(l => l[0]).ToArray();

    public Cell(OperationSet operations, int inDim, IReadOnlyList<IReadOnlyList<string>> genes,
        int? hiddenDim = null, int? outDim = null) : base(nameof(Cell))
    {
        if (genes.Count == 0) throw new ArgumentException("A derived cell needs at least one gene.");
        Widths = CellLayout.Widths(inDim, genes.Count, hiddenDim ?? inDim, outDim ?? inDim);
        LayerOps = genes.Select((g, i) => g.Count > 0 ? g[0]
            : throw new ArgumentException($"Gene {i} of the cell is empty; each gene names at least one operation.")).ToArray();
        _ops = nn.ModuleList(Widths.Select((w, i) =>
            nn.ModuleList(operations.Create(LayerOps[i], w.In, w.Out))).ToArray());
        register_module("_ops", _ops);
    }

    /// <summary>x: [N, in] → [N, out].</summary>
    public override Tensor forward(Tensor x)
    {
        foreach (var layer in _ops)
            x = layer[0].call(x);
        return x;
    }

    protected override void RegisterComponents() { }
}

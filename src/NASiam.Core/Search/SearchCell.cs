using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NASiam.Core.Search;

/// <summary>
/// A searchable cell (method doc 2.5): a chain of <see cref="MixedOp"/> layers with widths from
/// <see cref="CellLayout"/>, mixed by architecture logits <see cref="Alphas"/> [layers, 7]
/// (zero-initialised, so every op starts at 1/7; softmax per layer, dim 1).
/// The alphas are deliberately NOT a registered parameter: they are absent from parameters()
/// and state_dict(), so a weight optimizer built from parameters() never sees them (no weight
/// decay from it); save them explicitly. They follow the module on .to(device).
/// A cell built with <c>shareAlphasWith</c> mixes with that cell's alphas, detached, and owns
/// none: MoCo's momentum key copy under Compat.MocoMomentumKeyCellInSearch only (by default the
/// MoCo key side runs the query cell itself, as the reference, method doc 4.2).
/// </summary>
public sealed class SearchCell : nn.Module<Tensor, Tensor>
{
    readonly ModuleList<MixedOp> _ops;
    readonly SearchCell? _alphaOwner;
    // Held in a plain field of a non-tensor type, so RegisterComponents can never pick it up.
    Parameter[] _alphas = [];

    /// <summary>Number of layers (alpha rows).</summary>
    public int Layers => _ops.Count;

    /// <summary>Alpha column order (op names).</summary>
    public IReadOnlyList<string> Columns { get; }

    /// <summary>The framework whose search space this cell uses.</summary>
    public Framework Framework { get; }

    /// <summary>The layers, first to last.</summary>
    public IReadOnlyList<MixedOp> MixedOps => _ops.ToArray();

    /// <summary>Architecture logits [layers, 7], a leaf with requires_grad, on the module's device.</summary>
    public Parameter Alphas => _alphaOwner?.Alphas ?? _alphas[0];

    /// <summary>True when this cell mixes with another cell's alphas (a MoCo key-side copy).</summary>
    public bool SharesAlphas => _alphaOwner is not null;

    public SearchCell(OperationSet operations, int inDim, int layers, int? hiddenDim = null, int? outDim = null,
        SearchCell? shareAlphasWith = null) : base(nameof(SearchCell))
    {
        var widths = CellLayout.Widths(inDim, layers, hiddenDim ?? inDim, outDim ?? inDim);
        Framework = operations.Framework;
        Columns = operations.Columns;
        _ops = nn.ModuleList(widths.Select(w => new MixedOp(operations, w.In, w.Out)).ToArray());
        register_module("_ops", _ops);
        if (shareAlphasWith is not null)
        {
            if (shareAlphasWith.Layers != layers)
                throw new ArgumentException($"Cannot share alphas of a {shareAlphasWith.Layers}-layer cell with a {layers}-layer cell.");
            _alphaOwner = shareAlphasWith;
        }
        else
        {
            _alphas = [new Parameter(zeros(layers, OperationNames.Count), requires_grad: true)];
        }
    }

    /// <summary>Softmax of the alphas per layer: [layers, 7] (detached for an alpha-sharing copy).</summary>
    public Tensor Weights()
    {
        var w = softmax(Alphas, 1);
        return SharesAlphas ? w.detach() : w;
    }

    /// <summary>x: [N, in] → [N, out].</summary>
    public override Tensor forward(Tensor x)
    {
        var weights = Weights();
        for (int i = 0; i < _ops.Count; i++)
            x = _ops[i].call(x, weights[i]);
        return x;
    }

    /// <summary>The alphas as a jagged [layers][7] array (CPU copy).</summary>
    public double[][] AlphaValues()
    {
        using var cpu = Alphas.detach().to(float64).cpu();
        var flat = cpu.data<double>().ToArray();
        return Enumerable.Range(0, Layers).Select(i => flat.AsSpan(i * OperationNames.Count, OperationNames.Count).ToArray()).ToArray();
    }

    /// <summary>
    /// Overwrites the alphas in place (resume: the alpha optimizer keeps pointing at the same tensor,
    /// defect D3). <paramref name="values"/> must be [layers, 7].
    /// </summary>
    public void LoadAlphas(Tensor values)
    {
        if (SharesAlphas) throw new InvalidOperationException("This cell shares another cell's alphas; load them there.");
        if (!values.shape.SequenceEqual(_alphas[0].shape))
            throw new ArgumentException(
                $"Alphas must have shape [{Layers}, {OperationNames.Count}], got [{string.Join(", ", values.shape)}].");
        using var _ = no_grad();
        _alphas[0].copy_(values);
    }

    protected override void RegisterComponents() { }

    protected override void _toEpilog(ScalarType? dtype, Device? device, bool non_blocking)
    {
        base._toEpilog(dtype, device, non_blocking);
        if (_alphas.Length == 0) return;
        var old = _alphas[0];
        var moved = device is null ? old.detach().to(dtype!.Value) :
            dtype is null ? old.detach().to(device) : old.detach().to(dtype.Value, device);
        if (ReferenceEquals(moved, old) || moved.Handle == old.Handle) return;
        _alphas = [new Parameter(moved, requires_grad: true)];
    }
}

using NASiam.Core.Backbones;
using NASiam.Core.Losses;
using NASiam.Core.Search;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NASiam.Core.Methods;

/// <summary>
/// SimSiam (method doc 4.1). Encoder f: backbone → projector (cell C_e, D/D/D, or the baseline
/// [Lin(nb)-BN-ReLU]×2) → fc Linear(D→dim) whose bias is frozen (the next BN removes it) →
/// BN1d(dim, affine=false): z ∈ R^dim. Predictor h: cell C_p dim→pred_dim→dim, or the baseline
/// Lin(nb)-BN-ReLU-Lin(b): p ∈ R^dim. Loss ½[D(p1, sg z2) + D(p2, sg z1)].
/// </summary>
public sealed class SimSiamModel : SiameseModel
{
    readonly nn.Module<Tensor, Tensor> _projector, _predictor;
    readonly Linear _fc;
    readonly ViewBatchNorm1d _bnOut;
    readonly IReadOnlyList<NamedCell> _searchCells;
    readonly bool _cellHeads;

    /// <summary>Projector output width (dim, 2048 by default).</summary>
    public int Dim { get; }

    /// <summary>The projector (C_e or baseline MLP) and predictor (C_p or baseline MLP).</summary>
    public nn.Module<Tensor, Tensor> Projector => _projector;
    public nn.Module<Tensor, Tensor> Predictor => _predictor;

    /// <summary>The fc after the projector; its bias has requires_grad = false.</summary>
    public Linear Fc => _fc;

    internal SimSiamModel(ResNet backbone, bool isSearch, nn.Module<Tensor, Tensor> projector,
        nn.Module<Tensor, Tensor> predictor, int dim) : base("SimSiam", Framework.SimSiam, isSearch, backbone)
    {
        Dim = dim;
        _projector = projector;
        _predictor = predictor;
        _cellHeads = projector is SearchCell or Cell;
        _fc = nn.Linear(backbone.FeatureDim, dim);
        _fc.bias!.requires_grad = false;
        _bnOut = new ViewBatchNorm1d(dim, affine: false);
        register_module("backbone", backbone);
        register_module("projector", _projector);
        register_module("fc", _fc);
        register_module("bn_out", _bnOut);
        register_module("predictor", _predictor);
        _searchCells = projector is SearchCell e && predictor is SearchCell p
            ? [new NamedCell("encoder", e), new NamedCell("predictor", p)]
            : [];
    }

    public override int EmbeddingDim => Dim;
    public override string EmbeddingDescription => $"z: projector output after fc and BN (affine=false), {Dim}-d";
    public override string MonitorFeatureDescription => EmbeddingDescription;
    public override IReadOnlyList<NamedCell> SearchCells => _searchCells;

    /// <summary>z = f(x) from backbone features h: [N, D] → [N, dim] (or [N, views, D] → [N, views, dim]).</summary>
    Tensor Project(Tensor features) => _bnOut.call(_fc.call(_projector.call(features)));

    public override IReadOnlyList<WeightGroup> WeightGroups() =>
    [
        new("encoder", Trainable((nn.Module)Backbone, _projector, _fc), false),
        new("predictor", Trainable(_predictor), true),
    ];

    public override Tensor ComputeLoss(Tensor x1, Tensor x2, StepKind kind)
    {
        if (!ViewBatchedHeads)
        {
            var z1 = Project(TrunkFeatures(x1, kind));
            var z2 = Project(TrunkFeatures(x2, kind));
            return SiameseLosses.SimSiam(_predictor.call(z1), _predictor.call(z2), z1, z2);
        }
        var h1 = TrunkFeatures(x1, kind);
        var h2 = TrunkFeatures(x2, kind);
        var z = Project(stack([h1, h2], 1)); // [N, 2, dim]
        return SiameseLosses.SimSiam(_predictor.call(z), z);
    }

    public override Tensor MonitorFeatures(Tensor x) => nn.functional.normalize(Embedding(x), dim: 1);

    public override Tensor Embedding(Tensor x) => Project(Backbone.call(x));

    public override Dictionary<string, Tensor> ReferenceStateDict()
    {
        // Reference: encoder = backbone with fc = Sequential(cell, fc, BN) (baseline: 6 MLP entries, fc at 6, BN at 7);
        // the cells are also registered as cell_encoder / cell_predictor, giving duplicate keys.
        var d = new Dictionary<string, Tensor>();
        AddState(d, "encoder.", (nn.Module)Backbone);
        AddState(d, _cellHeads ? "encoder.fc.0." : "encoder.fc.", _projector);
        AddState(d, _cellHeads ? "encoder.fc.1." : "encoder.fc.6.", _fc);
        AddState(d, _cellHeads ? "encoder.fc.2." : "encoder.fc.7.", _bnOut);
        if (_cellHeads)
        {
            AddState(d, "cell_encoder.", _projector);
            AddState(d, "cell_predictor.", _predictor);
            AddState(d, "predictor.0.", _predictor);
        }
        else
        {
            AddState(d, "predictor.", _predictor);
        }
        return d;
    }
}

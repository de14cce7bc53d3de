using NASiam.Core.Backbones;
using NASiam.Core.Losses;
using NASiam.Core.Search;
using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Methods;

/// <summary>
/// SimCLR (method doc 4.3). Trunk f (CIFAR-style ResNet-50 by default; any backbone is accepted)
/// → flatten (D) → projection head g: the cell D→pred_dim→dim (6 layers; the genotype field is
/// "predictor") or the baseline Lin(nb)-BN-ReLU-Lin(b). Loss: NT-Xent at temperature T on the
/// L2-normalised projections of both views.
/// </summary>
public sealed class SimClrModel : SiameseModel
{
    readonly nn.Module<Tensor, Tensor> _head;
    readonly IReadOnlyList<NamedCell> _searchCells;
    readonly bool _cellHead;

    /// <summary>Projection width (128).</summary>
    public int Dim { get; }
    /// <summary>NT-Xent temperature (0.5).</summary>
    public double Temperature { get; }
    /// <summary>The projection head g.</summary>
    public nn.Module<Tensor, Tensor> Head => _head;

    internal SimClrModel(ResNet backbone, bool isSearch, nn.Module<Tensor, Tensor> head, int dim, double temperature)
        : base("SimCLR", Framework.SimClr, isSearch, backbone)
    {
        if (!(temperature > 0)) throw new ArgumentException($"The SimCLR temperature must be positive, got {temperature}.");
        Dim = dim;
        Temperature = temperature;
        _head = head;
        _cellHead = head is SearchCell or Cell;
        register_module("backbone", backbone);
        register_module("head", _head);
        _searchCells = head is SearchCell cell ? [new NamedCell("predictor", cell)] : [];
    }

    public override int EmbeddingDim => Dim;
    public override string EmbeddingDescription => $"projection head output, {Dim}-d, before L2 normalisation";
    // Method doc 4.3: the reference monitor uses the trunk feature, not the projection.
    public override string MonitorFeatureDescription => $"backbone trunk feature, {FeatureDim}-d (not the projection)";
    public override IReadOnlyList<NamedCell> SearchCells => _searchCells;

    public override IReadOnlyList<WeightGroup> WeightGroups() => [new("encoder", Trainable((nn.Module)Backbone, _head), false)];

    public override Tensor ComputeLoss(Tensor x1, Tensor x2, StepKind kind)
    {
        if (!ViewBatchedHeads)
        {
            var out1 = nn.functional.normalize(_head.call(TrunkFeatures(x1, kind)), dim: 1);
            var out2 = nn.functional.normalize(_head.call(TrunkFeatures(x2, kind)), dim: 1);
            return SiameseLosses.NtXent(out1, out2, Temperature);
        }
        var h1 = TrunkFeatures(x1, kind);
        var h2 = TrunkFeatures(x2, kind);
        var projected = nn.functional.normalize(_head.call(stack([h1, h2], 1)), dim: 2); // [N, 2, dim]
        return SiameseLosses.NtXent(projected.select(1, 0), projected.select(1, 1), Temperature);
    }

    /// <summary>The normalised trunk feature (D-d), as the reference's kNN monitor uses.</summary>
    public override Tensor MonitorFeatures(Tensor x) => nn.functional.normalize(Backbone.call(x), dim: 1);

    public override Tensor Embedding(Tensor x) => _head.call(Backbone.call(x));

    public override Dictionary<string, Tensor> ReferenceStateDict()
    {
        // Reference: f = Sequential of the trunk's children by index (conv1, bn1, relu, [maxpool], layer1..4, avgpool),
        // then cell_projector and g = Sequential(cell) (baseline: g = Sequential(Lin, BN, ReLU, Lin)).
        var d = new Dictionary<string, Tensor>();
        int index = 0;
        foreach (var (_, child) in ((nn.Module)Backbone).named_children())
            AddState(d, $"f.{index++}.", child);
        if (_cellHead)
        {
            AddState(d, "cell_projector.", _head);
            AddState(d, "g.0.", _head);
        }
        else
        {
            AddState(d, "g.", _head);
        }
        return d;
    }
}

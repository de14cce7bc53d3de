using NASiam.Core.Backbones;
using NASiam.Core.Engine;
using NASiam.Core.Losses;
using NASiam.Core.Search;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NASiam.Core.Methods;

/// <summary>
/// MoCo v2 (method doc 4.2). Query encoder: backbone → projector (cell C_e, D/D/D, or the
/// baseline Lin(b)-ReLU) → fc Linear(D→dim, bias). Key encoder: a momentum copy of the backbone
/// and the fc (θ_k ← m·θ_k + (1 − m)·θ_q, parameters never require gradients); its projector is,
/// as the model was built (<see cref="ModelFactory"/>):
/// <list type="bullet">
/// <item>search form (default): the SAME live search cell as the query side, as the reference's
/// search model (its parameter copy runs before the head swap, so the cell trains and is shared).
/// Keys pass through it without autograd (no alpha or weight gradient from keys); both passes
/// update its BN running statistics.</item>
/// <item>search form with Compat.MocoMomentumKeyCellInSearch: a momentum copy of the cell mixing
/// with the query cell's alphas, detached (NASiam.Web's earlier choice, not the reference's).</item>
/// <item>fixed form (default): a momentum copy of the derived cell; the query cell trains (fix of
/// defect D2).</item>
/// <item>fixed form with Compat.MocoFrozenSharedCell: the reference's final model, one cell shared
/// by both sides and frozen at initialisation (D2); only its BN running statistics move.</item>
/// </list>
/// The baseline projector is always a separate momentum copy (the reference's StandardMoCo).
/// Queue: buffer "queue" [dim, K], Gaussian normalised per column, and "queue_ptr" [1] (int64).
/// Loss: InfoNCE(q1, k2) + InfoNCE(q2, k1) (a sum, as the reference), then [k1; k2] is enqueued.
/// Shuffle-BN is omitted: on one device the batch permutation leaves BN statistics unchanged (a no-op).
/// </summary>
public sealed class MoCoModel : SiameseModel
{
    readonly ResNet _backboneK;
    readonly nn.Module<Tensor, Tensor> _projectorQ, _projectorK;
    readonly Linear _fcQ, _fcK;
    readonly IReadOnlyList<NamedCell> _searchCells;
    readonly bool _cellHeads;
    readonly bool _updateKeysOnArchStep;

    /// <summary>Key dimension (128).</summary>
    public int Dim { get; }
    /// <summary>Queue length K.</summary>
    public int QueueSize { get; }
    /// <summary>Key-encoder momentum m.</summary>
    public double Momentum { get; }
    /// <summary>Softmax temperature T.</summary>
    public double Temperature { get; }

    /// <summary>The negatives [dim, K] (live buffer).</summary>
    public Tensor Queue => get_buffer("queue")!;
    /// <summary>Next write position of the queue.</summary>
    public long QueuePointer => get_buffer("queue_ptr")!.ItemInt64();

    /// <summary>Query-side projector and fc.</summary>
    public nn.Module<Tensor, Tensor> Projector => _projectorQ;
    public Linear Fc => _fcQ;

    /// <summary>True when the key side runs the query side's projector object (no momentum copy of it).</summary>
    public bool SharesProjector { get; }

    /// <summary>True when the shared projector's weights are frozen at initialisation (Compat.MocoFrozenSharedCell, D2).</summary>
    public bool ProjectorFrozen { get; }

    /// <summary>
    /// projectorK is the key-side projector: a separate module of the same structure (a momentum
    /// copy), or projectorQ itself (shared, not momentum-updated). freezeSharedProjector (shared
    /// projector only) sets its parameters' requires_grad off (reference D2); they then leave
    /// <see cref="WeightGroups"/>.
    /// </summary>
    internal MoCoModel(ResNet backboneQ, ResNet backboneK, bool isSearch,
        nn.Module<Tensor, Tensor> projectorQ, nn.Module<Tensor, Tensor> projectorK,
        int dim, int queueSize, double momentum, double temperature, bool updateKeysOnArchStep,
        bool freezeSharedProjector = false)
        : base("MoCo", Framework.MoCo, isSearch, backboneQ)
    {
        if (queueSize < 1) throw new ArgumentException($"The MoCo queue size must be positive, got {queueSize}.");
        if (momentum is < 0 or >= 1) throw new ArgumentException($"The MoCo momentum must be in [0, 1), got {momentum}.");
        if (!(temperature > 0)) throw new ArgumentException($"The MoCo temperature must be positive, got {temperature}.");
        Dim = dim;
        QueueSize = queueSize;
        Momentum = momentum;
        Temperature = temperature;
        _updateKeysOnArchStep = updateKeysOnArchStep;
        _backboneK = backboneK;
        _projectorQ = projectorQ;
        _projectorK = projectorK;
        SharesProjector = ReferenceEquals(projectorQ, projectorK);
        if (freezeSharedProjector && !SharesProjector)
            throw new ArgumentException("Only a projector shared by the query and key sides can be frozen (Compat.MocoFrozenSharedCell).");
        ProjectorFrozen = freezeSharedProjector;
        _cellHeads = projectorQ is SearchCell or Cell;
        _fcQ = nn.Linear(backboneQ.FeatureDim, dim);
        _fcK = nn.Linear(backboneQ.FeatureDim, dim);
        register_module("backbone", backboneQ);
        register_module("projector", _projectorQ);
        register_module("fc", _fcQ);
        register_module("backbone_k", _backboneK);
        // A shared projector is registered once: its tensors must appear once in parameters()
        // (the optimizer) and in the state dict.
        if (!SharesProjector) register_module("projector_k", _projectorK);
        register_module("fc_k", _fcK);
        register_buffer("queue", nn.functional.normalize(randn(dim, queueSize), dim: 0));
        register_buffer("queue_ptr", zeros(1, dtype: int64));
        InitialiseKeyEncoder();
        if (ProjectorFrozen)
            foreach (var p in _projectorQ.parameters()) p.requires_grad = false;
        _searchCells = projectorQ is SearchCell cell ? [new NamedCell("encoder", cell)] : [];
    }

    public override int EmbeddingDim => Dim;
    public override string EmbeddingDescription => $"q: query encoder output (fc), {Dim}-d, before L2 normalisation";
    public override string MonitorFeatureDescription => $"q: query encoder output (fc), {Dim}-d";
    public override IReadOnlyList<NamedCell> SearchCells => _searchCells;

    nn.Module[] QueryModules => [(nn.Module)Backbone, _projectorQ, _fcQ];
    // The momentum pairs. A shared projector is its own key side: the reference pairs it with itself
    // (a no-op update), so it is simply left out here.
    nn.Module[] PairedQueryModules => SharesProjector ? [(nn.Module)Backbone, _fcQ] : QueryModules;
    nn.Module[] KeyModules => SharesProjector ? [_backboneK, _fcK] : [_backboneK, _projectorK, _fcK];

    public override IReadOnlyList<WeightGroup> WeightGroups() => [new("encoder", Trainable(QueryModules), false)];

    void InitialiseKeyEncoder()
    {
        using var _ = no_grad();
        foreach (var (q, k) in PairedParameters())
        {
            k.copy_(q);
            k.requires_grad = false;
        }
        foreach (var (q, k) in PairedQueryModules.SelectMany(m => m.buffers()).Zip(KeyModules.SelectMany(m => m.buffers())))
            k.copy_(q);
    }

    IEnumerable<(Parameter Q, Parameter K)> PairedParameters()
    {
        var q = PairedQueryModules.SelectMany(m => m.parameters()).ToArray();
        var k = KeyModules.SelectMany(m => m.parameters()).ToArray();
        if (q.Length != k.Length)
            throw new InvalidOperationException($"MoCo query and key encoders differ: {q.Length} vs {k.Length} parameter tensors.");
        return q.Zip(k);
    }

    /// <summary>θ_k ← m·θ_k + (1 − m)·θ_q for every paired parameter (no autograd).</summary>
    public void MomentumUpdate()
    {
        using var _ = no_grad();
        using var m = Momentum.ToScalar();
        using var oneMinusM = (1 - Momentum).ToScalar();
        foreach (var (q, k) in PairedParameters())
            k.mul_(m).add_(q, oneMinusM);
    }

    /// <summary>
    /// Writes keys [n, dim] into queue columns [ptr, ptr + n) and advances ptr by n modulo K.
    /// K must be a multiple of n (the reference's assertion).
    /// </summary>
    public void Enqueue(Tensor keys)
    {
        long n = keys.size(0);
        CheckQueueFits(n);
        using var _ = no_grad();
        var ptr = QueuePointer;
        Queue.narrow(1, ptr, n).copy_(keys.detach().t());
        using var next = ((ptr + n) % QueueSize).ToScalar();
        get_buffer("queue_ptr")!.fill_(next);
    }

    void CheckQueueFits(long keysPerStep)
    {
        if (QueueSize % keysPerStep != 0)
            throw new ArgumentException(
                $"MoCo queue size K = {QueueSize} must be a multiple of the {keysPerStep} keys enqueued per step " +
                $"(2 views x batch {keysPerStep / 2}); choose Heads.QueueSize as a multiple of 2 x batch size.");
    }

    Tensor Query(Tensor features) => _fcQ.call(_projectorQ.call(features));

    /// <summary>
    /// Normalised keys of a view, [N, dim], from the key encoder (no autograd). In train mode the
    /// projector's BN running statistics move, the shared query cell's included (as the reference).
    /// </summary>
    public Tensor Keys(Tensor x)
    {
        using var _ = no_grad();
        return nn.functional.normalize(_fcK.call(_projectorK.call(TrainingTrunk(_backboneK, x))), dim: 1);
    }

    public override Tensor ComputeLoss(Tensor x1, Tensor x2, StepKind kind)
    {
        CheckQueueFits(2 * x1.size(0));
        bool updateKeys = kind == StepKind.Weight || _updateKeysOnArchStep;
        if (updateKeys) MomentumUpdate();
        // A snapshot: the negatives are the queue as it was before this step, and the enqueue
        // below must not modify a tensor autograd saved for backward.
        var negatives = Queue.detach().clone();
        // The reference's order (contrastive(x1, x2), then contrastive(x2, x1)): q1, k2, q2, k1. It
        // matters only for BN running statistics, which a shared cell updates on both sides.
        var q1 = nn.functional.normalize(Query(TrunkFeatures(x1, kind)), dim: 1);
        var k2 = Keys(x2);
        var q2 = nn.functional.normalize(Query(TrunkFeatures(x2, kind)), dim: 1);
        var k1 = Keys(x1);
        var loss = SiameseLosses.InfoNce(q1, k2, negatives, Temperature).add(SiameseLosses.InfoNce(q2, k1, negatives, Temperature), Engine.Scalars.One);
        if (updateKeys) Enqueue(cat([k1, k2], 0));
        return loss;
    }

    public override Tensor MonitorFeatures(Tensor x) => nn.functional.normalize(Embedding(x), dim: 1);

    public override Tensor Embedding(Tensor x) => Query(Backbone.call(x));

    public override Dictionary<string, Tensor> ReferenceStateDict()
    {
        // Reference: buffers first, then encoder_q / encoder_k (fc = Sequential(cell, fc); baseline
        // Sequential(Lin, ReLU, fc)), then the query cell again as cell_encoder.
        var d = new Dictionary<string, Tensor> { ["queue"] = Queue, ["queue_ptr"] = get_buffer("queue_ptr")! };
        foreach (var (prefix, backbone, projector, fc) in new[]
                 { ("encoder_q.", (nn.Module)Backbone, _projectorQ, _fcQ), ("encoder_k.", _backboneK, _projectorK, _fcK) })
        {
            AddState(d, prefix, backbone);
            AddState(d, prefix + (_cellHeads ? "fc.0." : "fc."), projector);
            AddState(d, prefix + (_cellHeads ? "fc.1." : "fc.2."), fc);
        }
        if (_cellHeads) AddState(d, "cell_encoder.", _projectorQ);
        return d;
    }
}

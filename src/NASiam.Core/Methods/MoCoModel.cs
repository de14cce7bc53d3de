using NASiam.Core.Backbones;
using NASiam.Core.Losses;
using NASiam.Core.Search;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NASiam.Core.Methods;

/// <summary>
/// MoCo v2 (method doc 4.2). Query encoder: backbone → projector (cell C_e, D/D/D, or the
/// baseline Lin(b)-ReLU) → fc Linear(D→dim, bias). The key encoder is a full momentum copy of
/// the query encoder, INCLUDING the projector cell (fix of defect D2: the reference shares one
/// cell between both sides and, in the final model, freezes it at init). In search form the key
/// copy of the cell mixes with the query cell's alphas (detached): the key side follows the
/// current architecture, only its weights lag. Key parameters never require gradients.
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
    public long QueuePointer => get_buffer("queue_ptr")!.item<long>();

    /// <summary>Query-side projector and fc.</summary>
    public nn.Module<Tensor, Tensor> Projector => _projectorQ;
    public Linear Fc => _fcQ;

    internal MoCoModel(ResNet backboneQ, ResNet backboneK, bool isSearch,
        nn.Module<Tensor, Tensor> projectorQ, nn.Module<Tensor, Tensor> projectorK,
        int dim, int queueSize, double momentum, double temperature, bool updateKeysOnArchStep)
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
        _cellHeads = projectorQ is SearchCell or Cell;
        _fcQ = nn.Linear(backboneQ.FeatureDim, dim);
        _fcK = nn.Linear(backboneQ.FeatureDim, dim);
        register_module("backbone", backboneQ);
        register_module("projector", _projectorQ);
        register_module("fc", _fcQ);
        register_module("backbone_k", _backboneK);
        register_module("projector_k", _projectorK);
        register_module("fc_k", _fcK);
        register_buffer("queue", nn.functional.normalize(randn(dim, queueSize), dim: 0));
        register_buffer("queue_ptr", zeros(1, dtype: int64));
        InitialiseKeyEncoder();
        _searchCells = projectorQ is SearchCell cell ? [new NamedCell("encoder", cell)] : [];
    }

    public override int EmbeddingDim => Dim;
    public override string EmbeddingDescription => $"q: query encoder output (fc), {Dim}-d, before L2 normalisation";
    public override IReadOnlyList<NamedCell> SearchCells => _searchCells;

    nn.Module[] QueryModules => [(nn.Module)Backbone, _projectorQ, _fcQ];
    nn.Module[] KeyModules => [_backboneK, _projectorK, _fcK];

    public override IReadOnlyList<WeightGroup> WeightGroups() => [new("encoder", Trainable(QueryModules), false)];

    void InitialiseKeyEncoder()
    {
        using var _ = no_grad();
        foreach (var (q, k) in PairedParameters())
        {
            k.copy_(q);
            k.requires_grad = false;
        }
        foreach (var (q, k) in QueryModules.SelectMany(m => m.buffers()).Zip(KeyModules.SelectMany(m => m.buffers())))
            k.copy_(q);
    }

    IEnumerable<(Parameter Q, Parameter K)> PairedParameters()
    {
        var q = QueryModules.SelectMany(m => m.parameters()).ToArray();
        var k = KeyModules.SelectMany(m => m.parameters()).ToArray();
        if (q.Length != k.Length)
            throw new InvalidOperationException($"MoCo query and key encoders differ: {q.Length} vs {k.Length} parameter tensors.");
        return q.Zip(k);
    }

    /// <summary>θ_k ← m·θ_k + (1 − m)·θ_q for every paired parameter (no autograd).</summary>
    public void MomentumUpdate()
    {
        using var _ = no_grad();
        foreach (var (q, k) in PairedParameters())
            k.mul_(Momentum).add_(q, alpha: 1 - Momentum);
    }

    /// <summary>
    /// Writes keys [n, dim] into queue columns [ptr, ptr + n) and advances ptr by n modulo K.
    /// K must be a multiple of n (the reference's assertion).
    /// </summary>
    public void Enqueue(Tensor keys)
    {
        long n = keys.shape[0];
        CheckQueueFits(n);
        using var _ = no_grad();
        var ptr = QueuePointer;
        Queue.narrow(1, ptr, n).copy_(keys.detach().t());
        get_buffer("queue_ptr")!.fill_((ptr + n) % QueueSize);
    }

    void CheckQueueFits(long keysPerStep)
    {
        if (QueueSize % keysPerStep != 0)
            throw new ArgumentException(
                $"MoCo queue size K = {QueueSize} must be a multiple of the {keysPerStep} keys enqueued per step " +
                $"(2 views x batch {keysPerStep / 2}); choose Heads.QueueSize as a multiple of 2 x batch size.");
    }

    Tensor Query(Tensor features) => _fcQ.call(_projectorQ.call(features));

    /// <summary>Normalised keys of a view, [N, dim], from the momentum encoder (no autograd).</summary>
    public Tensor Keys(Tensor x)
    {
        using var _ = no_grad();
        return nn.functional.normalize(_fcK.call(_projectorK.call(_backboneK.call(x))), dim: 1);
    }

    public override Tensor ComputeLoss(Tensor x1, Tensor x2, StepKind kind)
    {
        CheckQueueFits(2 * x1.shape[0]);
        bool updateKeys = kind == StepKind.Weight || _updateKeysOnArchStep;
        if (updateKeys) MomentumUpdate();
        // A snapshot: the negatives are the queue as it was before this step, and the enqueue
        // below must not modify a tensor autograd saved for backward.
        var negatives = Queue.detach().clone();
        var q1 = nn.functional.normalize(Query(TrunkFeatures(x1, kind)), dim: 1);
        var q2 = nn.functional.normalize(Query(TrunkFeatures(x2, kind)), dim: 1);
        var k1 = Keys(x1);
        var k2 = Keys(x2);
        var loss = SiameseLosses.InfoNce(q1, k2, negatives, Temperature) + SiameseLosses.InfoNce(q2, k1, negatives, Temperature);
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

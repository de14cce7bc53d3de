using NASiam.Core.Search;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NASiam.Core.Methods;

/// <summary>
/// A siamese self-supervised model (SimSiam, MoCo v2 or SimCLR) in search or fixed form, as the
/// engine drives it. Built on the CPU by <see cref="ModelFactory"/>; the caller moves it with
/// .to(device) before creating optimizers (the alphas follow the move). Images are
/// [N, 3, H, W] float tensors on the model's device; every output is on that device.
/// Not thread-safe; call from one thread inside the caller's dispose scope.
/// </summary>
public abstract class SiameseModel : nn.Module
{
    protected SiameseModel(string name, Framework framework, bool isSearch, Backbones.ResNet backbone) : base(name)
    {
        Framework = framework;
        IsSearch = isSearch;
        Backbone = backbone;
    }

    /// <summary>The framework this model implements.</summary>
    public Framework Framework { get; }

    /// <summary>True for the search form (SearchCells with alphas).</summary>
    public bool IsSearch { get; }

    /// <summary>The (query-side) backbone trunk: [N, 3, H, W] → [N, D].</summary>
    public nn.Module<Tensor, Tensor> Backbone { get; }

    /// <summary>
    /// Trainable parameters of the heads: every trainable weight outside <see cref="Backbone"/> (SimSiam's
    /// projector, fc + BN and predictor; MoCo's query projector; SimCLR's projection head; a search model's
    /// cells count every candidate op). MoCo's key encoder is a momentum copy, not trained, so not counted.
    /// The cost side of a genotype-versus-baseline comparison (head_parameters).
    /// </summary>
    public long HeadParameterCount()
    {
        var trunk = Backbone.parameters().Select(p => p.Handle).ToHashSet();
        return WeightGroups().SelectMany(g => g.Parameters).Where(p => !trunk.Contains(p.Handle)).Sum(p => p.numel());
    }

    /// <summary>Backbone feature width D.</summary>
    public int FeatureDim => ((Backbones.ResNet)Backbone).FeatureDim;

    /// <summary>Width of <see cref="Embedding"/>.</summary>
    public abstract int EmbeddingDim { get; }

    /// <summary>One line saying what <see cref="Embedding"/> returns.</summary>
    public abstract string EmbeddingDescription { get; }

    /// <summary>The search cells in alpha order; empty in fixed form.</summary>
    public abstract IReadOnlyList<NamedCell> SearchCells { get; }

    /// <summary>
    /// Architecture step shortcut switch (default on): on <see cref="StepKind.Architecture"/> the
    /// backbone runs under no_grad (still in train mode). Alpha gradients are identical; turn it
    /// off only to compare against the full graph.
    /// </summary>
    public bool ArchitectureStepWithoutBackboneGraph { get; set; } = true;

    /// <summary>
    /// View-batched heads switch (default on): in <see cref="ComputeLoss"/> SimSiam and SimCLR run
    /// their heads once on both views stacked as [N, 2, ·] instead of once per view. Every head
    /// BatchNorm (<see cref="Search.ViewBatchNorm1d"/>) keeps per-view statistics and running
    /// statistics as the per-view calls would, so losses and gradients equal the per-view path up to
    /// float rounding (tested within 1e-5); what changes is the number of ops (half) and the GEMM shapes
    /// ([2N, C] instead of two [N, C]). MoCo's two views go through different encoders and are never
    /// batched. Turn it off only to compare against the per-view path.
    /// </summary>
    public bool ViewBatchedHeads { get; set; } = true;

    /// <summary>
    /// Precision of the backbone in training steps (<see cref="ComputeLoss"/>): bf16 runs the trunk
    /// under autocast (<see cref="Backbones.Autocast"/>) and hands fp32 features to the heads, so
    /// heads, losses and optimizer stay fp32; monitors and evaluation always run fp32. Default fp32.
    /// </summary>
    public Options.BackbonePrecision BackbonePrecision { get; set; } = Options.BackbonePrecision.Fp32;

    /// <summary>The alphas ([layers, 7] each), in <see cref="SearchCells"/> order. Never part of <see cref="WeightGroups"/>.</summary>
    public IReadOnlyList<Parameter> ArchParameters() => SearchCells.Select(c => c.Cell.Alphas).ToArray();

    /// <summary>Trainable weights only (no frozen tensors, no MoCo key side, no alphas).</summary>
    public abstract IReadOnlyList<WeightGroup> WeightGroups();

    /// <summary>
    /// The framework's loss for two views x1, x2 ([N, 3, H, W] each); a scalar. MoCo also does its
    /// momentum update and enqueue here (on weight steps; on architecture steps only with
    /// Compat.MocoQueueOnArchStep, defect D22).
    /// </summary>
    public abstract Tensor ComputeLoss(Tensor x1, Tensor x2, StepKind kind);

    /// <summary>
    /// <see cref="ComputeLoss"/> for a step that calls backward next: the forward runs in its own
    /// dispose scope and only the loss survives it. Autograd keeps what backward needs, so the
    /// result and gradients are identical; but the wrappers of every intermediate activation are
    /// released now instead of at the end of the caller's step scope, so backward can free saved
    /// activations as it goes (lower peak memory), and an architecture step's tensors are gone
    /// before the weight step starts.
    /// </summary>
    /// <remarks>
    /// What the step does not update is left out of the graph (requires_grad off while the forward
    /// records it; restored before this returns): on an architecture step the weights, whose
    /// gradients the reference computes and discards (method doc 5.4, step 2.5), and on a weight
    /// step the alphas (not in the weight optimiser; the next alpha step zeroes their gradients
    /// before its backward). Backward then computes only the gradients the step's optimiser uses,
    /// the same values without the other side's GEMMs, reductions and accumulation.
    /// </remarks>
    public Tensor ComputeLossForBackward(Tensor x1, Tensor x2, StepKind kind)
    {
        using var scope = NewDisposeScope();
        using var frozen = new OutOfGraph(kind == StepKind.Architecture
            ? WeightGroups().SelectMany(g => g.Parameters)
            : ArchParameters());
        return ComputeLoss(x1, x2, kind).MoveToOuterDisposeScope();
    }

    /// <summary>Turns requires_grad off on the given parameters until disposed.</summary>
    sealed class OutOfGraph : IDisposable
    {
        readonly Parameter[] _frozen;

        public OutOfGraph(IEnumerable<Parameter> parameters)
        {
            _frozen = parameters.Where(p => p.requires_grad).ToArray();
            foreach (var p in _frozen) p.requires_grad = false;
        }

        public void Dispose()
        {
            foreach (var p in _frozen) p.requires_grad = true;
        }
    }

    /// <summary>L2-normalised kNN-monitor feature (method doc 6.4): SimSiam z, MoCo q (128-d), SimCLR trunk feature. [N, ·].</summary>
    public abstract Tensor MonitorFeatures(Tensor x);

    /// <summary>One line saying what <see cref="MonitorFeatures"/> returns (before its L2 normalisation), for the kNN protocol text.</summary>
    public abstract string MonitorFeatureDescription { get; }

    /// <summary>The (not normalised) output whose collapse is measured: SimSiam z, MoCo q, SimCLR projection. [N, EmbeddingDim].</summary>
    public abstract Tensor Embedding(Tensor x);

    /// <summary>Backbone features for linear evaluation: [N, D].</summary>
    public Tensor BackboneFeatures(Tensor x) => Backbone.call(x);

    /// <summary>
    /// The weights and buffers under the reference's PyTorch key names (SimSiam encoder.* /
    /// cell_encoder.* / predictor.*; MoCo queue, encoder_q.*, encoder_k.*; SimCLR f.* / g.*),
    /// including the reference's duplicate keys of shared cell modules. Values are the live tensors
    /// (do not dispose them).
    /// </summary>
    public abstract Dictionary<string, Tensor> ReferenceStateDict();

    /// <summary>Backbone output for a step: without autograd on architecture steps (see <see cref="ArchitectureStepWithoutBackboneGraph"/>).</summary>
    protected Tensor TrunkFeatures(Tensor x, StepKind kind)
    {
        if (kind != StepKind.Architecture || !ArchitectureStepWithoutBackboneGraph) return TrainingTrunk(Backbone, x);
        using var _ = no_grad();
        return TrainingTrunk(Backbone, x);
    }

    /// <summary>A trunk's output in a training step: under autocast when <see cref="BackbonePrecision"/> asks for it, always returned as fp32.</summary>
    protected Tensor TrainingTrunk(nn.Module<Tensor, Tensor> trunk, Tensor x)
    {
        using (var autocast = Backbones.Autocast.For(BackbonePrecision, x.device))
        {
            if (autocast is null) return trunk.call(x);
            var y = trunk.call(x);
            return y.dtype == ScalarType.Float32 ? y : y.to(ScalarType.Float32);
        }
    }

    /// <summary>
    /// Lays every ResNet trunk of the model (MoCo's key encoder too) out channels-last: faster
    /// convolutions on CPU, same results (see <see cref="Backbones.ChannelsLast"/>). Call after
    /// .to(device) and before creating optimizers.
    /// </summary>
    public void UseChannelsLast()
    {
        foreach (var trunk in modules().OfType<Backbones.ResNet>()) trunk.UseChannelsLast();
    }

    /// <summary>Only parameters that require gradients.</summary>
    protected static IReadOnlyList<Parameter> Trainable(params nn.Module[] modules) =>
        modules.SelectMany(m => m.parameters()).Where(p => p.requires_grad).ToArray();

    /// <summary>Copies a module's state dict into <paramref name="target"/> under <paramref name="prefix"/>.</summary>
    protected static void AddState(Dictionary<string, Tensor> target, string prefix, nn.Module module)
    {
        foreach (var (key, value) in module.state_dict())
            target[prefix + key] = value;
    }

    /// <summary>Adds a cell or a head MLP under each of its reference prefixes.</summary>
    protected static void AddState(Dictionary<string, Tensor> target, nn.Module module, params string[] prefixes)
    {
        foreach (var prefix in prefixes) AddState(target, prefix, module);
    }

    /// <summary>Registers children explicitly, under reference-like names; properties are never auto-registered.</summary>
    protected override void RegisterComponents() { }
}

using NASiam.Core.Genotypes;
using NASiam.Core.Options;
using NASiam.Core.Search;
using TorchSharp.Modules;

namespace NASiam.Core.Methods;

/// <summary>Which update a loss is computed for (method doc 5.4).</summary>
public enum StepKind
{
    /// <summary>A weight step: full graph; MoCo does its momentum update and enqueue.</summary>
    Weight,
    /// <summary>
    /// An alpha step: the backbone runs in train mode but without autograd (its BN statistics and
    /// running stats are the same; only the backbone backward, useless for alpha gradients, is saved).
    /// </summary>
    Architecture,
}

/// <summary>
/// Everything <see cref="ModelFactory"/> needs to build a model.
/// </summary>
/// <param name="Framework">SimSiam, MoCo or SimCLR.</param>
/// <param name="Backbone">resnet-tiny | resnet18 | resnet50.</param>
/// <param name="Search">True: search form (SearchCells with alphas); false: fixed form.</param>
/// <param name="Genotype">Fixed form only: the derived cells; null = the standard baseline heads.</param>
/// <param name="Heads">Widths, depths, queue size and temperature.</param>
/// <param name="Compat">Reference-defect switches (D1, D2, D22 and the MoCo search key-cell choice matter here).</param>
/// <param name="CifarStem">3x3 stride-1 stem without max-pool (32-pixel inputs); false = ImageNet stem.</param>
/// <param name="MocoMomentum">MoCo key-encoder momentum m (search 0.999, pre-training 0.99).</param>
public sealed record ModelSpec(Framework Framework, string Backbone, bool Search, Genotype? Genotype, HeadOptions Heads,
    CompatOptions Compat, bool CifarStem = true, double MocoMomentum = 0.99);

/// <summary>A search cell and its genotype field name: "encoder" (projector) or "predictor".</summary>
public sealed record NamedCell(string Name, SearchCell Cell);

/// <summary>
/// A group of trainable weights for the weight optimizer. <paramref name="IsPredictor"/> marks
/// SimSiam's predictor, whose LR stays fixed with fix-pred-lr.
/// </summary>
public sealed record WeightGroup(string Name, IReadOnlyList<Parameter> Parameters, bool IsPredictor);

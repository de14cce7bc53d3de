using NASiam.Core.Genotypes;
using NASiam.Core.Options;

namespace NASiam.Core.Tests.Parity;

/// <summary>
/// A buffer the product is known to compute differently from the reference: compared and printed
/// by tools/parity/compare.py, but not failing the case. <paramref name="Pattern"/> is a regex on
/// the reference key; <paramref name="Reason"/> says why (and where the fix is tracked).
/// </summary>
public sealed record KnownDivergence(string Pattern, string Reason);

/// <summary>
/// One parity case: a model as a run builds it (<see cref="Options"/> through
/// <c>ModelBuilder.Create</c>), the form (search, final with a genotype preset, or standard
/// heads), the stem, and the input batch. See <see cref="ParityCases"/>.
/// </summary>
public sealed record ParityCase(
    string Name,
    string Group,
    RunOptions Options,
    string Form,
    bool CifarStem,
    int ImageSize,
    int Batch,
    string? GenotypePreset = null,
    IReadOnlyList<KnownDivergence>? Known = null)
{
    /// <summary>True for the search form (SearchCells with alphas).</summary>
    public bool Search => Form == "search";

    /// <summary>The genotype of a final case; null for search and standard.</summary>
    public Genotype? Genotype => Form == "final"
        ? GenotypePresets.Find(GenotypePreset ?? throw new InvalidOperationException($"{Name}: a final case names a genotype preset."),
            Options.Framework)?.Genotype ?? throw new InvalidOperationException($"{Name}: unknown preset {GenotypePreset}.")
        : null;
}

/// <summary>
/// The parity matrix (issue 9 item 1, issue 8 "PyTorch parity"): ResNet-18 and ResNet-50, CIFAR
/// stem and ImageNet stem (on a small input), every framework's search, final (released genotype
/// presets, method doc 5.8) and standard-head model, with the recipes' head sizes (method doc 2.7,
/// 4). Batch 16 everywhere: train-mode BatchNorm over few samples is ill-conditioned enough that
/// PyTorch's own fp32 result drifts ~1e-4 from fp64 at batch 4 (R18) and ~5e-5 at batch 8-16
/// (R50, measured), which would leave no margin under the 1e-4 tolerance. Images are small
/// (32 px CIFAR stem, 64 px ImageNet stem). The R50 search cells keep 1 layer instead of the
/// recipe's 6 or 4 (<c>Heads.EncoderLayers</c>, a run option) because one 2048-wide mixed layer
/// alone is 16.8 M parameters; the R18 search cells have the recipe's depth.
/// </summary>
public static class ParityCases
{
    static RunOptions Recipe(Framework f, string backbone, Func<HeadOptions, HeadOptions>? heads = null,
        CompatOptions? compat = null)
    {
        var o = RunPresets.ForFramework(f);
        return o with { Backbone = backbone, Heads = heads?.Invoke(o.Heads) ?? o.Heads, Compat = compat ?? o.Compat };
    }

    /// <summary>
    /// MoCo final models only: the product trains the final cell on the query side with a momentum
    /// copy on the key side (its D2 fix), while the reference shares ONE frozen cell between both
    /// (method doc 4.2, 9 D2), so both cells' BN running statistics and counters differ. The
    /// search model shares the live cell and orders q1, k2, q2, k1 as the reference does, so its
    /// buffers are compared like every other case.
    /// </summary>
    static readonly KnownDivergence[] MoCoFinalKeyCell =
    [
        new(@"^(cell_encoder|encoder_[qk]\.fc\.0)\..*(running_|num_batches_tracked)", "MoCo final cell BN stats: query cell + momentum key copy in the product (D2 fixed); one shared frozen cell that sees both passes in the reference"),
    ];

    static readonly CompatOptions MoCoD1 = new() { MocoReferenceBatchNorm = true };

    /// <summary>All cases, in table order.</summary>
    public static IReadOnlyList<ParityCase> All { get; } =
    [
        // ResNet-18, CIFAR stem (the reference converts R18 whatever the data set), 32x32, batch 4.
        new("r18-cifar simsiam search", "resnet18", Recipe(Framework.SimSiam, "resnet18"), "search", true, 32, 16),
        new("r18-cifar simsiam final", "resnet18", Recipe(Framework.SimSiam, "resnet18"), "final", true, 32, 16, "cifar10_resnet18"),
        new("r18-cifar simsiam standard", "resnet18", Recipe(Framework.SimSiam, "resnet18"), "standard", true, 32, 16),
        new("r18-cifar moco search D1", "resnet18", Recipe(Framework.MoCo, "resnet18", compat: MoCoD1), "search", true, 32, 16),
        new("r18-cifar moco search", "resnet18", Recipe(Framework.MoCo, "resnet18"), "search", true, 32, 16),
        new("r18-cifar moco final", "resnet18", Recipe(Framework.MoCo, "resnet18"), "final", true, 32, 16, "cifar10_resnet18", MoCoFinalKeyCell),
        new("r18-cifar moco standard", "resnet18", Recipe(Framework.MoCo, "resnet18"), "standard", true, 32, 16),
        // ResNet-18, ImageNet stem (what the product uses for image folders), 64x64.
        new("r18-imagenet simsiam final", "resnet18", Recipe(Framework.SimSiam, "resnet18"), "final", false, 64, 16, "cifar10_resnet18"),
        // ResNet-50, CIFAR stem: SimCLR's trunk (doc 3), 32x32, batch 2.
        new("r50-cifar simclr search", "resnet50", Recipe(Framework.SimClr, "resnet50"), "search", true, 32, 16),
        new("r50-cifar simclr final", "resnet50", Recipe(Framework.SimClr, "resnet50"), "final", true, 32, 16, "cifar10_resnet50"),
        new("r50-cifar simclr standard", "resnet50", Recipe(Framework.SimClr, "resnet50"), "standard", true, 32, 16),
        // ResNet-50, ImageNet stem: how the reference builds SimSiam and MoCo R50 (D18), 64x64, batch 2.
        new("r50-imagenet simsiam search", "resnet50", Recipe(Framework.SimSiam, "resnet50", h => h with { EncoderLayers = 1 }), "search", false, 64, 16),
        new("r50-imagenet simsiam final", "resnet50", Recipe(Framework.SimSiam, "resnet50"), "final", false, 64, 16, "cifar10_resnet50"),
        new("r50-imagenet moco search D1", "resnet50", Recipe(Framework.MoCo, "resnet50", h => h with { EncoderLayers = 1 }, MoCoD1), "search", false, 64, 16),
        new("r50-imagenet moco final", "resnet50", Recipe(Framework.MoCo, "resnet50"), "final", false, 64, 16, "cifar10_resnet50", MoCoFinalKeyCell),
    ];

    /// <summary>The case called <paramref name="name"/>.</summary>
    public static ParityCase Get(string name) =>
        All.FirstOrDefault(c => c.Name == name) ?? throw new ArgumentException($"No parity case '{name}'.");
}

namespace NASiam.Core.Genotypes;

/// <summary>A named genotype shipped with the product.</summary>
public sealed record GenotypePreset(string Name, Framework Framework, string Description, Genotype? Genotype)
{
    /// <summary>True for the baseline heads of the original papers (no genotype).</summary>
    public bool IsStandard => Genotype is null;
}

/// <summary>
/// The reference's published genotypes (method doc 5.8), typed in from the method doc, plus
/// "standard" (the baseline heads). Names are "framework/file", e.g. "simsiam/cifar10_resnet18".
/// </summary>
public static class GenotypePresets
{
    static IReadOnlyList<IReadOnlyList<string>> L(params string[] ops) => ops.Select(o => (IReadOnlyList<string>)[o]).ToArray();

    const string Relu = "linear_relu", Silu = "linear_silu", Hswish = "linear_hardswish", Elu = "linear_elu",
        Id = "identity", Avg = "avgpool_3x3";

    public static IReadOnlyList<GenotypePreset> All { get; } =
    [
        new("simsiam/standard", Framework.SimSiam, "SimSiam baseline: 2x[Lin-BN-ReLU] projector, Lin-BN-ReLU-Lin predictor", null),
        new("simsiam/cifar10_resnet18", Framework.SimSiam, "NASiam SimSiam, CIFAR-10, ResNet-18",
            new(L(Relu, Silu, Elu, Id, Id, Relu), L(Hswish, Avg, Avg, Hswish))),
        new("simsiam/cifar10_resnet50", Framework.SimSiam, "NASiam SimSiam, CIFAR-10, ResNet-50",
            new(L(Silu, Hswish, Hswish, Hswish, Silu, Silu), L(Hswish, Hswish, Avg, Silu))),
        new("simsiam/cifar100_resnet50", Framework.SimSiam, "NASiam SimSiam, CIFAR-100, ResNet-50 (also the README's ImageNet choice)",
            new(L(Id, Silu, Silu, Elu, Silu, Elu), L(Elu, Elu, Elu, Hswish))),
        new("moco/standard", Framework.MoCo, "MoCo v2 baseline: Lin-ReLU then fc(→128)", null),
        new("moco/cifar10_resnet18", Framework.MoCo, "NASiam MoCo v2, CIFAR-10, ResNet-18 (searched under defect D1)",
            new(L(Avg, Avg, Avg, Avg), null)),
        new("moco/cifar100_resnet18", Framework.MoCo, "NASiam MoCo v2, CIFAR-100, ResNet-18 (searched under defect D1)",
            new(L(Avg, Avg, Avg, Avg), null)),
        new("moco/cifar10_resnet50", Framework.MoCo, "NASiam MoCo v2, CIFAR-10, ResNet-50 (searched under defect D1)",
            new(L(Id, Avg, Avg, Avg), null)),
        new("simclr/standard", Framework.SimClr, "SimCLR baseline: Lin(nb)-BN-ReLU-Lin(b) 2048→512→128", null),
        new("simclr/cifar10_resnet50", Framework.SimClr, "NASiam SimCLR, CIFAR-10, ResNet-50",
            new(null, L(Hswish, Hswish, Avg, Relu, Relu, Relu))),
    ];

    /// <summary>Finds a preset by "framework/name" or, with a framework, by bare name ("cifar10_resnet18", "standard").</summary>
    public static GenotypePreset? Find(string name, Framework? framework = null)
    {
        var n = name.Trim().ToLowerInvariant();
        var hit = All.FirstOrDefault(p => p.Name == n);
        if (hit is null && framework is { } f) hit = All.FirstOrDefault(p => p.Name == $"{f.ToName()}/{n}");
        return hit;
    }
}

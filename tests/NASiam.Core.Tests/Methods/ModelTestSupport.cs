using NASiam.Core.Genotypes;
using NASiam.Core.Methods;
using NASiam.Core.Options;

namespace NASiam.Core.Tests.Methods;

/// <summary>Small specs for CPU tests.</summary>
static class ModelTestSupport
{
    /// <summary>Tiny head widths: SimSiam dim 32 / pred 8, MoCo dim 16, SimCLR 16 via 8.</summary>
    public static HeadOptions TinyHeads(Framework f, int queue = 16) => f switch
    {
        Framework.SimSiam => new HeadOptions { Dim = 32, PredDim = 8 },
        Framework.MoCo => new HeadOptions { Dim = 16, QueueSize = queue, Temperature = 0.1 },
        _ => new HeadOptions { Dim = 16, PredDim = 8, Temperature = 0.5 },
    };

    public static ModelSpec Spec(Framework f, bool search, Genotype? genotype = null, string backbone = "resnet-tiny",
        CompatOptions? compat = null, int queue = 16) =>
        new(f, backbone, search, genotype, TinyHeads(f, queue), compat ?? new CompatOptions());

    public static Genotype? PresetFor(Framework f) => f switch
    {
        Framework.SimSiam => GenotypePresets.Find("simsiam/cifar10_resnet18")!.Genotype,
        Framework.MoCo => GenotypePresets.Find("moco/cifar10_resnet50")!.Genotype,
        _ => GenotypePresets.Find("simclr/cifar10_resnet50")!.Genotype,
    };

    public static long ParamCount(TorchSharp.torch.nn.Module m) => m.parameters().Sum(p => p.numel());
}

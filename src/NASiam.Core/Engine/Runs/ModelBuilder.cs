using NASiam.Core.Genotypes;
using NASiam.Core.Methods;
using NASiam.Core.Options;
using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Engine.Runs;

/// <summary>Builds seeded models for the stages and resolves genotype references.</summary>
public static class ModelBuilder
{
    /// <summary>The search-form model on <paramref name="env"/>'s device, weights seeded from the run seed; <paramref name="log"/> as in <see cref="Create"/>.</summary>
    public static SiameseModel Search(StageEnvironment env, SetupLog? log = null) =>
        Create(env.Options, true, null, env.Device, env.CifarStem, env.Options.Seed, log);

    /// <summary>A fixed-form model with <paramref name="genotype"/> (null = baseline heads) on the device, seeded; <paramref name="log"/> as in <see cref="Create"/>.</summary>
    public static SiameseModel Fixed(StageEnvironment env, Genotype? genotype, int seedOffset = 1, SetupLog? log = null) =>
        Create(env.Options, false, genotype, env.Device, env.CifarStem, env.Options.Seed + seedOffset, log);

    /// <summary>
    /// Builds a model from explicit options (e.g. those saved in a checkpoint): search or fixed
    /// form, seeded with <paramref name="seed"/>, moved to <paramref name="device"/>. MoCo uses the
    /// search momentum in search form and the pre-training momentum otherwise. On the CPU,
    /// <paramref name="log"/> (a run's log) gets the kernel self-check's lines: that it is probing
    /// (once per host, as a wait) and the convolution setting chosen (as a note).
    /// </summary>
    public static SiameseModel Create(RunOptions o, bool search, Genotype? genotype, Device device, bool cifarStem, int seed, SetupLog? log = null)
    {
        manual_seed(seed);
        var momentum = search ? o.Heads.SearchMomentum : o.Heads.PretrainMomentum;
        var model = ModelFactory.Create(new ModelSpec(o.Framework, o.Backbone, search, genotype, o.Heads, o.Compat, cifarStem, momentum));
        model.to(device);
        model.BackbonePrecision = o.BackbonePrecision; // autocast of the trunk in training steps (heads stay fp32)
        // CPU: the layout and strided-1x1 workaround the kernel self-check found correct (and fastest) on this host; libtorch 2.10's oneDNN kernels are wrong or crash on some AVX-512 CPUs (docs/kernel-faults.md).
        if (device.type == DeviceType.CPU) Numerics.KernelSelfCheck.ApplyCpuChoice(model, o.Backbone, cifarStem, log);
        return model;
    }

    /// <summary>
    /// The one stem rule (method doc 3, defect D18): the CIFAR stem (3x3 stride-1 conv, no
    /// max-pool) for CIFAR and synthetic data, the ImageNet stem for image folders. Under
    /// Compat.ResNet50ImageNetStemOnCifar, SimSiam and MoCo on ResNet-50 keep the ImageNet stem on
    /// CIFAR too (the reference converts only "resnet18"); SimCLR's reference trunk is always
    /// CIFAR-style, so the switch leaves it alone. Stages and checkpoint export both call this.
    /// </summary>
    public static bool CifarStem(RunOptions o) =>
        o.Dataset != "folder" &&
        !(o.Compat.ResNet50ImageNetStemOnCifar && o.Backbone == "resnet50" && o.Framework is (Framework.SimSiam or Framework.MoCo));


    /// <summary>Weight groups as optimizer specs (predictor groups may keep a fixed rate).</summary>
    public static IEnumerable<Optimization.ParameterGroupSpec> Groups(SiameseModel model) =>
        model.WeightGroups().Select(g => new Optimization.ParameterGroupSpec(g.Name, g.Parameters, g.IsPredictor));
}

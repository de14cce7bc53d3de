using NASiam.Core.Genotypes;
using NASiam.Core.Methods;
using NASiam.Core.Options;
using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Engine.Runs;

/// <summary>Builds seeded models for the stages and resolves genotype references.</summary>
public static class ModelBuilder
{
    /// <summary>The search-form model on <paramref name="env"/>'s device, weights seeded from the run seed.</summary>
    public static SiameseModel Search(StageEnvironment env) => Create(env.Options, true, null, env.Device, env.CifarStem, env.Options.Seed);

    /// <summary>A fixed-form model with <paramref name="genotype"/> (null = baseline heads) on the device, seeded.</summary>
    public static SiameseModel Fixed(StageEnvironment env, Genotype? genotype, int seedOffset = 1) =>
        Create(env.Options, false, genotype, env.Device, env.CifarStem, env.Options.Seed + seedOffset);

    /// <summary>
    /// Builds a model from explicit options (e.g. those saved in a checkpoint): search or fixed
    /// form, seeded with <paramref name="seed"/>, moved to <paramref name="device"/>. MoCo uses the
    /// search momentum in search form and the pre-training momentum otherwise.
    /// </summary>
    public static SiameseModel Create(RunOptions o, bool search, Genotype? genotype, Device device, bool cifarStem, int seed)
    {
        manual_seed(seed);
        var momentum = search ? o.Heads.SearchMomentum : o.Heads.PretrainMomentum;
        var model = ModelFactory.Create(new ModelSpec(o.Framework, o.Backbone, search, genotype, o.Heads, o.Compat, cifarStem, momentum));
        model.to(device);
        // libtorch's NHWC (oneDNN brgemm) kernels beat its NCHW path on CPU; results are equal to 1e-5.
        if (device.type == DeviceType.CPU) model.UseChannelsLast();
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

    /// <summary>
    /// Resolves "standard" (null), a preset name ("cifar10_resnet18" or "simsiam/cifar10_resnet18"),
    /// a file (reference text or JSON) or inline text into a genotype checked against the framework.
    /// </summary>
    public static Genotype? ResolveGenotype(string? reference, Framework framework)
    {
        if (string.IsNullOrWhiteSpace(reference) || reference.Trim().Equals("standard", StringComparison.OrdinalIgnoreCase)) return null;
        var preset = GenotypePresets.Find(reference, framework);
        if (preset is not null)
        {
            if (preset.Framework != framework)
                throw new ArgumentException($"Genotype preset '{preset.Name}' is for {preset.Framework.ToName()}, not {framework.ToName()}.");
            return preset.Genotype;
        }
        var text = reference.Trim();
        if (File.Exists(text)) text = File.ReadAllText(text).Trim();
        else if (!text.StartsWith("Genotype", StringComparison.Ordinal) && !text.StartsWith('{'))
            throw new ArgumentException($"Pretrain.Genotype '{reference}' is not 'standard', a preset, an existing file or genotype text.");
        var genotype = text.StartsWith('{') ? GenotypeJson.Parse(text, null) : GenotypeText.Parse(text, null);
        GenotypeRules.ValidateFields(genotype, framework);
        return genotype;
    }

    /// <summary>Weight groups as optimizer specs (predictor groups may keep a fixed rate).</summary>
    public static IEnumerable<Optimization.ParameterGroupSpec> Groups(SiameseModel model) =>
        model.WeightGroups().Select(g => new Optimization.ParameterGroupSpec(g.Name, g.Parameters, g.IsPredictor));
}

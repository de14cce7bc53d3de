using NASiam.Core.Genotypes;

namespace NASiam.Core.Options;

/// <summary>
/// Named starting points (a preset is a complete <see cref="RunOptions"/>; requests override its
/// fields through <see cref="RunRequestResolver"/>):
/// <list type="bullet">
/// <item><c>quick-demo</c>: resnet-tiny on the built-in synthetic set, a few CPU minutes per stage.</item>
/// <item><c>&lt;framework&gt;-&lt;dataset&gt;</c>: the method's CIFAR pipeline (method doc 5.2, 6.1, 7) with
/// the reference code's defects fixed (doc 9: D1, D2, D7, D18, D22 all off). The pipeline pre-trains
/// the genotype it searched (doc 1 step 3).</item>
/// <item><c>&lt;framework&gt;-&lt;dataset&gt;-reference</c>: the same recipe with every compat switch of
/// that framework on, to reproduce the conditions under which the released genotypes were found.</item>
/// </list>
/// </summary>
public static class RunPresets
{
    public const string QuickDemo = "quick-demo";
    /// <summary>Suffix of the presets that reproduce the reference code's defects.</summary>
    public const string ReferenceSuffix = "-reference";

    /// <summary>
    /// The quick demo's framework when a request names none (every door): SimCLR, because in the
    /// demo's ~2 CPU minutes it is the framework whose searched heads learn clearly (SimSiam's
    /// searched heads collapse dimensionally on resnet-tiny in that budget).
    /// </summary>
    public const Framework QuickDemoDefaultFramework = Framework.SimClr;

    static readonly string[] CifarSets = ["cifar10", "cifar100"];

    /// <summary>Preset names with a one-line description.</summary>
    public static IReadOnlyDictionary<string, string> Descriptions { get; } = BuildDescriptions();

    static Dictionary<string, string> BuildDescriptions()
    {
        var d = new Dictionary<string, string>
        {
            [QuickDemo] = "resnet-tiny on the built-in synthetic set, CPU, about two minutes per stage",
        };
        foreach (var f in Enum.GetValues<Framework>())
            foreach (var ds in CifarSets)
            {
                d[$"{f.ToName()}-{ds}"] = $"{f.ToName()} pipeline on {ds}: the method's recipe (search 100 ep, pre-train the searched heads 800 ep, linear eval), reference defects fixed";
                d[$"{f.ToName()}-{ds}{ReferenceSuffix}"] = $"as {f.ToName()}-{ds}, with the reference code's defects reproduced ({string.Join(", ", CompatSwitches(f))}) as the released genotypes were found";
            }
        return d;
    }

    /// <summary>The reference recipe defaults of one framework (CIFAR, ResNet-18 where the framework has it).</summary>
    public static RunOptions ForFramework(Framework framework) => framework switch
    {
        Framework.SimSiam => new RunOptions { Framework = Framework.SimSiam, Backbone = "resnet18" },
        Framework.MoCo => new RunOptions
        {
            Framework = Framework.MoCo,
            Backbone = "resnet18",
            Heads = new HeadOptions { Dim = 128, QueueSize = 4096, SearchMomentum = 0.999, PretrainMomentum = 0.99, Temperature = 0.1 },
            Search = new SearchStageOptions
            {
                BatchSize = 512, Lr = 0.06, LrScaling = LrScaling.Absolute, WeightDecay = 5e-4,
                FixPredictorLr = false, AlphaOptimizer = OptimizerKind.Adam, AlphaLr = 3e-4, AlphaWeightDecay = 1e-3,
            },
            Pretrain = new PretrainStageOptions
            {
                BatchSize = 512, Lr = 0.06, LrScaling = LrScaling.Absolute, WeightDecay = 5e-4, FixPredictorLr = false,
            },
            Linear = new LinearStageOptions
            {
                Epochs = 100, BatchSize = 256, Lr = 30, LrScaling = LrScaling.Absolute, Schedule = LrSchedule.Step,
            },
        },
        Framework.SimClr => new RunOptions
        {
            Framework = Framework.SimClr,
            Backbone = "resnet50",
            Heads = new HeadOptions { Dim = 128, PredDim = 512, Temperature = 0.5 },
            Search = new SearchStageOptions
            {
                BatchSize = 256, Optimizer = OptimizerKind.Adam, Lr = 1e-3, LrScaling = LrScaling.Absolute,
                WeightDecay = 1e-6, Schedule = LrSchedule.Constant, FixPredictorLr = false,
                AlphaOptimizer = OptimizerKind.Adam, AlphaLr = 1e-3, AlphaWeightDecay = 0,
            },
            Pretrain = new PretrainStageOptions
            {
                Epochs = 800, BatchSize = 512, Optimizer = OptimizerKind.Adam, Lr = 1e-3, LrScaling = LrScaling.Absolute,
                WeightDecay = 1e-6, Schedule = LrSchedule.Constant, FixPredictorLr = false,
            },
            Linear = new LinearStageOptions
            {
                Epochs = 100, BatchSize = 512, Optimizer = OptimizerKind.Adam, Lr = 1e-3, LrScaling = LrScaling.Absolute,
                WeightDecay = 1e-6, Schedule = LrSchedule.Constant,
            },
        },
        _ => throw new ArgumentOutOfRangeException(nameof(framework)),
    };

    /// <summary>The quick demo for one framework: small enough for 2 CPU cores.</summary>
    public static RunOptions QuickDemoFor(Framework framework)
    {
        var b = ForFramework(framework);
        var demo = b with
        {
            Name = $"{QuickDemo} ({framework.ToName()})",
            Kind = RunKind.Search,
            Backbone = "resnet-tiny",
            Dataset = "synthetic",
            SyntheticTrainSize = 2048,
            Device = "cpu",
            AlphaLogEverySteps = 2,
            Heads = b.Heads with
            {
                Dim = framework == Framework.SimSiam ? 256 : 64,
                PredDim = 64,
                QueueSize = 512,
            },
            // 4 epochs stand in for the reference's 100, so the alpha LR is 10x the framework's: with the
            // reference value the softmax weights end within 0.01 of 1/7 and the heatmap barely moves.
            // Scaled in decimal so the option reads 0.003, not 0.0029999999999999996 (3e-4 * 10 in binary).
            Search = b.Search with { Epochs = 4, BatchSize = 64, AlphaLr = (double)((decimal)b.Search.AlphaLr * 10) },
            // ~576 steps on 2 cores: the reference's SGD + cosine recipes barely move resnet-tiny in that
            // budget (SimSiam/MoCo kNN stayed at untrained level), while Adam 1e-3 constant (SimCLR's
            // own recipe) learns shape for every framework (synthetic kNN 38-82 % after 18 epochs).
            Pretrain = b.Pretrain with
            {
                Epochs = 18, BatchSize = 64, KnnK = 20, Genotype = GenotypeReference.Searched,
                Optimizer = OptimizerKind.Adam, Lr = 1e-3, LrScaling = LrScaling.Absolute,
                WeightDecay = 1e-6, Schedule = LrSchedule.Constant, FixPredictorLr = false,
            },
            Linear = b.Linear with
            {
                Epochs = 10, BatchSize = 128,
                // resnet-tiny's features are not scaled like ResNet-18's: lr 30 diverges on them (initial
                // loss in the hundreds); standardised features and lr 0.1 train stably (SimCLR keeps Adam).
                Lr = framework == Framework.SimClr ? 1e-2 : 0.1,
                LrScaling = LrScaling.Absolute,
                NormalizeFeatures = true,
            },
        };
        // SimSiam keeps two parts of its own recipe (method doc 6.1): weight decay 5e-4 and the predictor at a
        // fixed LR. With 1e-6 and a scheduled predictor its standard heads barely moved (8 epochs, seed 0: kNN
        // 17.6 %, linear top-1 26.4 %); with these, kNN 25.7 %, linear 29.8 % (README, genotype vs baseline).
        return framework == Framework.SimSiam
            ? demo with { Pretrain = demo.Pretrain with { WeightDecay = 5e-4, FixPredictorLr = true } }
            : demo;
    }

    /// <summary>The method-doc 9 defects that <paramref name="framework"/>'s "-reference" presets reproduce.</summary>
    public static IReadOnlyList<string> CompatSwitches(Framework framework) => framework switch
    {
        Framework.SimSiam => ["D18 (ResNet-50 keeps the ImageNet stem on CIFAR)", "D20 (image folders)"],
        Framework.MoCo => ["D1", "D2", "D22", "D18 (ResNet-50)", "D20 (image folders)"],
        Framework.SimClr => ["D7", "D20 (image folders)"],
        _ => [],
    };

    /// <summary>The compat switches of doc 9 that the reference code had, for one framework (D18 only bites on ResNet-50).</summary>
    public static CompatOptions ReferenceCompat(Framework framework) => framework switch
    {
        Framework.SimSiam => new CompatOptions { ResNet50ImageNetStemOnCifar = true, ImageNetSearchFirstQuarter = true },
        Framework.MoCo => new CompatOptions
        {
            MocoReferenceBatchNorm = true, MocoFrozenSharedCell = true, MocoQueueOnArchStep = true, ResNet50ImageNetStemOnCifar = true,
            ImageNetSearchFirstQuarter = true,
        },
        Framework.SimClr => new CompatOptions { SimClrAlphaStepPerEpoch = true, ImageNetSearchFirstQuarter = true },
        _ => new CompatOptions(),
    };

    /// <summary>Every preset name.</summary>
    public static IEnumerable<string> Names => Descriptions.Keys;

    /// <summary>
    /// Looks a preset up by name (case-insensitive). <paramref name="framework"/> picks the quick
    /// demo's flavour (default <see cref="QuickDemoDefaultFramework"/>); for a framework preset it
    /// must match the preset's own framework.
    /// </summary>
    /// <exception cref="ArgumentException">Unknown preset, or a framework that contradicts it.</exception>
    public static RunOptions Get(string name, Framework? framework = null)
    {
        var n = name.Trim().ToLowerInvariant();
        if (n == QuickDemo) return QuickDemoFor(framework ?? QuickDemoDefaultFramework);
        foreach (var f in Enum.GetValues<Framework>())
            foreach (var ds in CifarSets)
            {
                bool reference = n == $"{f.ToName()}-{ds}{ReferenceSuffix}";
                if (n != $"{f.ToName()}-{ds}" && !reference) continue;
                if (framework is { } asked && asked != f)
                    throw new ArgumentException($"Preset '{n}' is a {f.ToName()} preset; for {asked.ToName()} use '{asked.ToName()}-{ds}{(reference ? ReferenceSuffix : "")}'.");
                var o = ForFramework(f);
                return o with
                {
                    Name = n, Dataset = ds, Kind = RunKind.Pipeline, Device = "auto",
                    // A pipeline pre-trains what it searched (method doc 1 step 3).
                    Pretrain = o.Pretrain with { Genotype = GenotypeReference.Searched },
                    Compat = reference ? ReferenceCompat(f) : new CompatOptions(),
                };
            }
        // A comparison preset given where a run preset is read: say what it is and where it goes at each door, not "unknown".
        if (Comparison.ComparisonPresets.Find(n) is not null)
            throw new ArgumentException($"'{n}' is a comparison preset (a genotype against the standard heads over seeds), not a run preset: " +
                $"queue it as a comparison (POST /api/comparisons, the dashboard's Genotype vs baseline, or 'nasiam compare --preset {n}'). " +
                $"Run presets: {string.Join(", ", Descriptions.Keys)}.");
        throw new ArgumentException($"Unknown preset '{name}'. Valid: {string.Join(", ", Descriptions.Keys)}.");
    }
}

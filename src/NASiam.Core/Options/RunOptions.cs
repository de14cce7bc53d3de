using NASiam.Core.Genotypes;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace NASiam.Core.Options;

/// <summary>What a run does: one stage, or the whole NASiam pipeline. Names: search, pretrain, lincls, pipeline.</summary>
public enum RunKind
{
    Search,
    Pretrain,
    /// <summary>Linear evaluation (the reference's main_lincls.py).</summary>
    [JsonStringEnumMemberName("lincls"), EnumAlias("lin-cls"), EnumAlias("linear")] LinCls,
    Pipeline,
}

/// <summary>Weight optimizer. Names: sgd, adam, adamw.</summary>
public enum OptimizerKind { Sgd, Adam, [JsonStringEnumMemberName("adamw"), EnumAlias("adam-w")] AdamW }

/// <summary>Learning-rate schedule, stepped once per epoch (method doc 5.3). Names: constant, cosine, step.</summary>
public enum LrSchedule { Constant, Cosine, Step }

/// <summary>
/// Precision of the backbone's training forward (autocast; heads and losses stay fp32). Names: fp32, bf16.
/// bf16 runs convolutions and matrix products in bfloat16 on the CPU (fast on CPUs with AVX512-BF16
/// or AMX) and on CUDA (the reference's --amp uses fp16 with a grad scaler there; bf16 needs none).
/// </summary>
public enum BackbonePrecision { Fp32, Bf16 }

/// <summary>How the configured learning rate becomes the initial one.</summary>
public enum LrScaling
{
    /// <summary>The value is used as is.</summary>
    Absolute,
    /// <summary>The value is per 256 images: initial lr = lr · batch / 256 (SimSiam; the linear scaling rule).</summary>
    [JsonStringEnumMemberName("per256"), EnumAlias("per-batch256"), EnumAlias("perbatch256")] PerBatch256,
}

/// <summary>
/// Complete, immutable description of one run. It is saved inside every checkpoint and result,
/// so any artefact explains itself. Host settings (paths, device pools) never live here.
/// Defaults are the method doc's SimSiam CIFAR values; <see cref="RunPresets"/> gives the others.
/// </summary>
public sealed record RunOptions
{
    /// <summary>Free display name.</summary>
    public string? Name { get; init; }
    public RunKind Kind { get; init; } = RunKind.Search;
    public Framework Framework { get; init; } = Framework.SimSiam;
    /// <summary>resnet-tiny | resnet18 | resnet50.</summary>
    public string Backbone { get; init; } = "resnet18";
    /// <summary>synthetic | cifar10 | cifar100 | folder.</summary>
    public string Dataset { get; init; } = "synthetic";
    /// <summary>Folder holding the data set (CIFAR root or image folder); null for synthetic.</summary>
    public string? DataPath { get; init; }
    /// <summary>CIFAR-100 coarse (20-class) labels instead of fine ones.</summary>
    public bool CoarseLabels { get; init; }
    /// <summary>Synthetic data set size (train images); test is a fifth of it.</summary>
    public int SyntheticTrainSize { get; init; } = 5000;
    /// <summary>Image size and decode workers (<c>data.imageSize</c>, <c>data.workers</c>).</summary>
    public DataOptions Data { get; init; } = new();
    /// <summary>Seed for weights, data order and augmentation.</summary>
    public int Seed { get; init; } = 0;
    /// <summary>auto (CUDA when available, else CPU) | cpu | cuda | cuda:N.</summary>
    public string Device { get; init; } = "auto";
    /// <summary>CPU threads for torch; 0 = the host's choice (all cores for the CLI).</summary>
    public int Threads { get; init; }
    /// <summary>Backbone precision in training steps (autocast); fp32 by default.</summary>
    public BackbonePrecision BackbonePrecision { get; init; } = BackbonePrecision.Fp32;
    /// <summary>Optional cap on weight steps per stage (demos, tests, benchmarks); null = full epochs.</summary>
    public long? MaxStepsPerStage { get; init; }
    /// <summary>Log loss/lr every N steps (the step event; 1 = every step).</summary>
    public int LogEverySteps { get; init; } = 1;
    /// <summary>Report alphas every N steps during search.</summary>
    public int AlphaLogEverySteps { get; init; } = 10;
    /// <summary>Save a checkpoint every N epochs (the last epoch always saves).</summary>
    public int CheckpointEveryEpochs { get; init; } = 1;

    public HeadOptions Heads { get; init; } = new();
    public SearchStageOptions Search { get; init; } = new();
    public PretrainStageOptions Pretrain { get; init; } = new();
    public LinearStageOptions Linear { get; init; } = new();
    public CompatOptions Compat { get; init; } = new();

    /// <summary>All validation errors as "field.path: message" text; empty when valid.</summary>
    public IReadOnlyList<string> Validate() => RunOptionsValidator.Validate(this);

    /// <summary>All validation errors with their JSON field paths (<c>search.epochs</c>); empty when valid.</summary>
    public IReadOnlyList<FieldError> ValidateFields() => RunOptionsValidator.ValidateFields(this);

    /// <summary>Throws <see cref="ArgumentException"/> with every message when invalid.</summary>
    public RunOptions EnsureValid()
    {
        var errors = Validate();
        if (errors.Count > 0) throw new ArgumentException("Invalid run options: " + string.Join("; ", errors));
        return this;
    }

    /// <summary>JSON settings used for options everywhere (files, checkpoints, API).</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        // One spelling for enum values everywhere (simsiam, lincls, adamw); older kebab-case rows still read.
        Converters = { new CanonicalEnumConverterFactory() },
        // Names and paths as typed ("search · pretrain", "données/"), not \u00B7 escapes: --print-options and result.json
        // are read by people. The JSON is never inlined into HTML or script.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Parses options JSON; malformed JSON throws <see cref="ArgumentException"/> naming the problem.</summary>
    public static RunOptions FromJson(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<RunOptions>(json, Json)
                   ?? throw new ArgumentException("Run options JSON is null.");
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"Run options JSON is malformed: {e.Message}", e);
        }
    }
}

/// <summary>
/// How images reach the model. Image folders are streamed from disk (<see cref="NASiam.Core.Data.DataSets.IsStreamed"/>);
/// CIFAR and synthetic sets are held in memory.
/// </summary>
public sealed record DataOptions
{
    /// <summary>
    /// Side in px of the images the model sees; null = the data set's own (CIFAR and synthetic 32,
    /// image folders 224 = the ImageNet recipe: RandomResizedCrop 224, Resize 256 + CenterCrop 224).
    /// CIFAR accepts only 32.
    /// </summary>
    public int? ImageSize { get; init; }
    /// <summary>Image folders: decode threads reading each batch; 0 = one per core.</summary>
    public int Workers { get; init; }
}

/// <summary>Head dimensions and loss hyper-parameters (method doc 4).</summary>
public sealed record HeadOptions
{
    /// <summary>Projector output dim: 2048 (SimSiam) or 128 (MoCo, SimCLR).</summary>
    public int Dim { get; init; } = 2048;
    /// <summary>Hidden width of the SimSiam predictor and SimCLR head: 512.</summary>
    public int PredDim { get; init; } = 512;
    /// <summary>Search cell depths (layers); null = framework default (SimSiam 6/4, MoCo 4, SimCLR 6).</summary>
    public int? EncoderLayers { get; init; }
    public int? PredictorLayers { get; init; }
    /// <summary>MoCo queue length K (must be a multiple of 2·batch).</summary>
    public int QueueSize { get; init; } = 4096;
    /// <summary>MoCo key-encoder momentum during search (0.999).</summary>
    public double SearchMomentum { get; init; } = 0.999;
    /// <summary>MoCo key-encoder momentum during pre-training (0.99).</summary>
    public double PretrainMomentum { get; init; } = 0.99;
    /// <summary>Softmax temperature: MoCo 0.1, SimCLR 0.5 (unused by SimSiam).</summary>
    public double Temperature { get; init; } = 0.1;
}

/// <summary>Search stage (method doc 5.2).</summary>
public sealed record SearchStageOptions
{
    public int Epochs { get; init; } = 100;
    public int BatchSize { get; init; } = 512;
    /// <summary>Fraction of the training set used for weights; the rest trains alphas (0.5).</summary>
    public double TrainPortion { get; init; } = 0.5;
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Sgd;
    /// <summary>Weight LR; see <see cref="LrScaling"/>.</summary>
    public double Lr { get; init; } = 0.06;
    public LrScaling LrScaling { get; init; } = LrScaling.PerBatch256;
    public double Momentum { get; init; } = 0.9;
    public double WeightDecay { get; init; } = 5e-4;
    public LrSchedule Schedule { get; init; } = LrSchedule.Cosine;
    /// <summary>Keep the predictor group at its initial LR (SimSiam, README: on).</summary>
    public bool FixPredictorLr { get; init; } = true;
    public OptimizerKind AlphaOptimizer { get; init; } = OptimizerKind.AdamW;
    public double AlphaLr { get; init; } = 1e-3;
    public double AlphaBeta1 { get; init; } = 0.9;
    public double AlphaBeta2 { get; init; } = 0.999;
    public double AlphaWeightDecay { get; init; } = 1e-3;
}

/// <summary>Pre-training of a fixed architecture (method doc 6.1).</summary>
public sealed record PretrainStageOptions
{
    public int Epochs { get; init; } = 800;
    public int BatchSize { get; init; } = 512;
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Sgd;
    public double Lr { get; init; } = 0.06;
    public LrScaling LrScaling { get; init; } = LrScaling.PerBatch256;
    public double Momentum { get; init; } = 0.9;
    public double WeightDecay { get; init; } = 5e-4;
    public LrSchedule Schedule { get; init; } = LrSchedule.Cosine;
    public bool FixPredictorLr { get; init; } = true;
    /// <summary>
    /// The heads (a <see cref="GenotypeReference"/>): "searched" (the pipeline default: what the
    /// search stage just found), "standard" (the framework's baseline heads), a genotype preset
    /// name, genotype text (reference format or JSON), or a path to a genotype file where the host
    /// allows paths. Null reads as "searched" in a pipeline (options stored before the keyword existed).
    /// </summary>
    public string? Genotype { get; init; } = GenotypeReference.Standard;
    /// <summary>Run the kNN monitor every N epochs (0 = never).</summary>
    public int KnnEveryEpochs { get; init; } = 1;
    /// <summary>kNN neighbours (200).</summary>
    public int KnnK { get; init; } = 200;
}

/// <summary>Linear evaluation on frozen features (method doc 7).</summary>
public sealed record LinearStageOptions
{
    public int Epochs { get; init; } = 90;
    public int BatchSize { get; init; } = 512;
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Sgd;
    /// <summary>README lr 30 per 256 → 60 at batch 512 (SimSiam).</summary>
    public double Lr { get; init; } = 30;
    public LrScaling LrScaling { get; init; } = LrScaling.PerBatch256;
    public double Momentum { get; init; } = 0.9;
    public double WeightDecay { get; init; }
    public LrSchedule Schedule { get; init; } = LrSchedule.Cosine;
    /// <summary>
    /// Standardise the frozen features with a non-affine BatchNorm before the classifier (as MAE and
    /// solo-learn probes do). Off for the reference recipes (method doc 7 has none); the quick demo
    /// turns it on because resnet-tiny's feature scale makes lr 30 diverge without it.
    /// </summary>
    public bool NormalizeFeatures { get; init; }
    /// <summary>Pre-training checkpoint to evaluate (lincls runs); null in a pipeline or for an untrained backbone.</summary>
    public string? Checkpoint { get; init; }
    /// <summary>
    /// Which pre-training checkpoint a pipeline evaluates: true = the kNN-best one (pretrain-best,
    /// selected on the test split, as the SimSiam and MoCo READMEs recommend), false = the last one
    /// (as the reference SimCLR does, which has no best-selection; method doc 5.6, 6.4, 9 D21).
    /// Null = the framework's reference choice: best for SimSiam and MoCo, last for SimCLR. Without a
    /// kNN monitor (Pretrain.KnnEveryEpochs = 0) there is no best and the last is evaluated.
    /// </summary>
    public bool? UseBestCheckpoint { get; init; }
}

/// <summary>Reproduce a defect of the reference code on purpose (method doc 9). All off by default.</summary>
public sealed record CompatOptions
{
    /// <summary>D1: MoCo linear ops use Lin(b) → BN(in_dim, eps = out_dim).</summary>
    public bool MocoReferenceBatchNorm { get; init; }
    /// <summary>D7: SimCLR takes one alpha step per epoch instead of one per weight step.</summary>
    public bool SimClrAlphaStepPerEpoch { get; init; }
    /// <summary>D22: MoCo momentum update and enqueue also run on alpha-step batches.</summary>
    public bool MocoQueueOnArchStep { get; init; }
    /// <summary>
    /// D18: SimSiam and MoCo with ResNet-50 on CIFAR keep the ImageNet stem (7x7 stride-2 conv and
    /// max-pool, a 1x1 map at layer4), as the released R50 genotypes were searched (method doc 3).
    /// SimCLR keeps its CIFAR stem either way: the reference SimCLR trunk is always CIFAR-style.
    /// </summary>
    public bool ResNet50ImageNetStemOnCifar { get; init; }
    /// <summary>
    /// D2: the final (pre-training) MoCo model shares ONE derived cell between the query and key
    /// heads and freezes its weights at initialisation, as the reference's MoCo builder does (its
    /// requires_grad-off loop runs after the head swap, method doc 4.2, 9 D2). The cell's BN running
    /// statistics still move (train mode, both passes). Off: the cell trains on the query side and
    /// the key side holds a momentum copy. No effect on search models or the "standard" baseline.
    /// </summary>
    public bool MocoFrozenSharedCell { get; init; }
    /// <summary>
    /// Not a reference defect: NASiam.Web's earlier MoCo search, kept to reproduce runs made with
    /// it. The key side holds a momentum copy of the search cell (mixing with the query cell's
    /// alphas, detached) instead of the reference's one live cell shared by both sides (method doc
    /// 4.2). Off by default. No effect on pre-training models.
    /// </summary>
    public bool MocoMomentumKeyCellInSearch { get; init; }
    /// <summary>
    /// D20: an image-folder (ImageNet) search uses the first quarter of the train split by index, i.e.
    /// the first quarter of the sorted classes, split by index into weight and alpha halves with
    /// disjoint classes (the reference). Off: a random, class-balanced quarter (seeded by the run seed)
    /// whose halves both hold every class.
    /// </summary>
    public bool ImageNetSearchFirstQuarter { get; init; }
}

using NASiam.Core.Genotypes;
using NASiam.Core.Backbones;
using NASiam.Core.Data;

namespace NASiam.Core.Options;

/// <summary>
/// Checks a <see cref="RunOptions"/> and names each offending field by its JSON path
/// (<c>search.epochs</c>), the same path a request's overrides, the API's problem document and the
/// New-run form use. The one place field ranges live.
/// </summary>
public static class RunOptionsValidator
{
    /// <summary>Backbone names (owned by <see cref="BackboneFactory"/>).</summary>
    public static IReadOnlyList<string> Backbones => BackboneFactory.Names;
    /// <summary>Data-set names (owned by <see cref="DataSets"/>).</summary>
    public static IReadOnlyList<string> Datasets => DataSets.Names;

    /// <summary>Range of <c>data.imageSize</c> in px: the ImageNet stem downsamples by 32; above 1024 a batch of crops would not fit a host.</summary>
    public const int MinImageSize = 32, MaxImageSize = 1024;

    /// <summary>Every problem as "path: message" text (for logs and exceptions).</summary>
    public static IReadOnlyList<string> Validate(RunOptions o) => ValidateFields(o).Select(e => e.ToString()).ToArray();

    /// <summary>The longest run name accepted, in characters.</summary>
    public const int MaxNameLength = 200;

    /// <summary>Every problem with its field path; empty when the options are valid.</summary>
    public static IReadOnlyList<FieldError> ValidateFields(RunOptions o)
    {
        var e = new List<FieldError>();
        void Check(bool ok, string field, string message) { if (!ok) e.Add(new FieldError(field, message)); }

        // A name is a label in lists and page titles, not a document.
        if (o.Name is not null && DisplayNames.Problem(o.Name, MaxNameLength) is { } nameProblem) e.Add(new FieldError("name", nameProblem));
        Check(Enum.IsDefined(o.Kind), "kind", $"must be one of {string.Join(", ", EnumNames.All<RunKind>())}");
        Check(Enum.IsDefined(o.Framework), "framework", $"must be one of {string.Join(", ", EnumNames.All<Framework>())}");
        Check(Backbones.Contains(o.Backbone), "backbone", $"unknown backbone '{o.Backbone}'; valid: {string.Join(", ", Backbones)}");
        Check(Datasets.Contains(o.Dataset), "dataset", $"unknown data set '{o.Dataset}'; valid: {string.Join(", ", Datasets)}");
        Check(o.Dataset is "synthetic" || !string.IsNullOrWhiteSpace(o.DataPath), "dataPath", $"is required for data set '{o.Dataset}'");
        // A folder beside the built-in set was stored with the run and read by nothing: the run looked as if it used it.
        Check(o.Dataset is not "synthetic" || string.IsNullOrWhiteSpace(o.DataPath), "dataPath",
            "the synthetic data set is built in and reads no folder: set dataset to folder, cifar10 or cifar100 to train on this one, or leave dataPath empty");
        Check(o.SyntheticTrainSize is >= 100 and <= 1_000_000, "syntheticTrainSize", "must be between 100 and 1000000");
        Check(o.Data is not null, "data", "must be an object ({\"imageSize\": ..., \"workers\": ...})");
        if (o.Data is { } d)
        {
            Check(d.ImageSize is null or (>= MinImageSize and <= MaxImageSize), "data.imageSize",
                $"must be between {MinImageSize} and {MaxImageSize} px (224 for the ImageNet recipe), or empty for the data set's own; got {d.ImageSize}");
            Check(d.ImageSize is null or 32 || o.Dataset is not ("cifar10" or "cifar100"), "data.imageSize",
                $"CIFAR images are 32 px; leave it empty or 32 for {o.Dataset} (got {d.ImageSize})");
            Check(d.Workers is >= 0 and <= 64, "data.workers", "must be between 0 (one per core) and 64");
        }
        Check(o.Seed >= 0, "seed", "must be >= 0");
        Check(DeviceSpec.TryParse(o.Device, out _), "device", $"'{o.Device}' is not auto, cpu, cuda or cuda:N");
        Check(o.Threads is >= 0 and <= 256, "threads", "must be between 0 (auto) and 256");
        Check(o.MaxStepsPerStage is null or > 0, "maxStepsPerStage", "must be positive when set");
        Check(o.LogEverySteps >= 1, "logEverySteps", "must be >= 1");
        Check(o.AlphaLogEverySteps >= 1, "alphaLogEverySteps", "must be >= 1");
        Check(o.CheckpointEveryEpochs >= 1, "checkpointEveryEpochs", "must be >= 1");

        var h = o.Heads;
        Check(h.Dim is >= 2 and <= 65536, "heads.dim", "must be between 2 and 65536");
        Check(h.PredDim is >= 2 and <= 65536, "heads.predDim", "must be between 2 and 65536");
        Check(h.EncoderLayers is null or (>= 1 and <= 16), "heads.encoderLayers", "must be between 1 and 16");
        Check(h.PredictorLayers is null or (>= 1 and <= 16), "heads.predictorLayers", "must be between 1 and 16");
        Check(h.QueueSize >= 1, "heads.queueSize", "must be positive");
        Check(h.SearchMomentum is >= 0 and < 1, "heads.searchMomentum", "must be in [0, 1)");
        Check(h.PretrainMomentum is >= 0 and < 1, "heads.pretrainMomentum", "must be in [0, 1)");
        Check(h.Temperature is > 0 and <= 100, "heads.temperature", "must be in (0, 100]");

        long? knownTrain = DataSets.KnownTrainCount(o.Dataset, o.SyntheticTrainSize);
        bool searches = o.Kind is RunKind.Search or RunKind.Pipeline;
        bool pretrains = o.Kind is RunKind.Pretrain or RunKind.Pipeline;
        // Every stage's own ranges hold whatever the kind: a value no stage could run (pretrain.epochs -2 on a search) is an
        // error, not a field stored and silently unread (a later pipeline, retry or evaluation of the run would inherit it).
        {
            var s = o.Search;
            Stage("search", s.Epochs, s.BatchSize, s.Lr, s.Momentum, s.WeightDecay, e);
            Check(s.TrainPortion is > 0 and < 1, "search.trainPortion", "must be in (0, 1)");
            Check(s.AlphaOptimizer is OptimizerKind.Adam or OptimizerKind.AdamW, "search.alphaOptimizer", "must be adam or adamw");
            Check(s.AlphaLr is > 0 and < 10, "search.alphaLr", "must be in (0, 10)");
            Check(s.AlphaBeta1 is >= 0 and < 1, "search.alphaBeta1", "must be in [0, 1)");
            Check(s.AlphaBeta2 is >= 0 and < 1, "search.alphaBeta2", "must be in [0, 1)");
            Check(s.AlphaWeightDecay is >= 0 and < 1, "search.alphaWeightDecay", "must be in [0, 1)");
            var p = o.Pretrain;
            Stage("pretrain", p.Epochs, p.BatchSize, p.Lr, p.Momentum, p.WeightDecay, e);
            Check(p.KnnEveryEpochs >= 0, "pretrain.knnEveryEpochs", "must be >= 0");
            Check(p.KnnK >= 1, "pretrain.knnK", "must be >= 1");
            var l = o.Linear;
            Stage("linear", l.Epochs, l.BatchSize, l.Lr, l.Momentum, l.WeightDecay, e);
        }
        if (searches)
        {
            var s = o.Search;
            if (o.Framework == Framework.MoCo)
                Check(h.QueueSize % (2 * s.BatchSize) == 0, "heads.queueSize",
                    $"must be a multiple of 2 x search.batchSize ({2 * s.BatchSize}): each step enqueues the keys of both views");
            // Known before any file is read for the synthetic set and CIFAR (an image folder's, once listed:
            // RunDataCheck): each half of the search split (doc 5.1) must fill a batch, as each step draws a full one (drop_last).
            if (knownTrain is { } n && RunDataCheck.SearchSplitError(o, n, classSizes: null) is { } split) e.Add(split);
        }
        if (pretrains)
        {
            var p = o.Pretrain;
            if (o.Kind == RunKind.Pretrain)
                Check(!string.IsNullOrWhiteSpace(p.Genotype) && !GenotypeReference.IsSearched(p.Genotype), "pretrain.genotype",
                    "a pre-training needs a genotype: 'standard', a preset name, genotype text or (from the command line) a file ('searched' exists only in a pipeline)");
            if (o.Framework == Framework.MoCo)
                Check(h.QueueSize % (2 * p.BatchSize) == 0, "heads.queueSize",
                    $"must be a multiple of 2 x pretrain.batchSize ({2 * p.BatchSize})");
            if (knownTrain is { } n)
            {
                Check(p.BatchSize <= n, "pretrain.batchSize",
                    $"{p.BatchSize} is more than the {n} train images ({RunDataCheck.TrainSource(o)}); every step draws a full batch");
                // The monitor votes with at most the bank's size; k = 100000 on 256 images ran as k = 256 and was reported as 100000.
                Check(p.KnnK <= n, "pretrain.knnK",
                    $"{p.KnnK} is more neighbours than the {n} train images of the kNN monitor's bank ({RunDataCheck.TrainSource(o)})");
            }
        }
        // A pipeline evaluates the backbone it pre-trains; a search or pre-training evaluates none.
        Check(o.Kind == RunKind.LinCls || string.IsNullOrWhiteSpace(o.Linear.Checkpoint), "linear.checkpoint",
            $"only a linear evaluation (kind lincls) reads it; a {o.Kind.ToString().ToLowerInvariant()} run would ignore it: leave it empty");
        return e;
    }

    static void Stage(string name, int epochs, int batch, double lr, double momentum, double wd, List<FieldError> e)
    {
        if (epochs is < 1 or > 100_000) e.Add(new($"{name}.epochs", "must be between 1 and 100000"));
        if (batch is < 2 or > 65_536) e.Add(new($"{name}.batchSize", "must be between 2 and 65536 (batch norm needs 2)"));
        if (!(lr > 0 && lr <= 1000)) e.Add(new($"{name}.lr", "must be in (0, 1000]"));
        if (momentum is < 0 or >= 1) e.Add(new($"{name}.momentum", "must be in [0, 1)"));
        if (wd is < 0 or >= 1) e.Add(new($"{name}.weightDecay", "must be in [0, 1)"));
    }
}

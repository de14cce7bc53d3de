namespace NASiam.Core.Options;

/// <summary>Checks a <see cref="RunOptions"/> and names each offending field.</summary>
public static class RunOptionsValidator
{
    public static readonly IReadOnlyList<string> Backbones = ["resnet-tiny", "resnet18", "resnet50"];
    public static readonly IReadOnlyList<string> Datasets = ["synthetic", "cifar10", "cifar100", "folder"];

    public static IReadOnlyList<string> Validate(RunOptions o)
    {
        var e = new List<string>();
        void Check(bool ok, string field, string message) { if (!ok) e.Add($"{field}: {message}"); }

        Check(Enum.IsDefined(o.Kind), "Kind", "must be search, pretrain, lincls or pipeline");
        Check(Enum.IsDefined(o.Framework), "Framework", "must be simsiam, moco or simclr");
        Check(Backbones.Contains(o.Backbone), "Backbone", $"unknown backbone '{o.Backbone}'; valid: {string.Join(", ", Backbones)}");
        Check(Datasets.Contains(o.Dataset), "Dataset", $"unknown data set '{o.Dataset}'; valid: {string.Join(", ", Datasets)}");
        Check(o.Dataset is "synthetic" || !string.IsNullOrWhiteSpace(o.DataPath), "DataPath", $"is required for data set '{o.Dataset}'");
        Check(o.SyntheticTrainSize is >= 100 and <= 1_000_000, "SyntheticTrainSize", "must be between 100 and 1000000");
        Check(o.Seed >= 0, "Seed", "must be >= 0");
        Check(DeviceSpec.TryParse(o.Device, out _), "Device", $"'{o.Device}' is not auto, cpu, cuda or cuda:N");
        Check(o.Threads is >= 0 and <= 256, "Threads", "must be between 0 (auto) and 256");
        Check(o.MaxStepsPerStage is null or > 0, "MaxStepsPerStage", "must be positive when set");
        Check(o.LogEverySteps >= 1, "LogEverySteps", "must be >= 1");
        Check(o.AlphaLogEverySteps >= 1, "AlphaLogEverySteps", "must be >= 1");
        Check(o.CheckpointEveryEpochs >= 1, "CheckpointEveryEpochs", "must be >= 1");

        var h = o.Heads;
        Check(h.Dim is >= 2 and <= 65536, "Heads.Dim", "must be between 2 and 65536");
        Check(h.PredDim is >= 2 and <= 65536, "Heads.PredDim", "must be between 2 and 65536");
        Check(h.EncoderLayers is null or (>= 1 and <= 16), "Heads.EncoderLayers", "must be between 1 and 16");
        Check(h.PredictorLayers is null or (>= 1 and <= 16), "Heads.PredictorLayers", "must be between 1 and 16");
        Check(h.QueueSize >= 1, "Heads.QueueSize", "must be positive");
        Check(h.SearchMomentum is >= 0 and < 1, "Heads.SearchMomentum", "must be in [0, 1)");
        Check(h.PretrainMomentum is >= 0 and < 1, "Heads.PretrainMomentum", "must be in [0, 1)");
        Check(h.Temperature is > 0 and <= 100, "Heads.Temperature", "must be in (0, 100]");

        bool searches = o.Kind is RunKind.Search or RunKind.Pipeline;
        bool pretrains = o.Kind is RunKind.Pretrain or RunKind.Pipeline;
        bool evaluates = o.Kind is RunKind.LinCls or RunKind.Pipeline;
        if (searches)
        {
            var s = o.Search;
            Stage("Search", s.Epochs, s.BatchSize, s.Lr, s.Momentum, s.WeightDecay, e);
            Check(s.TrainPortion is > 0 and < 1, "Search.TrainPortion", "must be in (0, 1)");
            Check(s.AlphaOptimizer is OptimizerKind.Adam or OptimizerKind.AdamW, "Search.AlphaOptimizer", "must be adam or adamw");
            Check(s.AlphaLr is > 0 and < 10, "Search.AlphaLr", "must be in (0, 10)");
            Check(s.AlphaBeta1 is >= 0 and < 1, "Search.AlphaBeta1", "must be in [0, 1)");
            Check(s.AlphaBeta2 is >= 0 and < 1, "Search.AlphaBeta2", "must be in [0, 1)");
            Check(s.AlphaWeightDecay is >= 0 and < 1, "Search.AlphaWeightDecay", "must be in [0, 1)");
            if (o.Framework == Framework.MoCo)
                Check(h.QueueSize % (2 * s.BatchSize) == 0, "Heads.QueueSize",
                    $"must be a multiple of 2 x Search.BatchSize ({2 * s.BatchSize}): each step enqueues the keys of both views");
        }
        if (pretrains)
        {
            var p = o.Pretrain;
            Stage("Pretrain", p.Epochs, p.BatchSize, p.Lr, p.Momentum, p.WeightDecay, e);
            Check(p.KnnEveryEpochs >= 0, "Pretrain.KnnEveryEpochs", "must be >= 0");
            Check(p.KnnK >= 1, "Pretrain.KnnK", "must be >= 1");
            Check(o.Kind == RunKind.Pipeline || !string.IsNullOrWhiteSpace(p.Genotype), "Pretrain.Genotype",
                "is required: 'standard', a preset name, genotype text or a file");
            if (o.Framework == Framework.MoCo)
                Check(h.QueueSize % (2 * p.BatchSize) == 0, "Heads.QueueSize",
                    $"must be a multiple of 2 x Pretrain.BatchSize ({2 * p.BatchSize})");
        }
        if (evaluates)
        {
            var l = o.Linear;
            Stage("Linear", l.Epochs, l.BatchSize, l.Lr, l.Momentum, l.WeightDecay, e);
        }
        return e;
    }

    static void Stage(string name, int epochs, int batch, double lr, double momentum, double wd, List<string> e)
    {
        if (epochs is < 1 or > 100_000) e.Add($"{name}.Epochs: must be between 1 and 100000");
        if (batch is < 2 or > 65_536) e.Add($"{name}.BatchSize: must be between 2 and 65536 (batch norm needs 2)");
        if (!(lr > 0 && lr <= 1000)) e.Add($"{name}.Lr: must be in (0, 1000]");
        if (momentum is < 0 or >= 1) e.Add($"{name}.Momentum: must be in [0, 1)");
        if (wd is < 0 or >= 1) e.Add($"{name}.WeightDecay: must be in [0, 1)");
    }
}

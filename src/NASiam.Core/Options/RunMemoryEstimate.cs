using NASiam.Core.Backbones;
using NASiam.Core.Data;
using NASiam.Core.Engine.Numerics;
using NASiam.Core.Engine.Runs;
using NASiam.Core.Genotypes;

namespace NASiam.Core.Options;

/// <summary>
/// One stage's estimated peak resident memory on a CPU host, in bytes, and what it is made of: the process's
/// fixed share (.NET, libtorch, oneDNN), the parameters with their gradients and optimizer state, the
/// activations kept for the backward pass of one training step, the data held in memory or read ahead, and the
/// kNN monitor's feature bank. <see cref="Basis"/> says it in words ("batch 512 × 2 views at 224 px on resnet50").
/// </summary>
public sealed record StageMemoryEstimate(string Stage, long PeakBytes, long ParameterBytes, long ActivationBytes,
    long DataBytes, long MonitorBytes, string Basis);

/// <summary>A run's stages' estimates (<see cref="RunMemoryEstimate.For"/>), in the order they run.</summary>
public sealed record MemoryEstimate(IReadOnlyList<StageMemoryEstimate> Stages)
{
    /// <summary>The stage with the largest peak.</summary>
    public StageMemoryEstimate Peak => Stages.MaxBy(s => s.PeakBytes)!;

    /// <summary>Each stage's peak in words, in run order: "search 1.5 GiB, pre-training 1.2 GiB, linear evaluation 0.9 GiB".</summary>
    public string Summary() => string.Join(", ", Stages.Select(s => $"{RunKindStages.Words(s.Stage)} {RunMemoryEstimate.Gib(s.PeakBytes)}"));
}

/// <summary>
/// Estimates, before a run is queued, the peak resident memory (RSS) each of its stages needs on a CPU host, so a
/// run that cannot fit is said before it is killed for lack of memory hours in (a ResNet-50 pre-training at batch
/// 512 and 224 px needs about 60 GiB; on a 24 GiB host the kernel's OOM killer ended it). A model, not a
/// measurement: the trunk's convolution outputs per image (<see cref="BackboneConvShapes"/>) times a factor fitted to
/// measured peaks, plus parameter, data and kNN-bank terms from the run's options. Within ±25 % of the measured
/// peak on the calibration runs listed in docs/memory.md (ResNet-tiny/18/50, 32-224 px, batch 8-128, SimSiam, MoCo,
/// SimCLR; this repository's CPU build). For fp32 on the CPU: bf16 autocast and CUDA devices use less host memory,
/// so the estimate is an upper bound there.
/// </summary>
public static class RunMemoryEstimate
{
    /// <summary>The process before any model: the .NET runtime, libtorch and oneDNN's code and caches (fitted, MiB).</summary>
    internal const double RuntimeMib = 350;
    /// <summary>Bytes held per trained fp32 trunk parameter: weight, gradient, SGD momentum, and oneDNN's reordered copies of the convolution weights (fitted).</summary>
    internal const double TrunkParameterBytes = 32;
    /// <summary>Bytes held per trained fp32 head parameter: weight, gradient, SGD momentum, and an allocator's slack (fitted).</summary>
    internal const double HeadParameterBytes = 16;
    /// <summary>
    /// A forward without autograd (MoCo's key encoder, the linear evaluation's frozen trunk) keeps its intermediate outputs
    /// until its step's dispose scope ends: this share of a training pass's activations (fitted on MoCo).
    /// </summary>
    internal const double NoGradShare = 0.5;
    /// <summary>
    /// The linear evaluation's frozen trunk keeps this share of a training pass's activations (fitted on the one linear
    /// calibration run: its batches of 256 and the test pass's features make it more than MoCo's key passes).
    /// </summary>
    internal const double LinearNoGradShare = 0.75;
    /// <summary>Bytes per trunk convolution output element kept for one image's backward pass (conv and BN inputs, ReLU outputs; fitted).</summary>
    internal const double ActivationBytesPerConvOutput = 9.6;
    /// <summary>Bytes per head feature per op kept for the backward pass (Linear input, BN input and output).</summary>
    const double HeadActivationBytes = 12;
    /// <summary>Batches an image folder decodes ahead of the step (<see cref="ImageFolderDataSet"/>), plus the one in use.</summary>
    const int FolderBatchesInFlight = 3;

    /// <summary>
    /// The estimate for each stage <paramref name="o"/> runs (a pipeline: search, pretrain, lincls). <paramref name="trainCount"/>:
    /// the train split's images where the door listed an image folder (null: the options' own count, or none for a folder,
    /// whose kNN bank is then left out and said in <see cref="StageMemoryEstimate.Basis"/>). Throws
    /// <see cref="ArgumentException"/> for an unknown backbone or an image too small for it (field errors of their own).
    /// </summary>
    public static MemoryEstimate For(RunOptions o, long? trainCount = null)
    {
        ArgumentNullException.ThrowIfNull(o);
        bool cifarStem = ModelBuilder.CifarStem(o);
        int size = o.Data.ImageSize ?? (o.Dataset == "folder" ? DataSets.DefaultFolderImageSize : 32);
        var layers = BackboneConvShapes.Layers(o.Backbone, cifarStem, size);
        long convOutputs = layers.Sum(l => (long)l.Shape.OutChannels * l.Shape.OutHeight * l.Shape.OutWidth);
        long trunkParameters = layers.Sum(l => (long)l.Shape.InChannels * l.Shape.OutChannels * l.Shape.Kernel * l.Shape.Kernel)
            + layers.Sum(l => 2L * l.Shape.OutChannels);
        int d = BackboneFactory.Config(o.Backbone).FeatureDim;
        long train = trainCount ?? DataSets.KnownTrainCount(o.Dataset, o.SyntheticTrainSize) ?? 0;
        long inMemoryImages = o.Dataset == "folder" ? 0 : (long)(train * 1.2) * 3 * size * size; // uint8, train + test (a fifth, or CIFAR's 10,000)

        return new MemoryEstimate(RunKindStages.Of(o.Kind).Select(stage => stage switch
        {
            "search" => Ssl("search", o.Search.BatchSize, search: true),
            "pretrain" => Ssl("pretrain", o.Pretrain.BatchSize, search: false),
            _ => Linear(),
        }).ToArray());

        StageMemoryEstimate Ssl(string stage, int batch, bool search)
        {
            var (heads, headFeatures) = Heads(o, d, search);
            // MoCo keeps a second trunk and projector (the momentum key encoder): weights and their reordered copies, no
            // gradient or momentum; its two passes a step run without autograd.
            bool moco = o.Framework == Framework.MoCo;
            long keyEncoder = moco ? (trunkParameters + heads) * 8 : 0;
            long parameters = (long)(trunkParameters * TrunkParameterBytes + heads * HeadParameterBytes) + keyEncoder;
            long views = 2L * batch;
            double trunkPass = convOutputs * ActivationBytesPerConvOutput;
            long activations = (long)(views * (trunkPass * (moco ? 1 + NoGradShare : 1) + headFeatures * HeadActivationBytes));
            long data = inMemoryImages + (o.Dataset == "folder" ? FolderBatchesInFlight * views * 3L * size * size * 4 : views * 3L * size * size * 4);
            // The kNN monitor (pre-training only): every train image's feature, l2-normalised, and one chunk's similarities.
            long monitor = !search && o.Pretrain.KnnEveryEpochs > 0 ? train * d * 4 * 2 + Math.Min(train, 1024) * train * 4 : 0;
            string basis = $"batch {batch} × 2 views at {size} px on {o.Backbone}" + (search ? " with the search's seven-op heads" : "")
                + (!search && o.Pretrain.KnnEveryEpochs > 0 && train == 0 ? "; the kNN monitor's bank not counted (the folder was not listed)" : "");
            return Stage(stage, parameters, activations, data, monitor, basis);
        }

        StageMemoryEstimate Linear()
        {
            int batch = o.Linear.BatchSize;
            // The frozen trunk runs without autograd (LinearNoGradShare); the classifier (at most 1,000 classes counted) is trained.
            long parameters = trunkParameters * 8 + (long)(d * 1000 * HeadParameterBytes);
            long activations = (long)(batch * convOutputs * ActivationBytesPerConvOutput * LinearNoGradShare);
            long data = inMemoryImages + batch * 3L * size * size * 4 * (o.Dataset == "folder" ? FolderBatchesInFlight : 1);
            return Stage("lincls", parameters, activations, data, 0, $"batch {batch} at {size} px on {o.Backbone}, the trunk frozen");
        }
    }

    /// <summary>
    /// The memory this process's runs may use, in bytes: the host's physical memory, or the container's limit where
    /// lower (.NET's own reading of cgroups, <see cref="GCMemoryInfo.TotalAvailableMemoryBytes"/>).
    /// </summary>
    public static long HostMemoryBytes() => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

    /// <summary>The share of <c>hostBytes</c> a run's estimated peak may take before <see cref="Notice"/> speaks: the rest is the OS's, the app's and other processes'.</summary>
    public const double HostShare = 0.9;

    /// <summary>
    /// Null when every stage of <paramref name="o"/> is estimated to fit <see cref="HostShare"/> of <paramref name="hostBytes"/>
    /// (or the run is on a CUDA device, whose memory this does not estimate); else a notice naming the stage, its estimated
    /// peak, the host's memory and the largest batch of that stage estimated to fit. Never throws for bad options (they are
    /// field errors of their own).
    /// </summary>
    public static string? Notice(RunOptions o, long hostBytes, long? trainCount = null)
    {
        if (o.Device.Trim().StartsWith("cuda", StringComparison.OrdinalIgnoreCase) || hostBytes <= 0) return null;
        MemoryEstimate estimate;
        try { estimate = For(o, trainCount); }
        catch (ArgumentException) { return null; }
        long budget = (long)(hostBytes * HostShare);
        var over = estimate.Stages.Where(s => s.PeakBytes > budget).ToArray();
        if (over.Length == 0) return null;
        var worst = over.MaxBy(s => s.PeakBytes)!;
        var (field, batch) = BatchOf(o, worst.Stage);
        int fits = LargestBatch(o, worst.Stage, budget, trainCount);
        string advice = fits >= 1
            ? $"{field} {fits} or less is estimated to fit"
            : $"even a batch of 1 is estimated not to fit; use a smaller backbone or image size";
        return $"{NoticePrefix}the {RunKindStages.Words(worst.Stage)} is estimated to peak near {Gib(worst.PeakBytes)} of memory on the CPU ({worst.Basis}), " +
               $"more than {(int)(HostShare * 100)}% of this host's {Gib(hostBytes)}: it would likely be killed for lack of memory; {advice}" +
               (over.Length > 1 ? $" (also over: {string.Join(", ", over.Where(s => s != worst).Select(s => $"{RunKindStages.Words(s.Stage)} {Gib(s.PeakBytes)}"))})" : "");
    }

    /// <summary>How <see cref="Notice"/> begins.</summary>
    public const string NoticePrefix = "memory: ";

    /// <summary>Bytes as "23.4 GiB" (invariant culture).</summary>
    public static string Gib(long bytes) => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024 * 1024):F1} GiB");


    static (string Field, int Batch) BatchOf(RunOptions o, string stage) => stage switch
    {
        "search" => ("search.batchSize", o.Search.BatchSize),
        "pretrain" => ("pretrain.batchSize", o.Pretrain.BatchSize),
        _ => ("linear.batchSize", o.Linear.BatchSize),
    };

    /// <summary>The largest batch (at most the run's) of <paramref name="stage"/> whose estimate fits <paramref name="budget"/>; 0 when none does.</summary>
    static int LargestBatch(RunOptions o, string stage, long budget, long? trainCount)
    {
        RunOptions With(int b) => stage switch
        {
            "search" => o with { Kind = RunKind.Search, Search = o.Search with { BatchSize = b } },
            "pretrain" => o with { Kind = RunKind.Pretrain, Pretrain = o.Pretrain with { BatchSize = b } },
            _ => o with { Kind = RunKind.LinCls, Linear = o.Linear with { BatchSize = b } },
        };
        int lo = 0, hi = BatchOf(o, stage).Batch;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) / 2;
            if (For(With(mid), trainCount).Peak.PeakBytes <= budget) lo = mid; else hi = mid - 1;
        }
        return lo;
    }

    static StageMemoryEstimate Stage(string stage, long parameters, long activations, long data, long monitor, string basis) =>
        new(stage, (long)(RuntimeMib * 1024 * 1024) + parameters + activations + data + monitor, parameters, activations, data, monitor, basis);

    /// <summary>
    /// The heads' parameters and the features one image's pass through them keeps (both views' heads, summed over
    /// layers and, in a search, over the seven ops; method doc 2.2, 2.7). A search layer of equal widths has four
    /// Linear-bearing ops, a reduction or expansion seven (pooling and identity then carry a Linear too); a derived
    /// or standard layer one Linear.
    /// </summary>
    static (long Parameters, long Features) Heads(RunOptions o, int d, bool search)
    {
        var h = o.Heads;
        var (defaultEncoder, defaultPredictor) = GenotypeRules.DefaultLayers(o.Framework);
        int encoderLayers = h.EncoderLayers ?? defaultEncoder ?? 0, predictorLayers = h.PredictorLayers ?? defaultPredictor ?? 0;
        long parameters = 0, features = 0;
        void Layer(long input, long output, bool searched)
        {
            int ops = !searched ? 1 : input == output ? 4 : 7;
            parameters += ops * input * output;
            features += (searched ? 7 : 1) * output;
        }
        void Cell(long input, long hidden, long output, int count)
        {
            for (int i = 0; i < count; i++)
                Layer(i == 0 ? input : hidden, i == count - 1 ? output : hidden, search);
        }
        switch (o.Framework)
        {
            case Framework.SimSiam:
                if (search || !GenotypeReference.IsStandard(o.Pretrain.Genotype)) { Cell(d, d, d, encoderLayers); Cell(h.Dim, h.PredDim, h.Dim, predictorLayers); }
                else { Cell(d, d, d, 2); Cell(h.Dim, h.PredDim, h.Dim, 2); }
                Layer(d, h.Dim, false); // the fc after the projector cell
                break;
            case Framework.MoCo:
                Cell(d, d, d, search || !GenotypeReference.IsStandard(o.Pretrain.Genotype) ? encoderLayers : 1);
                Layer(d, h.Dim, false);
                break;
            default:
                Cell(d, h.PredDim, h.Dim, search || !GenotypeReference.IsStandard(o.Pretrain.Genotype) ? predictorLayers : 2);
                break;
        }
        return (parameters, features);
    }
}

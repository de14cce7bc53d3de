using NASiam.Core.Data;
using NASiam.Core.Data.Augmentation;
using NASiam.Core.Data.Streaming;
using NASiam.Core.Methods;
using NASiam.Core.Options;
using static TorchSharp.torch;

namespace NASiam.Core.Engine.Runs;

/// <summary>
/// Everything a stage needs that outlives it: options, device, data set, output folder, event
/// emitter and cancellation. Owned by <see cref="NasiamEngine"/> for one run.
/// </summary>
public sealed class StageEnvironment
{
    public required RunOptions Options { get; init; }
    public required Device Device { get; init; }
    public required IImageDataSet Data { get; init; }
    /// <summary>The run's output folder (absolute).</summary>
    public required string OutputDirectory { get; init; }
    public required EventEmitter Events { get; init; }
    public required CancellationToken Cancellation { get; init; }
    /// <summary>Continue from a stage checkpoint when one exists.</summary>
    public bool Resume { get; init; } = true;

    /// <summary>Adjusts the CPU thread count after steps while other processes use the cores; null when the thread count is fixed.</summary>
    public CpuThreadGovernor? CpuThreads { get; init; }

    /// <summary>The line each stage logs when it starts, about its CPU threads (<see cref="CpuThreadGovernor.Describe"/>); null off the CPU.</summary>
    public string? CpuNote { get; init; }

    /// <summary>A stage's clock; it ticks <see cref="CpuThreads"/> after each step and logs its changes under <paramref name="stage"/>.</summary>
    public StageClock NewClock(string stage) => new(CpuThreads, line => Events.Log(stage, "info", line));

    /// <summary>Test seam: runs before each weight step (e.g. to corrupt a weight and provoke a NaN loss).</summary>
    internal Action<SiameseModel, long>? BeforeWeightStep { get; init; }

    public string CheckpointDirectory => CheckpointDirectoryIn(OutputDirectory);

    /// <summary>The checkpoints/ folder of a run's output directory.</summary>
    public static string CheckpointDirectoryIn(string outputDirectory) => Path.Combine(outputDirectory, "checkpoints");
    public string CheckpointPath(string name) => CheckpointPathIn(OutputDirectory, name);
    /// <summary>Where a run folder keeps a stage's checkpoint: checkpoints/{name}.ckpt.</summary>
    public static string CheckpointPathIn(string outputDirectory, string name) => Path.Combine(CheckpointDirectoryIn(outputDirectory), name + ".ckpt");

    /// <summary>
    /// The checkpoint a whole run folder stands for when its backbone is evaluated or exported, the one a
    /// pipeline's linear evaluation reads: its pre-training's, kNN-best (checkpoints/pretrain-best.ckpt) or
    /// last (checkpoints/pretrain.ckpt) by <see cref="NasiamEngine.EvaluatesBestCheckpoint"/> on the options
    /// saved in the pre-training checkpoint; else its search's (checkpoints/search.ckpt); null when it has
    /// neither. An unreadable pretrain.ckpt is returned as is, for the reader to report.
    /// </summary>
    public static string? FinalBackboneCheckpointIn(string outputDirectory)
    {
        var last = CheckpointPathIn(outputDirectory, "pretrain");
        if (File.Exists(last))
        {
            var best = CheckpointPathIn(outputDirectory, "pretrain-best");
            if (!File.Exists(best)) return last;
            try
            {
                var saved = RunOptions.FromJson(Checkpoints.CheckpointStore.ReadState(last).OptionsJson);
                return NasiamEngine.EvaluatesBestCheckpoint(saved) ? best : last;
            }
            catch (Exception e) when (e is InvalidDataException or IOException or System.Text.Json.JsonException or ArgumentException) { return last; }
        }
        var search = CheckpointPathIn(outputDirectory, "search");
        return File.Exists(search) ? search : null;
    }

    /// <summary>The stages whose checkpoints hold a trained backbone, in the order <see cref="FinalBackboneCheckpointIn"/> prefers them.</summary>
    public static IReadOnlyList<string> BackboneStages { get; } = ["pretrain", "search"];

    /// <summary>A pipeline's stages in the order it runs them (each also a single-stage run's one stage).</summary>
    public static IReadOnlyList<string> PipelineStages { get; } = ["search", "pretrain", "lincls"];

    /// <summary>A stage checkpoint's name relative to its run folder, with forward slashes as run files are listed: checkpoints/{stage}.ckpt.</summary>
    public static string CheckpointName(string stage) => $"checkpoints/{stage}.ckpt";
    public string Relative(string path) => Path.GetRelativePath(OutputDirectory, path);

    /// <summary>Image-folder data sets use the ImageNet recipes; CIFAR and synthetic the CIFAR ones.</summary>
    public bool ImageNetStyle => IsImageNetStyle(Data);

    /// <summary>
    /// Whether top-5 accuracy means anything: with 5 classes or fewer every label is in the top 5, so it is 100 % by
    /// construction; such a set reports no top-5 metric (<see cref="NoTop5"/> says why in the stage's log).
    /// </summary>
    public bool HasTop5 => Data.ClassCount > 5;

    /// <summary>The log line of a stage on a set without <see cref="HasTop5"/>.</summary>
    public string NoTop5 => $"top-5 accuracy is not reported: the data set has {Data.ClassCount} classes, so every label is among the top 5 (100 % by construction)";

    static bool IsImageNetStyle(IImageDataSet data) => data.Name == "folder";

    /// <summary>The normalisation a framework uses on this data set (method doc 6.3).</summary>
    public ChannelNormalization Normalization => ChannelNormalization.For(Options.Framework, Data.Name, Data.Normalization);

    /// <summary>The SSL two-view augmenter of search and pre-training (method doc 6.2).</summary>
    public TwoViewAugmenter SslAugmenter() => SslAugmenterFor(Options.Framework, Data, Device);

    /// <summary>
    /// The SSL two-view augmenter of search and pre-training for <paramref name="framework"/> on
    /// <paramref name="data"/> (method doc 6.2), for callers without a run (the memory benchmark).
    /// </summary>
    public static TwoViewAugmenter SslAugmenterFor(Framework framework, IImageDataSet data, Device device)
    {
        bool imageNetStyle = IsImageNetStyle(data);
        return new(AugmentationSpec.ForPretraining(framework, imageNetStyle), ChannelNormalization.For(framework, data.Name, data.Normalization), device,
            OutputSizeFor(data, imageNetStyle));
    }

    /// <summary>The linear-evaluation training augmenter.</summary>
    public TwoViewAugmenter LinearAugmenter() =>
        new(AugmentationSpec.ForLinearEval(Options.Framework, ImageNetStyle), Normalization, Device, OutputSize);

    /// <summary>
    /// The monitor / test transform (no augmentation): normalisation only; a streamed folder's reads
    /// already apply Resize(round(S·256/224)) + CenterCrop(S) to the original images.
    /// </summary>
    public EvalTransform EvalTransform() =>
        ImageNetStyle && Data is not ImageFolderDataSet && Data.ImageSize > 224 ? NASiam.Core.Data.Augmentation.EvalTransform.ForImageNet(Normalization, Device) : new EvalTransform(Normalization, Device);

    /// <summary>Crop size of the augmenters: the batch size of the images (data.imageSize for streamed folders).</summary>
    int OutputSize => OutputSizeFor(Data, ImageNetStyle);

    static int OutputSizeFor(IImageDataSet data, bool imageNetStyle) =>
        imageNetStyle && data is not ImageFolderDataSet ? Math.Min(224, data.ImageSize) : data.ImageSize;

    /// <summary>
    /// The training batches of one epoch for <paramref name="augmenter"/>. A streamed image folder
    /// decodes them ahead on a background task (<see cref="BatchPrefetcher"/>, 2 batches) with
    /// RandomResizedCrop applied to the original files (<paramref name="views"/> per image, crop keys
    /// from (stage <paramref name="stream"/>, epoch, batch) so they survive a resume); in-memory sets
    /// read each batch when asked. The caller disposes every batch.
    /// </summary>
    public IEnumerable<ImageBatch> TrainBatches(BatchProvider batches, long epoch, int startBatch, TwoViewAugmenter augmenter, int stream, int views = 2)
    {
        if (Data is not ImageFolderDataSet)
            return batches.Epoch(epoch, startBatch).Select(indices =>
            {
                // Read in the loop's MoveNext: keep the batch out of any dispose scope there; the loop disposes it.
                var batch = Data.ReadTrain(indices);
                batch.Images.DetachFromDisposeScope();
                batch.Labels.DetachFromDisposeScope();
                return batch;
            });
        return BatchPrefetcher.Prefetch(batches.Epoch(epoch, startBatch),
            (indices, ordinal) => ReadTrainViews(indices, augmenter, CropKey(stream, epoch, startBatch + ordinal), views), cancellationToken: Cancellation);
    }

    /// <summary>One training batch (no read-ahead), e.g. the search's architecture batches; <paramref name="key"/> picks a streamed folder's crops.</summary>
    public ImageBatch ReadTrainViews(long[] indices, TwoViewAugmenter augmenter, ulong key, int views = 2) =>
        Data is ImageFolderDataSet folder
            ? folder.ReadTrainViews(indices, augmenter, key, views)
            : Data.ReadTrain(indices);

    /// <summary>The crop key of batch <paramref name="batch"/> of pass <paramref name="epoch"/> in a stage's <paramref name="stream"/>.</summary>
    public ulong CropKey(int stream, long epoch, long batch) => AugmentationSeed(stream) * 0x9E3779B97F4A7C15UL ^ (ulong)epoch * 0xD1B54A32D192ED03UL ^ (ulong)batch * 0xA24BAED4963EE407UL;

    /// <summary>The stem of this run's models: <see cref="ModelBuilder.CifarStem"/> (method doc 3, D18).</summary>
    public bool CifarStem => ModelBuilder.CifarStem(Options);

    /// <summary>Seed of a stage's augmentation generator (separate streams per stage).</summary>
    public ulong AugmentationSeed(int stream) => (ulong)Options.Seed * 1_000_003UL + (ulong)stream;
}

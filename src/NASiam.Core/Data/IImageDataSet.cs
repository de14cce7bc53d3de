using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Data;

/// <summary>
/// A batch read from a data set: <see cref="Images"/> uint8 [B, 3, H, W] (RGB, 0..255; float32 normalised
/// views when <see cref="AugmentedWith"/> is set) and
/// <see cref="Labels"/> int64 [B], both on the CPU. The caller owns and disposes the tensors.
/// A streamed image folder's training read (<see cref="ImageFolderDataSet.ReadTrainViews(long[], double, double, ulong, int)"/>) returns
/// views already cut by RandomResizedCrop from the original images (<see cref="Cropped"/>): then
/// <see cref="Images"/> is view 1 and <see cref="SecondView"/> view 2 (null for one view), and the
/// augmenter applies only the rest of its recipe.
/// </summary>
public sealed record ImageBatch(Tensor Images, Tensor Labels) : IDisposable
{
    /// <summary>uint8 [B, 3, S, S]: the second pre-cropped view, or null.</summary>
    public Tensor? SecondView { get; init; }
    /// <summary>True when the crop + resize of the recipe is already applied (streamed folders).</summary>
    public bool Cropped { get; init; }
    /// <summary>
    /// Streamed folders: per view, per image, the random choices of the rest of the recipe (jitter, gray,
    /// blur, flip), drawn from the crop's key (<see cref="Augmentation.ViewDraw"/>); null otherwise.
    /// </summary>
    public IReadOnlyList<Augmentation.ViewDraw[]>? Draws { get; init; }
    /// <summary>
    /// Set when the decode workers already applied this recipe (CPU runs,
    /// <see cref="ImageFolderDataSet.ReadTrainViews(long[], Augmentation.TwoViewAugmenter, ulong, int)"/>):
    /// then <see cref="Images"/> and <see cref="SecondView"/> are float32 [B,3,S,S] normalised views.
    /// </summary>
    public Augmentation.AugmentationRecipe? AugmentedWith { get; init; }
    public long Count => Labels.shape[0];
    public void Dispose() { Images.Dispose(); Labels.Dispose(); SecondView?.Dispose(); }
}

/// <summary>
/// A labelled image data set with a train and a test split. Every image has the same square size
/// <see cref="ImageSize"/>. Batches are read by index on the CPU; augmentation moves them to the
/// run's device. Implementations are thread-safe for concurrent reads.
/// </summary>
public interface IImageDataSet : IDisposable
{
    /// <summary>synthetic | cifar10 | cifar100 | folder.</summary>
    string Name { get; }
    /// <summary>Side length in pixels of every (square) image.</summary>
    int ImageSize { get; }
    int ClassCount { get; }
    /// <summary>Class names in label order (folder names, CIFAR indices or synthetic shape names).</summary>
    IReadOnlyList<string> ClassNames { get; }
    /// <summary>The SimSiam/MoCo normalisation constants for this set (method doc 6.3).</summary>
    ChannelNormalization Normalization { get; }
    long TrainCount { get; }
    long TestCount { get; }
    /// <summary>Reads train images at <paramref name="indices"/> (each in [0, TrainCount)), in that order.</summary>
    ImageBatch ReadTrain(long[] indices);
    /// <summary>Reads test images at <paramref name="indices"/> (each in [0, TestCount)), in that order.</summary>
    ImageBatch ReadTest(long[] indices);
    /// <summary>
    /// What the user must be told about how the set was read, one sentence each (an image folder's
    /// ignored files, counted per split and reason); empty for CIFAR and synthetic. Whoever opens
    /// the set shows them: the engine as warnings when a run starts, <c>nasiam datasets check</c> in its report.
    /// </summary>
    IReadOnlyList<string> Notices => [];
}

/// <summary>
/// A data set held entirely in memory as uint8 tensors (CIFAR, synthetic). The tensors are owned by
/// the data set: do not dispose them; they live on the CPU.
/// </summary>
public interface IInMemoryImageDataSet : IImageDataSet
{
    /// <summary>uint8 [TrainCount, 3, H, W].</summary>
    Tensor TrainImages { get; }
    /// <summary>int64 [TrainCount].</summary>
    Tensor TrainLabels { get; }
    /// <summary>uint8 [TestCount, 3, H, W].</summary>
    Tensor TestImages { get; }
    /// <summary>int64 [TestCount].</summary>
    Tensor TestLabels { get; }
}

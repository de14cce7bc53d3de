using NASiam.Core.Engine;
using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Data;

/// <summary>An <see cref="IInMemoryImageDataSet"/> over four tensors it takes ownership of.</summary>
public sealed class InMemoryImageDataSet : IInMemoryImageDataSet
{
    public string Name { get; }
    public int ImageSize { get; }
    public int ClassCount { get; }
    public IReadOnlyList<string> ClassNames { get; }
    public ChannelNormalization Normalization { get; }
    public long TrainCount => TrainLabels.shape[0];
    public long TestCount => TestLabels.shape[0];
    public Tensor TrainImages { get; }
    public Tensor TrainLabels { get; }
    public Tensor TestImages { get; }
    public Tensor TestLabels { get; }

    /// <summary>Checks shapes, dtypes and label range; the tensors must be uint8 [N,3,S,S] and int64 [N].</summary>
    public InMemoryImageDataSet(string name, IReadOnlyList<string> classNames, ChannelNormalization normalization,
        Tensor trainImages, Tensor trainLabels, Tensor testImages, Tensor testLabels)
    {
        Name = name;
        ClassNames = classNames;
        ClassCount = classNames.Count;
        Normalization = normalization.EnsureValid();
        Check(trainImages, trainLabels, "train");
        Check(testImages, testLabels, "test");
        if (trainImages.shape[2] != testImages.shape[2])
            throw new InvalidDataException($"{name}: train images are {trainImages.shape[2]} px but test images are {testImages.shape[2]} px.");
        ImageSize = (int)trainImages.shape[2];
        // Keep the data out of any caller's dispose scope: the set owns it for its lifetime.
        TrainImages = trainImages.DetachFromDisposeScope();
        TrainLabels = trainLabels.DetachFromDisposeScope();
        TestImages = testImages.DetachFromDisposeScope();
        TestLabels = testLabels.DetachFromDisposeScope();
    }

    void Check(Tensor images, Tensor labels, string split)
    {
        if (images.dtype != ScalarType.Byte || images.dim() != 4 || images.shape[1] != 3 || images.shape[2] != images.shape[3])
            throw new InvalidDataException($"{Name} {split}: expected uint8 images [N,3,S,S], got {images.dtype} [{string.Join(",", images.shape)}].");
        if (labels.dtype != ScalarType.Int64 || labels.dim() != 1 || labels.shape[0] != images.shape[0])
            throw new InvalidDataException($"{Name} {split}: expected int64 labels [{images.shape[0]}], got {labels.dtype} [{string.Join(",", labels.shape)}].");
        if (labels.numel() > 0)
        {
            var min = labels.min().ItemInt64();
            var max = labels.max().ItemInt64();
            if (min < 0 || max >= ClassCount)
                throw new InvalidDataException($"{Name} {split}: labels must be in [0, {ClassCount}), found [{min}, {max}].");
        }
    }

    public ImageBatch ReadTrain(long[] indices) => Read(TrainImages, TrainLabels, indices, "train");
    public ImageBatch ReadTest(long[] indices) => Read(TestImages, TestLabels, indices, "test");

    static ImageBatch Read(Tensor images, Tensor labels, long[] indices, string split)
    {
        var n = labels.shape[0];
        foreach (var i in indices)
            if (i < 0 || i >= n) throw new ArgumentOutOfRangeException(nameof(indices), $"{split} index {i} is outside [0, {n}).");
        using var index = tensor(indices, ScalarType.Int64);
        return new ImageBatch(images.index_select(0, index), labels.index_select(0, index));
    }

    public void Dispose()
    {
        TrainImages.Dispose(); TrainLabels.Dispose(); TestImages.Dispose(); TestLabels.Dispose();
    }
}

using System.Buffers;
using NASiam.Core.Data.Streaming;
using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Data;

public sealed partial class ImageFolderDataSet
{
    /// <summary>Decode threads per batch (data.workers; 0 at open = one per core).</summary>
    public int Workers { get; }

    /// <summary>
    /// Train images at <paramref name="indices"/> with the evaluation geometry: Resize(round(S·256/224))
    /// of the shorter side + CenterCrop(S), S = <see cref="ImageSize"/> (Resize 256 + CenterCrop 224 at 224).
    /// </summary>
    public ImageBatch ReadTrain(long[] indices) => ReadEval(_train, indices, "train");

    /// <summary>Val images at <paramref name="indices"/>, as <see cref="ReadTrain"/>.</summary>
    public ImageBatch ReadTest(long[] indices) => ReadEval(_test, indices, "val");

    ImageBatch ReadEval(FolderImage[] items, long[] indices, string split)
    {
        var size = ImageSize;
        using var scope = NewDisposeScope();
        var pixels = Decode(items, indices, split, 1, (w, h, _) => [CropGeometry.ResizeCenterCrop(w, h, size)]);
        var images = pixels[0].permute(0, 3, 1, 2).contiguous().DetachFromDisposeScope();
        return new ImageBatch(images, Labels(items, indices).DetachFromDisposeScope());
    }

    /// <summary>
    /// Train images at <paramref name="indices"/> as <paramref name="views"/> (1 or 2) independent
    /// RandomResizedCrop(S, scale [<paramref name="minScale"/>, <paramref name="maxScale"/>], ratio [3/4, 4/3])
    /// views cut from the original pixels (crop before resize, as torchvision), each file decoded once.
    /// The crop of image b, view v depends only on (<paramref name="batchKey"/>, b, v)
    /// (<see cref="CropGeometry.CropState"/>), so it is the same on any worker count, with or without
    /// prefetch, and on resume. Returns a batch with <see cref="ImageBatch.Cropped"/> set: view 1 in
    /// <see cref="ImageBatch.Images"/>, view 2 in <see cref="ImageBatch.SecondView"/> (uint8 [B,3,S,S] each).
    /// Throws <see cref="InvalidDataException"/> naming the first unreadable file.
    /// </summary>
    public ImageBatch ReadTrainViews(long[] indices, double minScale, double maxScale, ulong batchKey, int views = 2)
    {
        if (views is < 1 or > 2) throw new ArgumentException($"Views must be 1 or 2; got {views}.");
        var size = ImageSize;
        using var scope = NewDisposeScope();
        var pixels = Decode(_train, indices, "train", views, (w, h, b) =>
        {
            var boxes = new CropBox[views];
            for (int v = 0; v < views; v++)
            {
                var state = CropGeometry.CropState(batchKey, b, v);
                boxes[v] = CropGeometry.RandomResizedCrop(w, h, minScale, maxScale, ref state);
            }
            return boxes;
        });
        var first = pixels[0].permute(0, 3, 1, 2).contiguous().DetachFromDisposeScope();
        var second = views == 2 ? pixels[1].permute(0, 3, 1, 2).contiguous().DetachFromDisposeScope() : null;
        return new ImageBatch(first, Labels(_train, indices).DetachFromDisposeScope()) { SecondView = second, Cropped = true };
    }

    static Tensor Labels(FolderImage[] items, long[] indices) => tensor(indices.Select(i => items[i].Label).ToArray());

    /// <summary>
    /// Decodes the files at <paramref name="indices"/> on <see cref="Workers"/> threads into uint8
    /// [views, B, S, S, 3] (HWC per image); <paramref name="boxes"/>(width, height, position) gives each
    /// image's crop per view.
    /// </summary>
    Tensor Decode(FolderImage[] items, long[] indices, string split, int views, Func<int, int, int, IReadOnlyList<CropBox>> boxes)
    {
        foreach (var i in indices)
            if (i < 0 || i >= items.Length) throw new ArgumentOutOfRangeException(nameof(indices), $"{split} index {i} is outside [0, {items.Length}).");
        var size = ImageSize;
        long one = (long)size * size * 3;
        var pixels = empty(new long[] { views, indices.Length, size, size, 3 }, ScalarType.Byte);
        try
        {
            using var target = pixels.data<byte>();
            Parallel.For(0, indices.Length, new ParallelOptions { MaxDegreeOfParallelism = Workers }, b =>
            {
                var buffer = ArrayPool<byte>.Shared.Rent((int)(one * views));
                try
                {
                    CropDecoder.DecodeCrops(items[indices[b]].Path, size, (w, h) => boxes(w, h, b), buffer);
                    for (int v = 0; v < views; v++)
                        target.CopyFrom(new ReadOnlySpan<byte>(buffer, (int)(v * one), (int)one), 0, ((long)v * indices.Length + b) * one);
                }
                finally { ArrayPool<byte>.Shared.Return(buffer); }
            });
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            pixels.Dispose();
            // Surface the first file's own error (it names the file) rather than a wrapper.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerExceptions[0]);
        }
        catch { pixels.Dispose(); throw; }
        return pixels;
    }
}

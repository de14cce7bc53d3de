using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using NASiam.Core.Data.Augmentation;
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
        var draws = NewDraws(views, indices.Length);
        var pixels = Decode(_train, indices, "train", views, (w, h, b) => TrainCrops(w, h, b, minScale, maxScale, batchKey, draws));
        var first = pixels[0].permute(0, 3, 1, 2).contiguous().DetachFromDisposeScope();
        var second = views == 2 ? pixels[1].permute(0, 3, 1, 2).contiguous().DetachFromDisposeScope() : null;
        return new ImageBatch(first, Labels(_train, indices).DetachFromDisposeScope()) { SecondView = second, Cropped = true, Draws = draws };
    }

    /// <summary>
    /// Training views for <paramref name="augmenter"/>'s recipe. On a CPU run the WHOLE per-image recipe runs
    /// in the decode workers: RandomResizedCrop on the original as <see cref="ReadTrainViews(long[], double, double, ulong, int)"/>,
    /// then colour jitter, grayscale, blur, flip and normalisation by <see cref="FusedAugmentation"/> on each
    /// view as soon as it is decoded (the workers are the device there: every core runs the per-image
    /// pipeline, as torchvision's DataLoader workers do). The batch holds float32 [B,3,S,S] normalised views
    /// (<see cref="ImageBatch.AugmentedWith"/> set) that <see cref="TwoViewAugmenter.TwoViews(ImageBatch, Generator)"/>
    /// passes through. On another device this is the uint8 crop read, and the augmenter runs the rest
    /// batched there, from the same <see cref="ViewDraw"/>s. Either way a view depends only on
    /// (<paramref name="batchKey"/>, position, view).
    /// </summary>
    /// <exception cref="ArgumentException">The augmenter's output size differs from <see cref="ImageSize"/>, or views is not 1 or 2.</exception>
    /// <exception cref="InvalidDataException">A file is truncated, corrupt or not an image (named).</exception>
    public ImageBatch ReadTrainViews(long[] indices, TwoViewAugmenter augmenter, ulong batchKey, int views = 2)
    {
        var (minScale, maxScale) = augmenter.CropScale;
        if (augmenter.Device.type != DeviceType.CPU) return ReadTrainViews(indices, minScale, maxScale, batchKey, views);
        if (views is < 1 or > 2) throw new ArgumentException($"Views must be 1 or 2; got {views}.");
        var size = ImageSize;
        if (augmenter.OutputSize != size)
            throw new ArgumentException($"The augmenter outputs {augmenter.OutputSize} px; this folder is read at {size} px (data.imageSize).");
        var (spec, normalization) = (augmenter.Spec, augmenter.Normalization);
        var draws = NewDraws(views, indices.Length);
        long one = 3L * size * size;
        CheckBatchBytes(indices.Length * one * sizeof(float));
        // Output tensors live in this scope until returned, so an error (or a caller's scope) cannot leak or take them.
        using var scope = NewDisposeScope();
        var outputs = new Tensor[views];
        for (int v = 0; v < views; v++)
        {
            outputs[v] = empty(new long[] { indices.Length, 3, size, size }, ScalarType.Float32);
            AdviseHugePages(outputs[v].bytes);
        }
        DecodeEach(_train, indices, "train", views, (w, h, b) => TrainCrops(w, h, b, minScale, maxScale, batchKey, draws), (b, crops) =>
        {
            // Straight into the tensor's memory: TensorAccessor.CopyFrom walks an iterator per element (measured ~2.8 ms CPU per image).
            for (int v = 0; v < views; v++)
                FusedAugmentation.Apply(crops.Slice((int)(v * one), (int)one), size, draws[v][b], spec, normalization,
                    MemoryMarshal.Cast<byte, float>(outputs[v].bytes).Slice((int)(b * one), (int)one));
        });
        return new ImageBatch(outputs[0].DetachFromDisposeScope(), Labels(_train, indices).DetachFromDisposeScope())
        {
            SecondView = views == 2 ? outputs[1].DetachFromDisposeScope() : null, Cropped = true, Draws = draws, AugmentedWith = spec.Recipe,
        };
    }

    static bool _noMadvise;

    /// <summary>
    /// Asks Linux for transparent huge pages on a fresh, untouched batch buffer (tens of MB, mmapped by glibc
    /// and returned to the OS when the batch is freed): every batch would otherwise fault in ~19,000 4 KiB
    /// pages per view — measured 2.2 s of system time per 576 images, a quarter of the pipeline's CPU.
    /// A hint only (THP "madvise" mode, the Debian default); no effect elsewhere.
    /// </summary>
    static void AdviseHugePages(Span<byte> memory)
    {
        const int MadvHugePage = 14, Page = 4096;
        if (_noMadvise || !OperatingSystem.IsLinux() || memory.Length < 4 << 20) return;
        ref byte start = ref MemoryMarshal.GetReference(memory);
        nint address = Unsafe.ByteOffset(ref Unsafe.NullRef<byte>(), ref start);
        nint skip = (Page - (address & (Page - 1))) & (Page - 1);
        try { _ = Madvise(ref Unsafe.Add(ref start, skip), (nuint)(memory.Length - skip), MadvHugePage); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { _noMadvise = true; }
    }

    [DllImport("libc", EntryPoint = "madvise")]
    static extern int Madvise(ref byte address, nuint length, int advice);

    /// <summary>Decoded batches are written in place through a span, so one tensor holds at most 2 GiB.</summary>
    static void CheckBatchBytes(long bytes)
    {
        if (bytes > int.MaxValue)
            throw new ArgumentException($"A decoded batch would take {bytes / (1 << 20)} MiB in one tensor; at most 2,047 MiB (lower the batch size or data.imageSize).");
    }

    static ViewDraw[][] NewDraws(int views, int count)
    {
        var draws = new ViewDraw[views][];
        for (int v = 0; v < views; v++) draws[v] = new ViewDraw[count];
        return draws;
    }

    /// <summary>The crops of image <paramref name="b"/>, one per view, each followed by its <see cref="ViewDraw"/> from the same state.</summary>
    static CropBox[] TrainCrops(int w, int h, int b, double minScale, double maxScale, ulong batchKey, ViewDraw[][] draws)
    {
        var boxes = new CropBox[draws.Length];
        for (int v = 0; v < draws.Length; v++)
        {
            var state = CropGeometry.CropState(batchKey, b, v);
            boxes[v] = CropGeometry.RandomResizedCrop(w, h, minScale, maxScale, ref state);
            draws[v][b] = ViewDraw.Draw(ref state);
        }
        return boxes;
    }

    static Tensor Labels(FolderImage[] items, long[] indices) => tensor(indices.Select(i => items[i].Label).ToArray());

    /// <summary>
    /// Decodes the files at <paramref name="indices"/> on <see cref="Workers"/> threads into uint8
    /// [views, B, S, S, 3] (HWC per image); <paramref name="boxes"/>(width, height, position) gives each
    /// image's crop per view.
    /// </summary>
    Tensor Decode(FolderImage[] items, long[] indices, string split, int views, Func<int, int, int, IReadOnlyList<CropBox>> boxes)
    {
        var size = ImageSize;
        long one = (long)size * size * 3;
        CheckBatchBytes(views * indices.Length * one);
        var pixels = empty(new long[] { views, indices.Length, size, size, 3 }, ScalarType.Byte);
        try
        {
            DecodeEach(items, indices, split, views, boxes, (b, crops) =>
            {
                var target = pixels.bytes;   // the tensor's own memory (contiguous uint8), written in place
                for (int v = 0; v < views; v++)
                    crops.Slice((int)(v * one), (int)one).CopyTo(target.Slice((int)(((long)v * indices.Length + b) * one), (int)one));
            });
        }
        catch { pixels.Dispose(); throw; }
        return pixels;
    }

    delegate void CropSink(int position, ReadOnlySpan<byte> crops);

    /// <summary>
    /// Decodes the files at <paramref name="indices"/> on <see cref="Workers"/> threads; <paramref name="sink"/>
    /// gets each image's crops (HWC uint8, one S²·3 block per view) on the worker that decoded it.
    /// The first failing file's own error is rethrown (it names the file).
    /// </summary>
    void DecodeEach(FolderImage[] items, long[] indices, string split, int views, Func<int, int, int, IReadOnlyList<CropBox>> boxes, CropSink sink)
    {
        foreach (var i in indices)
            if (i < 0 || i >= items.Length) throw new ArgumentOutOfRangeException(nameof(indices), $"{split} index {i} is outside [0, {items.Length}).");
        var size = ImageSize;
        int one = size * size * 3;
        try
        {
            Parallel.For(0, indices.Length, new ParallelOptions { MaxDegreeOfParallelism = Workers }, b =>
            {
                var buffer = ArrayPool<byte>.Shared.Rent(one * views);
                try
                {
                    CropDecoder.DecodeCrops(items[indices[b]].Path, size, (w, h) => boxes(w, h, b), buffer);
                    sink(b, new ReadOnlySpan<byte>(buffer, 0, one * views));
                }
                finally { ArrayPool<byte>.Shared.Return(buffer); }
            });
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            // Surface the first file's own error (it names the file) rather than a wrapper.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerExceptions[0]);
        }
    }
}

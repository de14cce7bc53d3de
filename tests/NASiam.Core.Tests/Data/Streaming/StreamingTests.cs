using NASiam.Core.Engine;
using System.Reflection;
using NASiam.Core.Data;
using NASiam.Core.Data.Augmentation;
using NASiam.Core.Data.Streaming;
using NASiam.Core.Options;
using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Tests.Data.Streaming;

public class CropGeometryTests
{
    [Fact]
    public void RandomResizedCrop_KeepsTorchvisionsAreaAndAspectRanges_InsideTheOriginalImage()
    {
        const int W = 500, H = 375;
        var fractions = new List<double>();
        for (int i = 0; i < 4000; i++)
        {
            var state = CropGeometry.CropState(7, i, 0);
            var b = CropGeometry.RandomResizedCrop(W, H, 0.2, 1.0, ref state);
            Assert.True(b.Left >= 0 && b.Top >= 0 && b.Left + b.Width <= W && b.Top + b.Height <= H, $"{b} leaves the image");
            Assert.Equal(Math.Floor(b.Left), b.Left);
            // Rounding w and h to integers moves area and aspect slightly past the drawn ranges.
            var f = b.Width * b.Height / (W * H);
            Assert.InRange(f, 0.2 - 0.01, 1.0);
            Assert.InRange(b.Aspect, 3.0 / 4 - 0.01, 4.0 / 3 + 0.01);
            fractions.Add(f);
        }
        // Area ~ U(0.2, 1) among the crops that fit: small and large crops both occur, the mean is well inside.
        Assert.True(fractions.Min() < 0.22 && fractions.Max() > 0.9, $"fractions span [{fractions.Min()}, {fractions.Max()}]");
        Assert.InRange(fractions.Average(), 0.4, 0.65);   // large crops of a 4:3 image often miss the aspect range
    }

    [Fact]
    public void RandomResizedCrop_FallsBackToTheCentredRatioClampedImage()
    {
        // 1000x10: no crop of area >= 90 % fits with aspect <= 4/3, so all 10 attempts fail.
        var state = 1UL;
        var b = CropGeometry.RandomResizedCrop(1000, 10, 0.9, 1.0, ref state);
        Assert.Equal(new CropBox(493, 0, 13, 10), b);  // w = round(10 * 4/3), centred: (1000 - 13) / 2
    }

    [Fact]
    public void ResizeCenterCrop_IsResize256ThenCenterCrop224_InSourcePixels()
    {
        // 500x375 -> Resize(256): 341x256 (int(256*500/375)); CenterCrop(224): left round(117/2) = 58, top 16.
        var b = CropGeometry.ResizeCenterCrop(500, 375, 224);
        double s = 500.0 / 341, t = 375.0 / 256;
        Assert.Equal(58 * s, b.Left, 9);
        Assert.Equal(16 * t, b.Top, 9);
        Assert.Equal(224 * s, b.Width, 9);
        Assert.Equal(224 * t, b.Height, 9);
        Assert.Equal(256, CropGeometry.EvalResize(224));
        Assert.Equal(37, CropGeometry.EvalResize(32));
    }
}

public class StreamedFolderTests
{
    /// <summary>train/{a,b}/ with PNGs whose left half is black and right half white (a) or all grey (b); val/ one of each.</summary>
    static string HalfFolder(TempDir dir, int width = 120, int height = 80, int perClass = 3)
    {
        for (int i = 0; i < perClass; i++)
            foreach (var split in i == 0 ? new[] { "train", "val" } : ["train"])
            {
                Directory.CreateDirectory(Path.Combine(dir.Path, split, "a"));
                Directory.CreateDirectory(Path.Combine(dir.Path, split, "b"));
                File.WriteAllBytes(Path.Combine(dir.Path, split, "a", $"h{i}.png"), TestImages.Png(width, height, (x, _) => x < width / 2 ? ((byte)0, (byte)0, (byte)0) : ((byte)255, (byte)255, (byte)255)));
                File.WriteAllBytes(Path.Combine(dir.Path, split, "b", $"g{i}.png"), TestImages.Png(width, height, (_, _) => ((byte)128, (byte)128, (byte)128)));
            }
        return dir.Path;
    }

    [Fact]
    public void ReadTrainViews_CutsTheCropFromTheOriginal_BeforeResizing()
    {
        using var dir = new TempDir();
        const int W = 120, H = 80, S = 32;
        using var ds = (ImageFolderDataSet)DataSets.Open("folder", HalfFolder(dir, W, H), new DataSetOpenOptions { ImageSize = S, Workers = 2 });
        var halves = Enumerable.Range(0, (int)ds.TrainCount).Where(i => ds.TrainImages[i].Label == 0).Select(i => (long)i).ToArray();
        for (ulong key = 0; key < 20; key++)
        {
            using var batch = ds.ReadTrainViews(halves, 0.2, 1.0, key);
            Assert.True(batch.Cropped);
            Assert.Equal(new long[] { halves.Length, 3, S, S }, batch.Images.shape);
            Assert.Equal(new long[] { halves.Length, 3, S, S }, batch.SecondView!.shape);
            for (int b = 0; b < halves.Length; b++)
                for (int v = 0; v < 2; v++)
                {
                    // The white share of the output equals the white share of the crop box in original pixels.
                    var state = CropGeometry.CropState(key, b, v);
                    var box = CropGeometry.RandomResizedCrop(W, H, 0.2, 1.0, ref state);
                    var white = Math.Clamp(box.Left + box.Width - W / 2.0, 0, box.Width) / box.Width;
                    var image = v == 0 ? batch.Images[b] : batch.SecondView[b];
                    var mean = image.to_type(ScalarType.Float32).mean().item<float>() / 255.0;
                    Assert.True(Math.Abs(mean - white) < 0.04, $"key {key} image {b} view {v}: box {box}, white share {white:F3}, output mean {mean:F3}");
                }
        }
    }

    [Fact]
    public void FullScaleCrop_EqualsAPlainAntialiasedResize()
    {
        using var dir = new TempDir();
        const int N = 96, S = 32;
        foreach (var split in new[] { "train", "val" })
            foreach (var c in new[] { "a", "b" })
            {
                Directory.CreateDirectory(Path.Combine(dir.Path, split, c));
                File.WriteAllBytes(Path.Combine(dir.Path, split, c, "x.png"), TestImages.Png(N, N, (x, y) => ((byte)(x * 255 / (N - 1)), (byte)(y * 255 / (N - 1)), (byte)((x * y) % 256))));
            }
        using var ds = (ImageFolderDataSet)DataSets.Open("folder", dir.Path, new DataSetOpenOptions { ImageSize = S });
        // Scale (1, 1) on a square image: the crop is the whole image (or torchvision's fallback, also the whole image).
        using var batch = ds.ReadTrainViews([0], 1.0, 1.0, 3, views: 1);
        var decoded = ImageDecoder.Decode(ds.TrainImages[0].Path);
        using var src = tensor(decoded.Rgb, new long[] { N, N, 3 }).permute(2, 0, 1).unsqueeze(0).to_type(ScalarType.Float32);
        using var expected = nn.functional.interpolate(src, new long[] { S, S }, mode: InterpolationMode.Bilinear, align_corners: false, antialias: true);
        using var diff = (batch.Images.to_type(ScalarType.Float32) - expected).abs();
        Assert.True(diff.max().item<float>() <= 6, $"max difference {diff.max().item<float>()} levels from torch's antialiased bilinear resize");
        Assert.True(diff.mean().item<float>() <= 1.5, $"mean difference {diff.mean().item<float>()}");
    }

    [Fact]
    public void ReadTest_IsResizeThenCenterCrop_OfTheOriginal()
    {
        using var dir = new TempDir();
        // 140x70: Resize(37) of the shorter side -> 74x37, CenterCrop(32): columns [21, 53) of 74, i.e.
        // source x in [39.7, 100.3). The image is white there only for x in [40, 100): a white centre.
        foreach (var split in new[] { "train", "val" })
            foreach (var c in new[] { "a", "b" })
            {
                Directory.CreateDirectory(Path.Combine(dir.Path, split, c));
                File.WriteAllBytes(Path.Combine(dir.Path, split, c, "x.png"), TestImages.Png(140, 70, (x, _) => x is >= 40 and < 100 ? ((byte)255, (byte)255, (byte)255) : ((byte)0, (byte)0, (byte)0)));
            }
        using var ds = DataSets.Open("folder", dir.Path, new DataSetOpenOptions { ImageSize = 32 });
        using var batch = ds.ReadTest([0, 1]);
        Assert.Equal(new long[] { 2, 3, 32, 32 }, batch.Images.shape);
        Assert.Equal(new long[] { 0, 1 }, batch.Labels.data<long>().ToArray());
        // Almost all white: only the outermost columns see the black border (0.3 px of it each side).
        Assert.InRange(batch.Images.to_type(ScalarType.Float32).mean().item<float>(), 240, 255);
        Assert.True(batch.Images[0, 0, 16, 16].item<byte>() == 255);
    }

    [Fact]
    public void Streaming_GivesTheFolderContent_InBatchOrder_WithTheSameCropsOnAnyWorkerCount()
    {
        using var dir = new TempDir();
        var root = HalfFolder(dir, perClass: 5);
        using var one = (ImageFolderDataSet)DataSets.Open("folder", root, new DataSetOpenOptions { ImageSize = 32, Workers = 1 });
        using var three = (ImageFolderDataSet)DataSets.Open("folder", root, new DataSetOpenOptions { ImageSize = 32, Workers = 3 });
        var provider = new BatchProvider(new IndexRange(0, one.TrainCount), 4, seed: 5, dropLast: false);
        var expected = provider.Epoch(0).ToList();
        int k = 0;
        foreach (var batch in BatchPrefetcher.Prefetch(provider.Epoch(0), (idx, n) => three.ReadTrainViews(idx, 0.2, 1.0, (ulong)n), depth: 2))
        {
            using (batch)
            using (var reference = one.ReadTrainViews(expected[k], 0.2, 1.0, (ulong)k))
            {
                Assert.Equal(expected[k].Select(i => one.TrainImages[(int)i].Label), batch.Labels.data<long>().ToArray());
                Assert.True((reference.Images == batch.Images).all().item<bool>(), $"batch {k}: view 1 differs between 1 and 3 workers");
                Assert.True((reference.SecondView! == batch.SecondView!).all().item<bool>(), $"batch {k}: view 2 differs");
                Assert.False((batch.Images == batch.SecondView!).all().item<bool>(), "the two views are independent crops");
            }
            k++;
        }
        Assert.Equal(expected.Count, k);
    }

    [Fact]
    public void Prefetch_DecodesAtMostDepthBatchesAhead()
    {
        const int depth = 2;
        int alive = 0, maxAlive = 0, produced = 0;
        var batches = Enumerable.Range(0, 12).Select(i => new long[] { i });
        foreach (var item in BatchPrefetcher.Prefetch(batches, (idx, _) =>
                 {
                     var now = Interlocked.Increment(ref alive);
                     InterlockedMax(ref maxAlive, now);
                     Interlocked.Increment(ref produced);
                     return new Probe(() => Interlocked.Decrement(ref alive));
                 }, depth))
        {
            using (item) Thread.Sleep(30);   // a slow training step: the reader runs ahead and must wait
        }
        Assert.Equal(12, produced);
        // One held by the loop, `depth` waiting in the channel, one finished by the reader and waiting to enter it.
        Assert.InRange(maxAlive, 2, depth + 2);
        Assert.Equal(0, alive);
    }

    [Fact]
    public void Prefetch_LeavingEarly_DisposesWhatWasReadAhead()
    {
        int alive = 0;
        foreach (var item in BatchPrefetcher.Prefetch(Enumerable.Range(0, 50).Select(i => new long[] { i }), (_, _) =>
                 {
                     Interlocked.Increment(ref alive);
                     return new Probe(() => Interlocked.Decrement(ref alive));
                 }, depth: 3))
        {
            using (item) { Thread.Sleep(20); break; }
        }
        Assert.Equal(0, alive);
    }

    [Fact]
    public void Prefetch_ACorruptFileInTheStream_IsAnErrorNamingIt()
    {
        using var dir = new TempDir();
        var root = HalfFolder(dir, perClass: 4);
        var cut = Path.Combine(root, "train", "b", "g2.png");
        var bytes = File.ReadAllBytes(cut);
        File.WriteAllBytes(cut, bytes[..(bytes.Length / 2)]);
        using var ds = (ImageFolderDataSet)DataSets.Open("folder", root, new DataSetOpenOptions { ImageSize = 16, Workers = 2 });
        var provider = new BatchProvider(new IndexRange(0, ds.TrainCount), 2, seed: 1, dropLast: false);
        int seen = 0;
        var e = Assert.Throws<InvalidDataException>(() =>
        {
            foreach (var batch in BatchPrefetcher.Prefetch(provider.Epoch(0), (idx, n) => ds.ReadTrainViews(idx, 0.2, 1.0, (ulong)n)))
                using (batch) seen++;
        });
        Assert.Contains($"'{cut}' is truncated", e.Message);
        Assert.True(seen < provider.BatchesPerEpoch, "the stream stops at the batch holding the file");
    }

    [Fact]
    public void StreamedFolder_HoldsOnlyItsFileList_NoPixels()
    {
        // Memory independent of the set's size: the only per-image state is a FolderImage (path, label).
        var perImage = typeof(ImageFolderDataSet).GetFields(BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)
            .Select(f => f.FieldType).ToList();
        Assert.DoesNotContain(perImage, t => t == typeof(Tensor) || t == typeof(byte[]) || t.IsAssignableTo(typeof(IEnumerable<byte[]>)) || t.IsAssignableTo(typeof(IEnumerable<Tensor>)));
        Assert.Equal([typeof(string), typeof(long)], typeof(FolderImage).GetFields(BindingFlags.Instance | BindingFlags.NonPublic).Select(f => f.FieldType));
        Assert.True(DataSets.IsStreamed("folder"));
        Assert.False(DataSets.IsStreamed("cifar10"));
    }

    [Fact]
    public void Augmenter_OnPreCroppedViews_AppliesOnlyTheRestOfTheRecipe()
    {
        using var sc = new ScalarScope();
        using var dir = new TempDir();
        using var ds = (ImageFolderDataSet)DataSets.Open("folder", HalfFolder(dir), new DataSetOpenOptions { ImageSize = 32 });
        var augmenter = new TwoViewAugmenter(AugmentationRecipe.LinearEvalImageNet, ChannelNormalization.ImageNet, CPU, 32);
        using var batch = ds.ReadTrainViews([0, 1, 2], augmenter.CropScale.Min, augmenter.CropScale.Max, 9, views: 1);
        using var g = new Generator(4);
        using var view = augmenter.View(batch, g);
        // Linear-eval recipe = crop + flip only: each output is the crop itself or its mirror image, normalised.
        using var plain = TwoViewAugmenter.Normalize(batch.Images.to_type(ScalarType.Float32) / sc[255], ChannelNormalization.ImageNet, CPU);
        for (int i = 0; i < 3; i++)
            Assert.True(view[i].allclose(plain[i], atol: 1e-5) || view[i].allclose(plain[i].flip(2), atol: 1e-5), $"image {i} is neither the crop nor its mirror");
        Assert.Throws<ArgumentException>(() => augmenter.TwoViews(batch, g));   // one view cannot make two
    }

    static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen) { }
    }

    sealed class Probe(Action onDispose) : IDisposable
    {
        int _disposed;
        public void Dispose() { if (Interlocked.Exchange(ref _disposed, 1) == 0) onDispose(); }
    }
}

public class ImageSizeOptionTests
{
    [Theory]
    [InlineData(16, "synthetic")]
    [InlineData(4096, "folder")]
    [InlineData(64, "cifar10")]
    public void Validator_NamesDataImageSize(int size, string dataset)
    {
        var o = new RunOptions { Dataset = dataset, DataPath = dataset == "synthetic" ? null : "/data", Data = new DataOptions { ImageSize = size } };
        var error = Assert.Single(o.ValidateFields(), e => e.Path == "data.imageSize");
        Assert.Contains(size.ToString(), error.Message);
    }

    [Fact]
    public void Validator_AcceptsTheImageNetSizeAndTheDefault_AndCatalogsBothFields()
    {
        Assert.Empty(new RunOptions { Dataset = "folder", DataPath = "/data", Data = new DataOptions { ImageSize = 224, Workers = 4 } }.ValidateFields());
        Assert.Empty(new RunOptions { Dataset = "cifar10", DataPath = "/data", Data = new DataOptions { ImageSize = 32 } }.ValidateFields());
        Assert.Empty(new RunOptions().ValidateFields());
        Assert.Contains(new RunOptions { Data = new DataOptions { Workers = -1 } }.ValidateFields(), e => e.Path == "data.workers");
        Assert.Contains(OptionCatalog.Entries, e => e.Path == "data.imageSize" && e.Nullable);
        Assert.Contains(OptionCatalog.Entries, e => e.Path == "data.workers");
        var json = new RunOptions { Data = new DataOptions { ImageSize = 224 } }.ToJson();
        Assert.Contains("\"imageSize\": 224", json);
        Assert.Equal(224, RunOptions.FromJson(json).Data.ImageSize);
    }
}

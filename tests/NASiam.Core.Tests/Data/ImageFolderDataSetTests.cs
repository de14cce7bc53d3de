using NASiam.Core.Data;
using TorchSharp;

namespace NASiam.Core.Tests.Data;

public class ImageFolderDataSetTests
{
    static void WritePng(string file, int width, int height, byte r, byte g, byte b)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        TestImages.WritePng(file, width, height, r, g, b);
    }

    static string MakeFolder(TempDir dir)
    {
        foreach (var (split, n) in new[] { ("train", 3), ("val", 1) })
        {
            Directory.CreateDirectory(Path.Combine(dir.Path, split, "cats"));
            Directory.CreateDirectory(Path.Combine(dir.Path, split, "dogs"));
            for (int i = 0; i < n; i++)
            {
                WritePng(Path.Combine(dir.Path, split, "cats", $"c{i}.png"), 40, 20, 200, 10, 10);
                WritePng(Path.Combine(dir.Path, split, "dogs", $"d{i}.PNG"), 12, 30, 10, 10, 250);
            }
        }
        return dir.Path;
    }

    [Fact]
    public void Open_LabelsClassFolders_AndResizesToSquares()
    {
        using var dir = new TempDir();
        using var ds = DataSets.Open("folder", MakeFolder(dir), new DataSetOpenOptions { ImageSize = 16 });
        Assert.Equal(["cats", "dogs"], ds.ClassNames);
        Assert.Equal(6, ds.TrainCount);
        Assert.Equal(2, ds.TestCount);
        using var batch = ds.ReadTrain([0, 3, 5]);
        Assert.Equal(new long[] { 3, 3, 16, 16 }, batch.Images.shape);
        Assert.Equal(new long[] { 0, 1, 1 }, batch.Labels.data<long>().ToArray());
        Assert.Equal(200, batch.Images[0, 0, 8, 8].item<byte>());
        Assert.Equal(250, batch.Images[1, 2, 3, 3].item<byte>());
        using var test = ds.ReadTest([1]);
        Assert.Equal(1, test.Labels[0].item<long>());
        Assert.Equal(ChannelNormalization.ImageNet, ds.Normalization);
    }

    [Fact]
    public void Open_IgnoresMetadataFiles_AndCountsThemInNotices()
    {
        using var dir = new TempDir();
        MakeFolder(dir);
        foreach (var f in new[] { "train/dogs/Thumbs.db", "train/dogs/desktop.ini", "train/cats/README", "train/cats/notes.txt", "train/cats/anim.gif" })
            File.WriteAllText(Path.Combine(dir.Path, f), "metadata");
        foreach (var f in new[] { "train/cats/.DS_Store", "train/cats/._c0.png", "val/dogs/.hidden/x.png" })
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(dir.Path, f))!);
            File.WriteAllText(Path.Combine(dir.Path, f), "mac fork");
        }
        File.WriteAllText(Path.Combine(dir.Path, "train", "LICENSE.txt"), "cc-by");
        using var ds = (ImageFolderDataSet)DataSets.Open("folder", dir.Path, new DataSetOpenOptions { ImageSize = 8 });
        Assert.Equal(6, ds.TrainCount);
        Assert.Equal(2, ds.TestCount);
        Assert.Equal(
            ["train/LICENSE.txt: outside class folders", "train/cats/.DS_Store: hidden", "train/cats/._c0.png: hidden",
             "train/cats/README: not an image extension", "train/cats/anim.gif: not an image extension", "train/cats/notes.txt: not an image extension",
             "train/dogs/Thumbs.db: not an image extension", "train/dogs/desktop.ini: not an image extension", "val/dogs/.hidden/x.png: hidden"],
            ds.Skipped.Select(f => $"{f.Path}: {f.Reason}").Order(StringComparer.Ordinal));
        Assert.Equal(4, ds.Notices.Count);
        var metadata = Assert.Single(ds.Notices, n => n.Contains("not torchvision image extensions"));
        Assert.StartsWith("train/: ignored 5 file(s)", metadata);
        Assert.Contains("train/dogs/Thumbs.db", metadata);
        Assert.Contains(ds.Notices, n => n.StartsWith("val/: ignored 1 file(s) (hidden"));
        Assert.Equal(ds.Notices, ((IImageDataSet)ds).Notices);
        // Nothing is ignored in a clean folder, so nothing is said.
        using var clean = new TempDir();
        using var plain = DataSets.Open("folder", MakeFolder(clean));
        Assert.Empty(plain.Notices);
    }

    [Fact]
    public void Open_WalksClassFoldersRecursively_LikeTorchvision()
    {
        using var dir = new TempDir();
        // Tiny-ImageNet: train/<class>/images/*.JPEG next to a boxes file; a class holding only a sub-folder.
        WritePng(Path.Combine(dir.Path, "train", "n01", "images", "n01_0.JPEG.png"), 8, 8, 10, 0, 0);
        WritePng(Path.Combine(dir.Path, "train", "n01", "images", "deeper", "n01_2.png"), 8, 8, 30, 0, 0);
        WritePng(Path.Combine(dir.Path, "train", "n01", "images", "n01_1.PNG"), 8, 8, 20, 0, 0);
        WritePng(Path.Combine(dir.Path, "train", "n01", "top.png"), 8, 8, 5, 0, 0);
        File.WriteAllText(Path.Combine(dir.Path, "train", "n01", "n01_boxes.txt"), "n01_0.JPEG 0 0 8 8");
        WritePng(Path.Combine(dir.Path, "train", "n02", "only", "sub", "a.png"), 8, 8, 40, 0, 0);
        WritePng(Path.Combine(dir.Path, "val", "n02", "v.png"), 8, 8, 50, 0, 0);
        using var ds = (ImageFolderDataSet)DataSets.Open("folder", dir.Path, new DataSetOpenOptions { ImageSize = 8 });
        Assert.Equal(["n01", "n02"], ds.ClassNames);
        // sorted(os.walk(class)): the class folder's own files, then each sub-folder in path order.
        Assert.Equal(["train/n01/top.png", "train/n01/images/n01_0.JPEG.png", "train/n01/images/n01_1.PNG", "train/n01/images/deeper/n01_2.png", "train/n02/only/sub/a.png"],
            ds.TrainImages.Select(i => Path.GetRelativePath(dir.Path, i.Path)));
        Assert.Equal(new long[] { 0, 0, 0, 0, 1 }, ds.TrainImages.Select(i => i.Label));
        using var batch = ds.ReadTrain([3, 4]);
        Assert.Equal(new byte[] { 30, 40 }, new[] { batch.Images[0, 0, 4, 4].item<byte>(), batch.Images[1, 0, 4, 4].item<byte>() });
        Assert.Equal("train/n01/n01_boxes.txt", Assert.Single(ds.Skipped).Path);
    }

    [Fact]
    public void Open_NamesAClassWithNoImage()
    {
        using var dir = new TempDir();
        MakeFolder(dir);
        var metadataOnly = Path.Combine(dir.Path, "train", "zebras");
        Directory.CreateDirectory(Path.Combine(metadataOnly, "sub"));
        File.WriteAllText(Path.Combine(metadataOnly, "sub", "Thumbs.db"), "x");
        var e = Assert.Throws<InvalidDataException>(() => DataSets.Open("folder", dir.Path));
        Assert.Contains($"Class folder '{metadataOnly}' holds no image", e.Message);
        Assert.Contains("ignored 1 other file(s) such as 'train/zebras/sub/Thumbs.db'", e.Message);
        // Several empty classes are named together, not one per attempt.
        var alsoEmpty = Path.Combine(dir.Path, "train", "yaks");
        Directory.CreateDirectory(alsoEmpty);
        e = Assert.Throws<InvalidDataException>(() => DataSets.Open("folder", dir.Path));
        Assert.StartsWith($"2 class folders of '{Path.Combine(dir.Path, "train")}' hold no image", e.Message);
        Assert.Contains($"'{metadataOnly}' (ignored 1 other file(s) such as 'train/zebras/sub/Thumbs.db')", e.Message);
        Assert.Contains($"'{alsoEmpty}'", e.Message);
        Directory.Delete(alsoEmpty);
        Directory.Delete(metadataOnly, true);
        var macOnly = Path.Combine(dir.Path, "val", "cats");
        foreach (var f in Directory.GetFiles(macOnly)) File.Move(f, Path.Combine(macOnly, "._" + Path.GetFileName(f)));
        e = Assert.Throws<InvalidDataException>(() => DataSets.Open("folder", dir.Path));
        Assert.Contains($"Class folder '{macOnly}' holds no image", e.Message);
    }

    [Fact]
    public void Open_NamesASplitWithoutClassFolders()
    {
        using var dir = new TempDir();
        MakeFolder(dir);
        var val = Path.Combine(dir.Path, "val");
        Directory.Delete(val, true);
        WritePng(Path.Combine(val, "ILSVRC2012_val_00000001.png"), 8, 8, 1, 2, 3);
        WritePng(Path.Combine(val, "ILSVRC2012_val_00000002.png"), 8, 8, 1, 2, 3);
        var e = Assert.Throws<InvalidDataException>(() => DataSets.Open("folder", dir.Path));
        Assert.Contains($"'{val}' has no class folders (it holds 2 images directly)", e.Message);
        // Tiny-ImageNet's val/: images/ plus val_annotations.txt.
        foreach (var f in Directory.GetFiles(val)) File.Move(f, Path.Combine(Directory.CreateDirectory(Path.Combine(val, "images")).FullName, Path.GetFileName(f)));
        File.WriteAllText(Path.Combine(val, "val_annotations.txt"), "ILSVRC2012_val_00000001.png\tcats");
        e = Assert.Throws<InvalidDataException>(() => DataSets.Open("folder", dir.Path));
        Assert.Contains($"Class folder '{Path.Combine(val, "images")}' has no counterpart in train/", e.Message);
        Assert.Contains("must first be sorted into class folders using 'val_annotations.txt'", e.Message);
        Directory.Delete(Path.Combine(dir.Path, "train", "dogs"), true);
        e = Assert.Throws<InvalidDataException>(() => DataSets.Open("folder", dir.Path));
        Assert.Contains("has 1 class folder(s); expected at least 2", e.Message);
    }

    [Fact]
    public void Open_RefusesTiffAndWebP_WhichTorchvisionCountsButThisBuildCannotDecode()
    {
        using var dir = new TempDir();
        MakeFolder(dir);
        File.WriteAllBytes(Path.Combine(dir.Path, "train", "cats", "scan.TIF"), "II*\0"u8.ToArray());
        File.WriteAllBytes(Path.Combine(dir.Path, "train", "dogs", "photo.webp"), "RIFF\0\0\0\0WEBP"u8.ToArray());
        var e = Assert.Throws<InvalidDataException>(() => DataSets.Open("folder", dir.Path));
        Assert.Contains("holds 2 TIFF/WebP image(s)", e.Message);
        Assert.Contains("train/cats/scan.TIF, train/dogs/photo.webp", e.Message);
        Assert.Contains("Convert them to PNG or JPEG", e.Message);
    }

    [Fact]
    public void ReadTrain_NamesATruncatedJpeg_InsteadOfFillingItWithGrey()
    {
        using var dir = new TempDir();
        MakeFolder(dir);
        var jpeg = TestImages.Jpeg(32, 32, (x, y) => y < 16 ? ((byte)220, (byte)20, (byte)20) : ((byte)20, (byte)20, (byte)220));
        var good = Path.Combine(dir.Path, "train", "cats", "c3.jpg");
        var cut = Path.Combine(dir.Path, "train", "cats", "c4.JPEG");
        File.WriteAllBytes(good, jpeg);
        File.WriteAllBytes(cut, jpeg[..(jpeg.Length * 3 / 4)]);
        using var ds = (ImageFolderDataSet)DataSets.Open("folder", dir.Path, new DataSetOpenOptions { ImageSize = 32 });
        var at = ds.TrainImages.Select(i => i.Path).ToList();
        using (var batch = ds.ReadTrain([at.IndexOf(good)]))
        {
            Assert.InRange(batch.Images[0, 0, 4, 4].item<byte>(), 215, 225);   // red top
            Assert.InRange(batch.Images[0, 2, 28, 28].item<byte>(), 215, 225); // blue bottom
        }
        var e = Assert.Throws<InvalidDataException>(() => ds.ReadTrain([at.IndexOf(cut)]));
        Assert.Contains($"'{cut}' is truncated", e.Message);
        Assert.Contains("end-of-image marker (FFD9)", e.Message);
    }

    [Fact]
    public void ReadTrain_NamesAnUnreadableImage()
    {
        using var dir = new TempDir();
        MakeFolder(dir);
        var bad = Path.Combine(dir.Path, "train", "cats", "c1.png");
        File.WriteAllText(bad, "not a png");
        using var ds = DataSets.Open("folder", dir.Path, new DataSetOpenOptions { ImageSize = 8 });
        var e = Assert.Throws<InvalidDataException>(() => ds.ReadTrain([0, 1]));
        Assert.Contains(bad, e.Message);
        Assert.Contains("is not a JPEG, PNG, BMP, PPM, PGM, TIFF or WebP image", e.Message);
    }

    [Fact]
    public void Open_RejectsEmptyClassFolders_AndMissingSplits()
    {
        using var dir = new TempDir();
        MakeFolder(dir);
        var empty = Path.Combine(dir.Path, "train", "zebras");
        Directory.CreateDirectory(empty);
        var e = Assert.Throws<InvalidDataException>(() => DataSets.Open("folder", dir.Path));
        Assert.Contains(empty, e.Message);
        Directory.Delete(empty);
        Directory.Delete(Path.Combine(dir.Path, "val"), true);
        var missing = Assert.Throws<DirectoryNotFoundException>(() => DataSets.Open("folder", dir.Path));
        Assert.Contains("val/", missing.Message);
    }

    [Fact]
    public void SearchProviders_UseARandomBalancedQuarter_OrTheReferencesFirstQuarterUnderCompat()
    {
        using var dir = new TempDir();
        foreach (var cls in new[] { "a", "b" })
        {
            for (int i = 0; i < 16; i++) WritePng(Path.Combine(dir.Path, "train", cls, $"{i:00}.png"), 8, 8, 1, 1, 1);
            WritePng(Path.Combine(dir.Path, "val", cls, "v.png"), 8, 8, 1, 1, 1);
        }
        using var ds = (ImageFolderDataSet)DataSets.Open("folder", dir.Path, new DataSetOpenOptions { ImageSize = 8 });
        long LabelOf(long i) => ds.TrainImages[(int)i].Label;
        var (w, a) = SearchSplit.Providers(ds, 0.5, imageNetStyle: true, firstQuarterByIndex: false, batchSize: 2, seed: 3);
        Assert.Equal(new long[] { 2, 2 }, new long[] { 0, 1 }.Select(c => (long)w.Indices!.Count(i => LabelOf(i) == c)));
        Assert.Equal(new long[] { 2, 2 }, new long[] { 0, 1 }.Select(c => (long)a.Indices!.Count(i => LabelOf(i) == c)));
        var (rw, ra) = SearchSplit.Providers(ds, 0.5, imageNetStyle: true, firstQuarterByIndex: true, batchSize: 2, seed: 3);
        Assert.Equal((new IndexRange(0, 4), new IndexRange(4, 4)), (rw.Range, ra.Range));
        Assert.All(rw.Epoch(0).Concat(ra.Epoch(0)).SelectMany(b => b), i => Assert.Equal(0, LabelOf(i)));
    }
}

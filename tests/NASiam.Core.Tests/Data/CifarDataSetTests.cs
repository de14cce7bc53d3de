using NASiam.Core.Data;
using NASiam.Core.Data.Cifar;
using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Tests.Data;

public class CifarDataSetTests
{
    static byte[] Latin1(string s) => System.Text.Encoding.Latin1.GetBytes(s);

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void Open_ReadsRecordsBackExactly_InBothLayouts(bool cifar100, bool python)
    {
        using var dir = new TempDir();
        CifarTestFiles.WriteSet(dir.Path, cifar100, python);
        foreach (var coarse in cifar100 ? new[] { false, true } : [false])
        {
            using var ds = (IInMemoryImageDataSet)DataSets.Open(cifar100 ? "cifar100" : "cifar10", dir.Path, new DataSetOpenOptions { CoarseLabels = coarse });
            var classes = cifar100 ? (coarse ? 20 : 100) : 10;
            Assert.Equal(classes, ds.ClassCount);
            Assert.Equal(15, ds.TrainCount);
            Assert.Equal(3, ds.TestCount);
            Assert.Equal(32, ds.ImageSize);
            Assert.Equal(new long[] { 15, 3, 32, 32 }, ds.TrainImages.shape);
            for (int r = 0; r < 15; r++)
            {
                Assert.Equal(CifarTestFiles.Pixels(r), ds.TrainImages[r].flatten().data<byte>().ToArray());
                Assert.Equal(CifarTestFiles.Label(r, classes), ds.TrainLabels[r].item<long>());
            }
            Assert.Equal(CifarTestFiles.Pixels(1002), ds.TestImages[2].flatten().data<byte>().ToArray());
            using var batch = ds.ReadTrain([4, 0]);
            Assert.Equal(new long[] { CifarTestFiles.Label(4, classes), CifarTestFiles.Label(0, classes) }, batch.Labels.data<long>().ToArray());
            // Channel order is R, G, B planes: pixel (c=1, y=0, x=0) is byte 1024 of the record.
            Assert.Equal(CifarTestFiles.Pixels(4)[1024], batch.Images[0, 1, 0, 0].item<byte>());
        }
    }

    [Fact]
    public void Open_FindsTheTorchSharpLayout_AndTheFolderItself()
    {
        using var dir = new TempDir();
        var folder = CifarTestFiles.WriteSet(Path.Combine(dir.Path, "CIFAR10"), cifar100: false, python: false);
        using (var a = DataSets.Open("cifar10", dir.Path)) Assert.Equal(15, a.TrainCount);
        using (var b = DataSets.Open("cifar10", folder)) Assert.Equal(3, b.TestCount);
    }

    [Fact]
    public void Open_NamesTheTruncatedBinaryFile()
    {
        using var dir = new TempDir();
        var folder = CifarTestFiles.WriteSet(dir.Path, false, false);
        var file = Path.Combine(folder, "data_batch_3.bin");
        var bytes = File.ReadAllBytes(file);
        File.WriteAllBytes(file, bytes[..^100]);
        var e = Assert.Throws<InvalidDataException>(() => DataSets.Open("cifar10", dir.Path));
        Assert.Contains("data_batch_3.bin", e.Message);
        Assert.Contains("multiple of 3073", e.Message);
    }

    [Fact]
    public void Open_NamesTheMissingFile()
    {
        using var dir = new TempDir();
        var folder = CifarTestFiles.WriteSet(dir.Path, false, true);
        File.Delete(Path.Combine(folder, "data_batch_5"));
        var e = Assert.Throws<FileNotFoundException>(() => DataSets.Open("cifar10", dir.Path));
        Assert.Contains("data_batch_5", e.Message);
    }

    [Fact]
    public void Open_RejectsABadLabel()
    {
        using var dir = new TempDir();
        var folder = CifarTestFiles.WriteSet(dir.Path, false, false);
        var file = Path.Combine(folder, "test_batch.bin");
        var bytes = File.ReadAllBytes(file);
        bytes[3073] = 42;
        File.WriteAllBytes(file, bytes);
        var e = Assert.Throws<InvalidDataException>(() => DataSets.Open("cifar10", dir.Path));
        Assert.Contains("record 1", e.Message);
        Assert.Contains("test_batch.bin", e.Message);
    }

    [Fact]
    public void Open_NamesTheCorruptOrTruncatedPickle()
    {
        using var dir = new TempDir();
        var folder = CifarTestFiles.WriteSet(dir.Path, true, true);
        var file = Path.Combine(folder, "test");
        var good = File.ReadAllBytes(file);
        File.WriteAllBytes(file, good[..(good.Length / 2)]);
        var truncated = Assert.Throws<InvalidDataException>(() => DataSets.Open("cifar100", dir.Path));
        Assert.Contains(file, truncated.Message);
        Assert.Contains("truncated", truncated.Message);

        var evil = Latin1("\u0080\u0002cos\nsystem\nU\u0002lsq\u0001\u0085R.");
        File.WriteAllBytes(file, evil);
        var e = Assert.Throws<InvalidDataException>(() => DataSets.Open("cifar100", dir.Path));
        Assert.Contains("'os.system' is not allowed", e.Message);
    }

    [Fact]
    public void Open_ExplainsWhereTheDataWasExpected()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<DirectoryNotFoundException>(() => DataSets.Open("cifar100", dir.Path));
        Assert.Contains("cifar-100-binary/ or cifar-100-python/", e.Message);
        var missing = Assert.Throws<DirectoryNotFoundException>(() => DataSets.Open("cifar10", Path.Combine(dir.Path, "nope")));
        Assert.Contains("nope", missing.Message);
        Assert.Throws<ArgumentException>(() => DataSets.Open("cifar10", dir.Path, new DataSetOpenOptions { ImageSize = 64 }));
    }

    [Fact]
    public void PickleReader_ReadsProtocol3StylePickles()
    {
        // Python 3 protocol 2 writes bytes as _codecs.encode(str, 'latin1').
        var pickle = Latin1("\u0080\u0002}q\u0000(X\u0001\u0000\u0000\u0000kq\u0001c_codecs\nencode\nq\u0002X\u0003\u0000\u0000\u0000\u00c3\u00bfAq\u0003X\u0006\u0000\u0000\u0000latin1q\u0004\u0086q\u0005Rq\u0006u.");
        var dict = Assert.IsType<Dictionary<string, object?>>(PickleReader.Load(pickle, "inline"));
        Assert.Equal(new byte[] { 0xFF, 0x41 }, dict["k"]);
    }
}

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

    // What a door checks before it queues a run: the folders only, and the message the run would fail with.
    [Fact]
    public void LocateError_IsNullWhereOpenFindsTheData_ElseOpensMessage()
    {
        using var dir = new TempDir();
        Assert.Null(DataSets.LocateError("synthetic", null));
        var missing = Path.Combine(dir.Path, "nowhere");
        Assert.Equal($"CIFAR data folder '{missing}' does not exist.", DataSets.LocateError("cifar10", missing));
        Assert.StartsWith($"No CIFAR-10 data in '{dir.Path}': expected cifar-10-batches-bin/ or cifar-10-batches-py/ there.", DataSets.LocateError("cifar10", dir.Path));
        Assert.Equal("Data set 'cifar100' needs a data folder (--data DIR).", DataSets.LocateError("cifar100", " "));
        CifarTestFiles.WriteSet(dir.Path, cifar100: false, python: true);
        Assert.Null(DataSets.LocateError("cifar10", dir.Path));
        Assert.StartsWith("No CIFAR-100 data in", DataSets.LocateError("cifar100", dir.Path));
        Assert.Equal($"Image folder '{dir.Path}' has no 'train/' sub-folder; expected train/ and val/ with one sub-folder per class.", DataSets.LocateError("folder", dir.Path));
        Directory.CreateDirectory(Path.Combine(dir.Path, "train"));
        Directory.CreateDirectory(Path.Combine(dir.Path, "val"));
        Assert.Null(DataSets.LocateError("folder", dir.Path));
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
        Assert.Contains("is not a CIFAR batch", e.Message);
        Assert.Contains("os.system", e.Message);
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
    public void Reader_ReadsPython3CodecsEncodedBytes()
    {
        // Python 3 protocol 2 writes bytes as _codecs.encode(str, 'latin1'); here a 1-image batch whose
        // 'data' is a list rather than an array, so the reader must refuse it by name.
        var pickle = Latin1("\u0080\u0002}q\u0000(c_codecs\nencode\nq\u0001X\u0004\u0000\u0000\u0000dataq\u0002X\u0006\u0000\u0000\u0000latin1q\u0003\u0086q\u0004Rq\u0005]q\u0006K\u0001ah\u0001X\u0006\u0000\u0000\u0000labelsq\u0007h\u0003\u0086q\u0008Rq\u0009]q\u000aK\u0001au.");
        var e = Assert.Throws<InvalidDataException>(() => CifarPythonReader.Read(pickle, "inline", false, false));
        Assert.Contains("'inline' is not a CIFAR batch: 'data' is a list, not a numpy array", e.Message);
    }

    [PythonNumpyTheory]
    [InlineData("[1, 2, 3]", "it holds a list, not a dict")]
    [InlineData("{'labels': [0]}", "no key 'data' (keys: labels)")]
    [InlineData("{b'data': b'abc', b'labels': [0]}", "'data' is a bytes, not a numpy array")]
    [InlineData("{'data': __import__('datetime').date(2020, 1, 1), 'labels': [0]}", "'data' is a DateTime, not a numpy array")]
    [InlineData("{'data': np.zeros((2, 3072), np.float32), 'labels': [0, 1]}", "'data' is f4 [2,3072], not uint8")]
    [InlineData("{'data': np.zeros((2, 3072), np.uint8), 'labels': [0]}", "1 labels for 2 images")]
    [InlineData("{'data': np.zeros((1, 3072), np.uint8), 'labels': np.zeros(1, np.int64)}", "'labels' is a PickledNdArray, not a list of ints")]
    public void Reader_RefusesPicklesThatAreNotCifarBatches(string pythonObject, string expected)
    {
        var pickle = PythonPickles.Dump(pythonObject, 4);
        var e = Assert.Throws<InvalidDataException>(() => CifarPythonReader.Read(pickle, "x.pkl", false, false));
        Assert.Contains("'x.pkl' is not a CIFAR batch", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [PythonNumpyTheory]
    [InlineData(2, false)]
    [InlineData(3, false)]
    [InlineData(4, false)]
    [InlineData(5, false)]
    [InlineData(2, true)]
    [InlineData(5, true)]
    public void Open_ReadsPicklesWrittenByPython3_AtEveryProtocol(int protocol, bool fortran)
    {
        using var dir = new TempDir();
        var folder = Path.Combine(dir.Path, "cifar-10-batches-py");
        Directory.CreateDirectory(folder);
        // Pixels and labels by the fixtures' formulas; bytes keys as the official files have them.
        var script = $$"""
            import pickle, sys, numpy as np
            folder = sys.argv[1]
            def batch(first, count):
                r = np.arange(first, first + count).reshape(-1, 1)
                i = np.arange(3072).reshape(1, -1)
                data = ((i * 7 + r * 31) % 256).astype(np.uint8)
                if {{(fortran ? "True" : "False")}}: data = np.asfortranarray(data)
                return {b'batch_label': b'batch', b'labels': [int((k * 3 + 1) % 10) for k in range(first, first + count)],
                        b'data': data, b'filenames': [b'f%d.png' % k for k in range(count)]}
            for n in range(5):
                with open(f'{folder}/data_batch_{n + 1}', 'wb') as f: pickle.dump(batch(n * 3, 3), f, protocol={{protocol}})
            with open(f'{folder}/test_batch', 'wb') as f: pickle.dump(batch(1000, 3), f, protocol={{protocol}})
            """;
        PythonPickles.Run(script, folder);
        Assert.Equal(protocol, File.ReadAllBytes(Path.Combine(folder, "test_batch"))[1]);
        using var ds = (IInMemoryImageDataSet)DataSets.Open("cifar10", dir.Path);
        Assert.Equal(15, ds.TrainCount);
        for (int r = 0; r < 15; r++)
        {
            Assert.Equal(CifarTestFiles.Pixels(r), ds.TrainImages[r].flatten().data<byte>().ToArray());
            Assert.Equal(CifarTestFiles.Label(r, 10), ds.TrainLabels[r].item<long>());
        }
        Assert.Equal(CifarTestFiles.Pixels(1001), ds.TestImages[1].flatten().data<byte>().ToArray());
    }

    [PythonNumpyTheory]
    [InlineData(2)]
    [InlineData(5)]
    public void Open_ReadsCifar100PicklesWithStrKeys(int protocol)
    {
        using var dir = new TempDir();
        var folder = Path.Combine(dir.Path, "cifar-100-python");
        Directory.CreateDirectory(folder);
        var script = $$"""
            import pickle, sys, numpy as np
            def batch(first, count):
                data = np.array([[(i * 7 + r * 31) % 256 for i in range(3072)] for r in range(first, first + count)], dtype=np.uint8)
                return {'data': data, 'fine_labels': [(r * 3 + 1) % 100 for r in range(first, first + count)],
                        'coarse_labels': [(r * 3 + 1) % 20 for r in range(first, first + count)]}
            for name, first, count in (('train', 0, 4), ('test', 1000, 2)):
                with open(sys.argv[1] + '/' + name, 'wb') as f: pickle.dump(batch(first, count), f, protocol={{protocol}})
            """;
        PythonPickles.Run(script, folder);
        using var ds = (IInMemoryImageDataSet)DataSets.Open("cifar100", dir.Path, new DataSetOpenOptions { CoarseLabels = true });
        Assert.Equal(4, ds.TrainCount);
        Assert.Equal(Enumerable.Range(0, 4).Select(r => (long)CifarTestFiles.Label(r, 20)), ds.TrainLabels.data<long>().ToArray());
        Assert.Equal(CifarTestFiles.Pixels(3), ds.TrainImages[3].flatten().data<byte>().ToArray());
    }

    [Fact]
    public void PythonWithNumpy_IsPresentUnderCi()
    {
        // The numpy tests skip visibly elsewhere; on CI (.ci/run installs python3-torch, hence numpy) they must run.
        if (Environment.GetEnvironmentVariable("CI") == "true")
            Assert.True(PythonPickles.Available, PythonPickles.Missing);
    }
}

/// <summary>A theory that skips, naming why, when /usr/bin/python3 with numpy is missing, except under CI=true.</summary>
public sealed class PythonNumpyTheoryAttribute : TheoryAttribute
{
    public PythonNumpyTheoryAttribute()
    {
        if (!PythonPickles.Available && Environment.GetEnvironmentVariable("CI") != "true") Skip = PythonPickles.Missing;
    }
}

/// <summary>Runs Debian's /usr/bin/python3 (with numpy) to write real pickles.</summary>
static class PythonPickles
{
    public const string Python = "/usr/bin/python3";
    static readonly Lazy<bool> Probe = new(() => File.Exists(Python) && Exec("import numpy", []).Code == 0);
    public static bool Available => Probe.Value;
    public static string Missing => $"{Python} with numpy is missing: install Debian's python3-numpy (it comes with python3-torch, which .ci/run installs).";

    static (int Code, string Err) Exec(string script, string[] args)
    {
        var info = new System.Diagnostics.ProcessStartInfo(Python) { RedirectStandardError = true, RedirectStandardOutput = true };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(script);
        foreach (var a in args) info.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(info)!;
        var err = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, err.Result);
    }

    public static void Run(string script, params string[] args)
    {
        Assert.True(File.Exists(Python), Missing);
        var (code, err) = Exec(script, args);
        Assert.True(code == 0, $"python3 failed ({code}): {err}");
    }

    /// <summary>The bytes of pickle.dumps(expression) at a protocol (numpy imported as np).</summary>
    public static byte[] Dump(string expression, int protocol)
    {
        var file = System.IO.Path.GetTempFileName();
        try
        {
            Run($"import pickle, sys, numpy as np\nopen(sys.argv[1], 'wb').write(pickle.dumps({expression}, protocol={protocol}))", file);
            return File.ReadAllBytes(file);
        }
        finally { File.Delete(file); }
    }
}

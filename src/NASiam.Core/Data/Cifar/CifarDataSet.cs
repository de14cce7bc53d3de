using static TorchSharp.torch;

namespace NASiam.Core.Data.Cifar;

/// <summary>The on-disk CIFAR layouts this reader accepts.</summary>
public enum CifarLayout { Binary, Python }

/// <summary>Where a CIFAR set was found: its folder and layout.</summary>
public sealed record CifarLocation(string Folder, CifarLayout Layout, bool Cifar100)
{
    public IReadOnlyList<string> TrainFiles => (Layout, Cifar100) switch
    {
        (CifarLayout.Binary, false) => Enumerable.Range(1, 5).Select(i => Path.Combine(Folder, $"data_batch_{i}.bin")).ToList(),
        (CifarLayout.Python, false) => Enumerable.Range(1, 5).Select(i => Path.Combine(Folder, $"data_batch_{i}")).ToList(),
        (CifarLayout.Binary, true) => [Path.Combine(Folder, "train.bin")],
        _ => [Path.Combine(Folder, "train")],
    };

    public IReadOnlyList<string> TestFiles => (Layout, Cifar100) switch
    {
        (CifarLayout.Binary, false) => [Path.Combine(Folder, "test_batch.bin")],
        (CifarLayout.Python, false) => [Path.Combine(Folder, "test_batch")],
        (CifarLayout.Binary, true) => [Path.Combine(Folder, "test.bin")],
        _ => [Path.Combine(Folder, "test")],
    };
}

/// <summary>
/// Loads CIFAR-10/100 into memory as uint8 [N,3,32,32] from either layout. File order is kept, so
/// train indices follow the files' (already shuffled) record order.
/// </summary>
public static class CifarDataSet
{
    /// <summary>Folder names of each layout, binary first.</summary>
    public static IReadOnlyList<(string Folder, CifarLayout Layout)> FolderNames(bool cifar100) => cifar100
        ? [("cifar-100-binary", CifarLayout.Binary), ("cifar-100-python", CifarLayout.Python)]
        : [("cifar-10-batches-bin", CifarLayout.Binary), ("cifar-10-batches-py", CifarLayout.Python)];

    /// <summary>
    /// Finds the data under <paramref name="root"/>: root/&lt;layout folder&gt;, root/CIFAR10|CIFAR100/&lt;layout
    /// folder&gt; (TorchSharp's layout) or root being the layout folder itself.
    /// </summary>
    public static CifarLocation Locate(string root, bool cifar100)
    {
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"CIFAR data folder '{root}' does not exist.");
        var candidates = new List<string> { root, Path.Combine(root, cifar100 ? "CIFAR100" : "CIFAR10") };
        foreach (var baseDir in candidates)
            foreach (var (folder, layout) in FolderNames(cifar100))
            {
                var dir = Path.Combine(baseDir, folder);
                if (Directory.Exists(dir)) return new CifarLocation(dir, layout, cifar100);
            }
        foreach (var (folder, layout) in FolderNames(cifar100))
        {
            var probe = new CifarLocation(root, layout, cifar100);
            if (File.Exists(probe.TestFiles[0])) return probe;
        }
        var names = string.Join(" or ", FolderNames(cifar100).Select(f => f.Folder + "/"));
        throw new DirectoryNotFoundException($"No {(cifar100 ? "CIFAR-100" : "CIFAR-10")} data in '{root}': expected {names} there. Extract the official archive " +
            $"into it, or fetch it on this machine with: nasiam datasets check --dataset {(cifar100 ? "cifar100" : "cifar10")} --data '{root}' --download");
    }

    /// <summary>Opens the set under <paramref name="root"/>; every file must be present and valid.</summary>
    public static InMemoryImageDataSet Open(bool cifar100, string root, bool coarse)
    {
        var location = Locate(root, cifar100);
        var (trainImages, trainLabels) = ReadSplit(location, location.TrainFiles, coarse);
        var (testImages, testLabels) = ReadSplit(location, location.TestFiles, coarse);
        var classes = cifar100 ? (coarse ? 20 : 100) : 10;
        var names = Enumerable.Range(0, classes).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        return new InMemoryImageDataSet(cifar100 ? "cifar100" : "cifar10", names,
            cifar100 ? ChannelNormalization.Cifar100 : ChannelNormalization.Cifar10,
            trainImages, trainLabels, testImages, testLabels);
    }

    static (Tensor Images, Tensor Labels) ReadSplit(CifarLocation location, IReadOnlyList<string> files, bool coarse)
    {
        var pixels = new List<byte[]>();
        var labels = new List<long>();
        foreach (var file in files)
        {
            var (p, l) = location.Layout == CifarLayout.Binary
                ? CifarBinaryReader.ReadFile(file, location.Cifar100, coarse)
                : CifarPythonReader.ReadFile(file, location.Cifar100, coarse);
            pixels.Add(p);
            labels.AddRange(l);
        }
        var all = new byte[pixels.Sum(p => (long)p.Length)];
        long offset = 0;
        foreach (var p in pixels) { Array.Copy(p, 0, all, offset, p.Length); offset += p.Length; }
        var images = tensor(all, new long[] { labels.Count, 3, 32, 32 });
        return (images, tensor(labels.ToArray()));
    }
}

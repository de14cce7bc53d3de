using NASiam.Core.Data.Cifar;

namespace NASiam.Core.Data;

/// <summary>Options for <see cref="DataSets.Open"/>.</summary>
public sealed record DataSetOpenOptions
{
    /// <summary>CIFAR-100: the 20 coarse labels instead of the 100 fine ones.</summary>
    public bool CoarseLabels { get; init; }
    /// <summary>Synthetic: train images (test gets a fifth).</summary>
    public int SyntheticTrainSize { get; init; } = 5000;
    /// <summary>Synthetic: generation seed.</summary>
    public int SyntheticSeed { get; init; }
    /// <summary>
    /// Side length in px of the images a batch holds: synthetic is drawn at it (default 32); image
    /// folders are streamed from the original files and cut to it per batch (default 224, the ImageNet
    /// recipe: RandomResizedCrop(S) for training views, Resize(round(S·256/224)) + CenterCrop(S) for
    /// evaluation). CIFAR is always 32 and rejects any other value.
    /// </summary>
    public int? ImageSize { get; init; }
    /// <summary>Image folders: decode threads per batch; 0 = one per core.</summary>
    public int Workers { get; init; }
}

/// <summary>Opens data sets by name.</summary>
public static class DataSets
{
    /// <summary>The names <see cref="Open"/> accepts.</summary>
    public static IReadOnlyList<string> Names { get; } = ["synthetic", "cifar10", "cifar100", "folder"];

    /// <summary>Default crop size of image-folder batches when none is given (the ImageNet recipe's 224).</summary>
    public const int DefaultFolderImageSize = 224;

    /// <summary>CIFAR-10 and CIFAR-100 train splits: 50,000 images each (Krizhevsky 2009).</summary>
    public const int CifarTrainCount = 50_000;

    /// <summary>
    /// The train split's image count when the options alone fix it: the synthetic set's
    /// <paramref name="syntheticTrainSize"/>, CIFAR's 50,000; null for image folders (known once read).
    /// </summary>
    public static long? KnownTrainCount(string name, int syntheticTrainSize) => name switch
    {
        "synthetic" => syntheticTrainSize,
        "cifar10" or "cifar100" => CifarTrainCount,
        _ => null,
    };

    /// <summary>
    /// Which path a data set takes (one rule): image folders are always streamed from disk at full
    /// resolution (<see cref="ImageFolderDataSet"/>: file list in memory, decode per batch, crop before
    /// resize); CIFAR and synthetic sets, small by construction (60,000 images of 32 px at most), are
    /// held in memory as uint8 tensors and cropped on the run's device.
    /// </summary>
    public static bool IsStreamed(string name) => name == "folder";

    /// <summary>
    /// Opens synthetic | cifar10 | cifar100 | folder. <paramref name="path"/> is ignored for synthetic;
    /// for CIFAR it is the root holding <c>cifar-10-batches-bin/</c>, <c>cifar-10-batches-py/</c>,
    /// <c>cifar-100-binary/</c> or <c>cifar-100-python/</c> (or that folder itself); for folder it holds
    /// <c>train/</c> and <c>val/</c> with one sub-folder per class, read as torchvision's ImageFolder reads it
    /// (see <see cref="ImageFolderDataSet"/>; files it ignores are counted in <see cref="IImageDataSet.Notices"/>).
    /// Errors name the file and what was expected.
    /// </summary>
    public static IImageDataSet Open(string name, string? path, DataSetOpenOptions? options = null)
    {
        options ??= new DataSetOpenOptions();
        switch (name)
        {
            case "synthetic":
                return SyntheticShapes.Open(options.SyntheticTrainSize, options.SyntheticSeed, options.ImageSize ?? 32);
            case "cifar10":
            case "cifar100":
                if (options.ImageSize is { } size && size != 32)
                    throw new ArgumentException($"{name} images are 32 px; image size {size} was requested.");
                if (options.CoarseLabels && name == "cifar10")
                    throw new ArgumentException("Coarse labels exist only for cifar100.");
                return CifarDataSet.Open(name == "cifar100", RequirePath(name, path), options.CoarseLabels);
            case "folder":
                return ImageFolderDataSet.Open(RequirePath(name, path), options.ImageSize ?? DefaultFolderImageSize, options.Workers);
            default:
                throw new ArgumentException($"Unknown data set '{name}'; valid: {string.Join(", ", Names)}.");
        }
    }

    /// <summary>
    /// Whether <see cref="Open"/> would find the data set, from the folders alone (nothing is read): the
    /// CIFAR layout folder under <paramref name="path"/>, or an image folder's train/ and val/. Null when
    /// found (and for synthetic), else the message <see cref="Open"/> would fail with. Lets a door refuse a
    /// run before it is queued; the run still checks every file when it opens the set.
    /// </summary>
    public static string? LocateError(string name, string? path)
    {
        if (name is not ("cifar10" or "cifar100" or "folder")) return null;
        if (string.IsNullOrWhiteSpace(path)) return $"Data set '{name}' needs a data folder (--data DIR).";
        try
        {
            if (name == "folder") ImageFolderDataSet.RequireSplits(path);
            else Cifar.CifarDataSet.Locate(path, name == "cifar100");
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return e.Message; }
    }

    static string RequirePath(string name, string? path) =>
        string.IsNullOrWhiteSpace(path) ? throw new ArgumentException($"Data set '{name}' needs a data folder (--data DIR).") : path;

    /// <summary>
    /// Throws <see cref="ArgumentException"/> when the data set's images cannot go
    /// through a backbone that downsamples by <paramref name="totalStride"/> (8 for the CIFAR stem,
    /// 32 for the ImageNet stem) or when a two-view crop of <paramref name="cropSize"/> px is larger
    /// than the stored images.
    /// </summary>
    public static void EnsureFits(IImageDataSet dataSet, string backbone, int totalStride, int? cropSize = null)
    {
        if (dataSet.ImageSize < totalStride)
            throw new ArgumentException($"Data set '{dataSet.Name}' has {dataSet.ImageSize} px images; backbone '{backbone}' downsamples by {totalStride} and needs at least {totalStride} px.");
        if (cropSize is { } c && (c < totalStride || c > dataSet.ImageSize))
            throw new ArgumentException($"Crop size {c} px does not fit data set '{dataSet.Name}' ({dataSet.ImageSize} px images) and backbone '{backbone}' (at least {totalStride} px).");
    }
}

using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Data;

/// <summary>One image of an image folder: its path and label (index into the sorted class names).</summary>
public readonly record struct FolderImage(string Path, long Label);

/// <summary>A file an image folder left out, with the reason (one of <see cref="ImageFolderDataSet"/>'s Skip* texts).</summary>
public sealed record SkippedFile(string Path, string Reason);

/// <summary>
/// An ImageNet-style folder read as torchvision's ImageFolder reads it: <c>root/train/CLASS/**</c>
/// and <c>root/val/CLASS/**</c>; classes are the sorted (ordinal) train sub-folders, and every file
/// under a class folder, at any depth (Tiny-ImageNet's <c>train/CLASS/images/*.JPEG</c>), whose
/// extension is one of torchvision's <see cref="ImageExtensions"/> (case-insensitive) is an image
/// of that class, in sorted path order. Left out, and counted in <see cref="Notices"/> and
/// <see cref="Skipped"/> (never silently): other files (Thumbs.db, desktop.ini, README, .gif ...),
/// hidden files and folders (names starting with '.': .DS_Store, macOS "._x.jpg" forks — torchvision
/// would try to read these), and files directly in train/ or val/ outside the class folders.
/// Errors (<see cref="InvalidDataException"/>, naming the folder or file): a split without class
/// folders, a class folder without an image, a val class that is not a train class, TIFF/WebP files
/// (torchvision images this build cannot decode).
/// <para>
/// The set is streamed: only the file list (paths and labels) is held in memory, so memory does not
/// grow with the number of images. Every read decodes the requested files from disk strictly
/// (<see cref="ImageDecoder.Check"/>: a truncated or corrupt file is an error naming it, never filled
/// in) on <see cref="Workers"/> threads and cuts <see cref="ImageSize"/>-px squares from the ORIGINAL
/// pixels (<see cref="Streaming.CropDecoder"/>): <see cref="ReadTrain"/>/<see cref="ReadTest"/> with the
/// evaluation geometry Resize(round(S·256/224)) + CenterCrop(S), <see cref="ReadTrainViews(long[], double, double, ulong, int)"/> with
/// RandomResizedCrop(S) per view (method doc 6.2). The training loops read ahead through
/// <see cref="Streaming.BatchPrefetcher"/>.
/// </para>
/// </summary>
public sealed partial class ImageFolderDataSet : IImageDataSet
{
    /// <summary>torchvision's IMG_EXTENSIONS: the extensions (case-insensitive) that make a file an image.</summary>
    public static IReadOnlySet<string> ImageExtensions { get; } =
        new HashSet<string>(StringComparer.OrdinalIgnoreCase) { ".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp" };

    /// <summary>The <see cref="ImageExtensions"/> this build decodes (JPEG, PNG, BMP by StbImageSharp; binary PPM/PGM by <see cref="ImageDecoder"/>).</summary>
    public static IReadOnlySet<string> DecodableExtensions { get; } =
        new HashSet<string>(StringComparer.OrdinalIgnoreCase) { ".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm" };

    /// <summary>Reason of a file whose extension is not an image extension.</summary>
    public const string SkipNotImage = "not an image extension";
    /// <summary>Reason of a hidden file or of the files under a hidden folder.</summary>
    public const string SkipHidden = "hidden";
    /// <summary>Reason of a file directly in train/ or val/, outside every class folder.</summary>
    public const string SkipOutsideClass = "outside class folders";

    readonly FolderImage[] _train;
    readonly FolderImage[] _test;

    public string Name => "folder";
    public string Root { get; }
    public int ImageSize { get; }
    public int ClassCount => ClassNames.Count;
    public IReadOnlyList<string> ClassNames { get; }
    public ChannelNormalization Normalization => ChannelNormalization.ImageNet;
    public long TrainCount => _train.Length;
    public long TestCount => _test.Length;
    /// <summary>The train images in index order.</summary>
    public IReadOnlyList<FolderImage> TrainImages => _train;
    /// <summary>The val images in index order.</summary>
    public IReadOnlyList<FolderImage> TestImages => _test;
    /// <summary>Every file left out while listing, with its reason (paths relative to <see cref="Root"/>).</summary>
    public IReadOnlyList<SkippedFile> Skipped { get; }
    /// <summary>One line per split and reason counting the files left out, with a few examples; empty when none.</summary>
    public IReadOnlyList<string> Notices { get; }

    ImageFolderDataSet(string root, int imageSize, int workers, IReadOnlyList<string> classes, FolderImage[] train, FolderImage[] test, List<SkippedFile> skipped)
    {
        (Root, ImageSize, Workers, ClassNames, _train, _test, Skipped) = (root, imageSize, workers, classes, train, test, skipped);
        Notices = skipped.GroupBy(f => (Split: f.Path.Split('/')[0], f.Reason))
            .Select(g => $"{g.Key.Split}/: ignored {g.Count()} file(s) ({Explain(g.Key.Reason)}): {Examples(g.Select(f => f.Path))}.")
            .ToList();
    }

    static string Explain(string reason) => reason switch
    {
        SkipNotImage => $"not torchvision image extensions {string.Join(" ", ImageExtensions)}",
        SkipHidden => "hidden: names starting with '.'",
        SkipOutsideClass => "outside the class folders",
        _ => reason,
    };

    static string Examples(IEnumerable<string> paths)
    {
        var list = paths.ToList();
        var shown = string.Join(", ", list.Take(5));
        return list.Count > 5 ? $"{shown} and {list.Count - 5} more" : shown;
    }

    /// <summary>
    /// Lists the folder (no image is decoded). Throws <see cref="DirectoryNotFoundException"/> when
    /// root, train/ or val/ is missing and <see cref="InvalidDataException"/> naming the folder or file
    /// when train/ has fewer than 2 class folders, val/ has none, a class folder holds no image, a val
    /// class is not a train class, or an image is TIFF/WebP. <paramref name="imageSize"/> is the side of
    /// every batch's images (crops); <paramref name="workers"/> the decode threads (0 = one per core).
    /// </summary>
    public static ImageFolderDataSet Open(string root, int imageSize, int workers = 0)
    {
        if (imageSize < 8 || imageSize > 1024) throw new ArgumentException($"Image-folder image size must be in [8, 1024] px; got {imageSize}.");
        if (workers < 0 || workers > 256) throw new ArgumentException($"Decode workers must be in [0, 256] (0 = one per core); got {workers}.");
        if (workers == 0) workers = Environment.ProcessorCount;
        var (trainDir, valDir) = RequireSplits(root);
        var skipped = new List<SkippedFile>();
        // List records train/'s loose files itself; this first pass only names the classes.
        var classes = ClassFolders(root, trainDir, []).Select(Path.GetFileName).OfType<string>().ToList();
        if (classes.Count < 2) throw new InvalidDataException($"Image folder '{trainDir}' has {classes.Count} class folder(s); expected at least 2 (one sub-folder per class, as torchvision's ImageFolder reads them).");
        var labelOf = classes.Select((c, i) => (c, i)).ToDictionary(x => x.c, x => (long)x.i, StringComparer.Ordinal);
        var train = List(root, trainDir, labelOf, skipped);
        var test = List(root, valDir, labelOf, skipped);
        return new ImageFolderDataSet(root, imageSize, workers, classes, train, test, skipped);
    }

    /// <summary>root/train and root/val; <see cref="DirectoryNotFoundException"/> naming what is missing.</summary>
    internal static (string Train, string Val) RequireSplits(string root)
    {
        if (File.Exists(root)) throw new DirectoryNotFoundException($"Image folder '{root}' is a file; give the folder that holds train/ and val/.");
        // A relative path is read from the working directory of the process that reads it (the server's, for the web).
        if (!Directory.Exists(root))
            throw new DirectoryNotFoundException($"Image folder '{root}' does not exist{(Path.IsPathRooted(root) ? "" : $" (a relative path, read from {Environment.CurrentDirectory})")}.");
        var trainDir = Path.Combine(root, "train");
        var valDir = Path.Combine(root, "val");
        foreach (var d in new[] { trainDir, valDir })
            if (!Directory.Exists(d)) throw new DirectoryNotFoundException($"Image folder '{root}' has no '{Path.GetFileName(d)}/' sub-folder; expected train/ and val/ with one sub-folder per class.");
        return (trainDir, valDir);
    }

    /// <summary>The visible sub-folders of a split in ordinal order; files beside them and hidden folders are recorded as skipped.</summary>
    static List<string> ClassFolders(string root, string splitDir, List<SkippedFile> skipped)
    {
        var dirs = new List<string>();
        foreach (var entry in Directory.GetFileSystemEntries(splitDir).Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(entry);
            if (Directory.Exists(entry))
            {
                if (name.StartsWith('.')) SkipTree(root, entry, SkipHidden, skipped);
                else dirs.Add(entry);
            }
            else skipped.Add(new SkippedFile(Relative(root, entry), name.StartsWith('.') ? SkipHidden : SkipOutsideClass));
        }
        return dirs;
    }

    static FolderImage[] List(string root, string splitDir, Dictionary<string, long> labelOf, List<SkippedFile> skipped)
    {
        var split = Path.GetFileName(splitDir);
        var items = new List<FolderImage>();
        var dirs = ClassFolders(root, splitDir, skipped);
        if (dirs.Count == 0)
        {
            var loose = Directory.GetFiles(splitDir).Count(f => ImageExtensions.Contains(Path.GetExtension(f)));
            throw new InvalidDataException($"'{splitDir}' has no class folders{(loose > 0 ? $" (it holds {loose} images directly)" : "")}; expected one sub-folder per class, named as in train/ (ImageNet's val/ must first be sorted into class folders).");
        }
        var undecodable = new List<string>();
        // Every empty class of the split at once: fixing them one error at a time is a loop for the user.
        var empty = new List<(string Dir, string Ignored)>();
        foreach (var dir in dirs)
        {
            var name = Path.GetFileName(dir);
            if (!labelOf.TryGetValue(name, out var label))
                throw new InvalidDataException($"Class folder '{dir}' has no counterpart in train/; classes are taken from train/" +
                    (split == "val" && Directory.GetFiles(splitDir).Any(f => Path.GetExtension(f).Equals(".txt", StringComparison.OrdinalIgnoreCase))
                        ? $" (a val/ of loose images with an annotation file, as Tiny-ImageNet's and ImageNet's, must first be sorted into class folders using '{Path.GetFileName(Directory.GetFiles(splitDir, "*.txt")[0])}')."
                        : "."));
            var before = items.Count;
            var ignored = skipped.Count;
            Walk(root, dir, label, items, skipped, undecodable);
            if (items.Count == before)
                empty.Add((dir, skipped.Count > ignored ? $"ignored {skipped.Count - ignored} other file(s) such as '{skipped[ignored].Path}'" : ""));
        }
        if (empty.Count == 1)
            throw new InvalidDataException($"Class folder '{empty[0].Dir}' holds no image (searched all its sub-folders for {string.Join(" ", ImageExtensions)}{(empty[0].Ignored.Length > 0 ? "; " + empty[0].Ignored : "")}).");
        if (empty.Count > 1)
            throw new InvalidDataException($"{empty.Count} class folders of '{splitDir}' hold no image (searched all their sub-folders for {string.Join(" ", ImageExtensions)}): " +
                $"{Examples(empty.Select(x => $"'{x.Dir}'" + (x.Ignored.Length > 0 ? $" ({x.Ignored})" : "")))}.");
        if (undecodable.Count > 0)
            throw new InvalidDataException($"'{splitDir}' holds {undecodable.Count} TIFF/WebP image(s), which torchvision counts but this build cannot decode (JPEG, PNG, BMP, PPM and PGM only): {Examples(undecodable)}. Convert them to PNG or JPEG.");
        return items.ToArray();
    }

    /// <summary>Every file under <paramref name="dir"/>, recursively, as torchvision's sorted os.walk orders them (directory path, then file name).</summary>
    static void Walk(string root, string dir, long label, List<FolderImage> items, List<SkippedFile> skipped, List<string> undecodable)
    {
        var pending = new List<string> { dir };
        var visited = new HashSet<string>(StringComparer.Ordinal);
        var all = new List<string>();
        while (pending.Count > 0)
        {
            var d = pending[^1];
            pending.RemoveAt(pending.Count - 1);
            var real = new DirectoryInfo(d).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? Path.GetFullPath(d);
            if (!visited.Add(real)) continue; // a symbolic-link cycle
            all.Add(d);
            foreach (var sub in Directory.GetDirectories(d))
            {
                if (Path.GetFileName(sub).StartsWith('.')) SkipTree(root, sub, SkipHidden, skipped);
                else pending.Add(sub);
            }
        }
        foreach (var d in all.Order(StringComparer.Ordinal))
            foreach (var file in Directory.GetFiles(d).Order(StringComparer.Ordinal))
            {
                var name = Path.GetFileName(file);
                if (name.StartsWith('.')) skipped.Add(new SkippedFile(Relative(root, file), SkipHidden));
                else if (!ImageExtensions.Contains(Path.GetExtension(name))) skipped.Add(new SkippedFile(Relative(root, file), SkipNotImage));
                else if (!DecodableExtensions.Contains(Path.GetExtension(name))) undecodable.Add(Relative(root, file));
                else items.Add(new FolderImage(file, label));
            }
    }

    static void SkipTree(string root, string dir, string reason, List<SkippedFile> skipped)
    {
        foreach (var file in Directory.EnumerateFiles(dir, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = true }).Order(StringComparer.Ordinal))
            skipped.Add(new SkippedFile(Relative(root, file), reason));
    }

    static string Relative(string root, string path) => Path.GetRelativePath(root, path).Replace('\\', '/');

    public void Dispose() { }
}

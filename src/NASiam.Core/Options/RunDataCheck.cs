using System.Collections.Concurrent;
using NASiam.Core.Data;

namespace NASiam.Core.Options;

/// <summary>
/// What a run's data allows, said before the run is queued where the data is read (<see cref="RunRequestPolicy.CheckDataFolders"/>:
/// the CLI, a web node that executes runs) and again by the engine when it opens the set, in the same words: the folder
/// is there; an image folder lists as the run will list it (train/ and val/, at least two class folders, an image in
/// each, val's classes among train's; no image is decoded); and each stage's batch fits the images it draws (every
/// step draws a full batch, drop_last). A broken folder or a batch too large for a small one used to be queued and
/// fail at the run's start.
/// </summary>
public static class RunDataCheck
{
    /// <summary>An image folder's train split as the search and the pre-training see it: its image count and each class's.</summary>
    public sealed record FolderCounts(long Train, IReadOnlyList<int> ClassSizes);

    /// <summary>
    /// Every problem with the data <paramref name="o"/> reads, by field (<c>dataPath</c>, <c>search.batchSize</c>,
    /// <c>search.trainPortion</c>, <c>pretrain.batchSize</c>); empty when the run can start. Lists an image folder's
    /// files, as the run does at its start (a listing is reused for 10 s while its class folders stand unchanged, so a form re-checking on each edit lists once).
    /// </summary>
    public static IReadOnlyList<FieldError> Errors(RunOptions o)
    {
        if (DataSets.LocateError(o.Dataset, o.DataPath) is { } missing) return [new("dataPath", missing)];
        if (o.Dataset != "folder") return []; // the synthetic set and CIFAR: counts known from the options (RunOptionsValidator)
        FolderCounts counts;
        try { counts = Listing(o.DataPath!); }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            return [new("dataPath", e.Message)];
        }
        var errors = new List<FieldError>();
        if (o.Kind is RunKind.Search or RunKind.Pipeline && SearchSplitError(o, counts.Train, counts.ClassSizes) is { } search) errors.Add(search);
        if (o.Kind is RunKind.Pretrain or RunKind.Pipeline && o.Pretrain.BatchSize > counts.Train)
            errors.Add(new("pretrain.batchSize", $"{o.Pretrain.BatchSize} is more than the {counts.Train} train images of '{o.DataPath}'; every step draws a full batch"));
        return errors;
    }

    /// <summary>
    /// What the data makes of the recipe without refusing it: a linear batch larger than the train split (the linear
    /// evaluation keeps a partial batch) is one batch an epoch of every image. An image folder's count is known where
    /// <paramref name="listFolders"/> (the door reads the data); empty otherwise.
    /// </summary>
    public static IReadOnlyList<string> Notices(RunOptions o, bool listFolders)
    {
        if (o.Kind is not (RunKind.LinCls or RunKind.Pipeline)) return [];
        long? train = DataSets.KnownTrainCount(o.Dataset, o.SyntheticTrainSize);
        if (train is null && o.Dataset == "folder" && listFolders && !string.IsNullOrWhiteSpace(o.DataPath))
        {
            try { train = Listing(o.DataPath).Train; }
            catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException or ArgumentException) { return []; }
        }
        return train is { } n && o.Linear.BatchSize > n
            ? [$"linear.batchSize: {o.Linear.BatchSize} is more than the {n} train images, so each linear epoch is one batch of all {n}"]
            : [];
    }

    /// <summary>
    /// Null when both halves of the search split (method doc 5.1) fill a batch of <c>search.batchSize</c>; else the
    /// field and why, with the numbers that lead there. <paramref name="classSizes"/>: an image folder's train classes
    /// (it searches on a class-balanced quarter, <see cref="SearchSplit.Balanced"/>, or with compat D20 on the first
    /// quarter by index); null for the synthetic set and CIFAR (the whole train split).
    /// </summary>
    public static FieldError? SearchSplitError(RunOptions o, long trainCount, IReadOnlyList<int>? classSizes)
    {
        var s = o.Search;
        if (s.TrainPortion is not (> 0 and < 1)) return null; // a field error of its own
        bool folder = classSizes is not null;
        var (weights, alphas) = folder && !o.Compat.ImageNetSearchFirstQuarter
            ? SearchSplit.BalancedSizes(classSizes!, SearchSplit.FolderSearchFraction, s.TrainPortion)
            : SearchSplit.Sizes(trainCount, s.TrainPortion, quarterOfTrain: folder);
        string source = !folder
            ? $"search.trainPortion {s.TrainPortion} of {trainCount} train images, {TrainSource(o)}"
            : $"a search on an image folder draws {(o.Compat.ImageNetSearchFirstQuarter ? "the first quarter (by index, compat D20)" : "a class-balanced quarter")} " +
              $"of its {trainCount} train images ({classSizes!.Count} classes): {weights + alphas} images, of which search.trainPortion {s.TrainPortion} " +
              $"(the weights' share) gives {weights} to the weights and {alphas} to the architecture{(o.Compat.ImageNetSearchFirstQuarter ? "" : ", rounding down in each class")}";
        if (weights < 1 || alphas < 1)
            return new("search.trainPortion", $"leaves the search's {(weights < 1 ? "weight" : "architecture")} split empty ({source}): use more images or another search.trainPortion");
        long smaller = Math.Min(weights, alphas);
        return s.BatchSize <= smaller ? null : new("search.batchSize",
            $"{s.BatchSize} is more than the {smaller} images of the search's {(weights <= alphas ? "weight" : "architecture")} split ({source}); every step draws a full batch");
    }

    /// <summary>An image folder's train images as listed (the 10 s listing reused); null for other data sets or a folder that does not list.</summary>
    internal static long? ListedTrainCount(RunOptions o)
    {
        if (o.Dataset != "folder" || string.IsNullOrWhiteSpace(o.DataPath)) return null;
        try { return Listing(o.DataPath).Train; }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException or ArgumentException) { return null; }
    }

    /// <summary>Where a count of train images fixed by the options comes from, as the batch messages name it.</summary>
    internal static string TrainSource(RunOptions o) => o.Dataset == "synthetic" ? "syntheticTrainSize" : $"{o.Dataset}'s train split";

    static readonly ConcurrentDictionary<string, (DateTime At, string Stamp, FolderCounts Counts)> Recent = new(StringComparer.Ordinal);
    static readonly TimeSpan Reuse = TimeSpan.FromSeconds(10);

    static FolderCounts Listing(string root)
    {
        var key = Path.GetFullPath(root);
        var now = DateTime.UtcNow;
        var stamp = Stamp(key);
        if (Recent.TryGetValue(key, out var known) && now - known.At < Reuse && known.Stamp == stamp) return known.Counts;
        // Lists (and checks) the folder as the run will; only the counts are kept, never the file list.
        using var set = ImageFolderDataSet.Open(root, DataSets.DefaultFolderImageSize, workers: 1);
        var counts = new FolderCounts(set.TrainCount, CountsOf(set));
        foreach (var old in Recent.Where(kv => now - kv.Value.At >= Reuse).Select(kv => kv.Key).ToArray()) Recent.TryRemove(old, out _);
        Recent[key] = (now, stamp, counts);
        return counts;
    }

    /// <summary>
    /// The modification times of train/, val/ and their class folders: a file added to or removed from a class folder,
    /// or a class folder added, changes it, so a listing is reused only while the folder stands as it was listed
    /// (a file changed deeper, under a class's sub-folder, waits out the 10 s).
    /// </summary>
    static string Stamp(string root)
    {
        var parts = new System.Text.StringBuilder();
        foreach (var split in new[] { "train", "val" })
        {
            var dir = new DirectoryInfo(Path.Combine(root, split));
            if (!dir.Exists) return "";
            parts.Append(dir.LastWriteTimeUtc.Ticks).Append(';');
            foreach (var sub in dir.EnumerateDirectories()) parts.Append(sub.Name).Append('=').Append(sub.LastWriteTimeUtc.Ticks).Append(';');
        }
        return parts.ToString();
    }

    /// <summary>Images per train class of an opened folder, in class order.</summary>
    public static IReadOnlyList<int> CountsOf(ImageFolderDataSet set)
    {
        var sizes = new int[set.ClassCount];
        foreach (var image in set.TrainImages) sizes[image.Label]++;
        return sizes;
    }
}

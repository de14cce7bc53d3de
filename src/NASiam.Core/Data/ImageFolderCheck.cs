namespace NASiam.Core.Data;

/// <summary>An image that failed to decode: its path relative to the folder root and the decoder's reason.</summary>
public sealed record UnreadableImage(string Path, string Error);

/// <summary>
/// What <see cref="ImageFolderCheck.Run"/> found: images checked per split, every failure, and the sides (px) of the
/// images that decoded (<see cref="MinSide"/>, <see cref="MaxSide"/>: the shorter side's smallest and largest; 0 when none decoded).
/// </summary>
public sealed record ImageFolderCheckReport(long TrainChecked, long TestChecked, IReadOnlyList<UnreadableImage> Unreadable, int MinSide = 0, int MaxSide = 0)
{
    /// <summary>True when every checked image decoded.</summary>
    public bool Ok => Unreadable.Count == 0;

    /// <summary>Train images that decoded: those checked less the unreadable ones (it counted attempts, beside the failures).</summary>
    public long TrainDecoded => TrainChecked - Unreadable.Count(u => u.Path.StartsWith("train/", StringComparison.Ordinal));

    /// <summary>Val images that decoded.</summary>
    public long TestDecoded => TestChecked - Unreadable.Count(u => u.Path.StartsWith("val/", StringComparison.Ordinal));
}

/// <summary>
/// Decodes the images of an image folder (both splits) with the strict <see cref="ImageDecoder"/>,
/// in parallel, collecting every failure instead of stopping at the first: the check behind
/// <c>nasiam datasets check</c>.
/// </summary>
public static class ImageFolderCheck
{
    /// <summary>
    /// Decodes every image, or with <paramref name="samplePerClass"/> &gt; 0 at most that many per class
    /// and split (evenly spaced within the class, first and last included). Failures are sorted by path.
    /// </summary>
    public static ImageFolderCheckReport Run(ImageFolderDataSet dataSet, int samplePerClass = 0, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(dataSet);
        if (samplePerClass < 0) throw new ArgumentException($"Sample per class must be 0 (all) or positive; got {samplePerClass}.");
        var train = Select(dataSet.TrainImages, samplePerClass);
        var test = Select(dataSet.TestImages, samplePerClass);
        var failures = new System.Collections.Concurrent.ConcurrentBag<UnreadableImage>();
        int minSide = int.MaxValue, maxSide = 0;
        Parallel.ForEach(train.Concat(test), new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancellationToken }, file =>
        {
            try
            {
                var image = ImageDecoder.Decode(file);
                int side = Math.Min(image.Width, image.Height);
                InterlockedMin(ref minSide, side);
                InterlockedMax(ref maxSide, side);
            }
            catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
            {
                failures.Add(new UnreadableImage(Path.GetRelativePath(dataSet.Root, file).Replace('\\', '/'), e.Message));
            }
        });
        return new ImageFolderCheckReport(train.Count, test.Count, failures.OrderBy(f => f.Path, StringComparer.Ordinal).ToList(),
            maxSide == 0 ? 0 : minSide, maxSide);
    }

    static void InterlockedMin(ref int target, int value)
    {
        int seen;
        while (value < (seen = Volatile.Read(ref target)) && Interlocked.CompareExchange(ref target, value, seen) != seen) { }
    }

    static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while (value > (seen = Volatile.Read(ref target)) && Interlocked.CompareExchange(ref target, value, seen) != seen) { }
    }

    static List<string> Select(IReadOnlyList<FolderImage> images, int perClass)
    {
        if (perClass == 0) return images.Select(i => i.Path).ToList();
        var picked = new List<string>();
        foreach (var group in images.GroupBy(i => i.Label))
        {
            var files = group.Select(i => i.Path).ToList();
            if (files.Count <= perClass) { picked.AddRange(files); continue; }
            for (int k = 0; k < perClass; k++)
                picked.Add(files[perClass == 1 ? 0 : (int)((long)k * (files.Count - 1) / (perClass - 1))]);
        }
        return picked;
    }
}

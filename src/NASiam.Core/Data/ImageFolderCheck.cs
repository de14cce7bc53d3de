namespace NASiam.Core.Data;

/// <summary>An image that failed to decode: its path relative to the folder root and the decoder's reason.</summary>
public sealed record UnreadableImage(string Path, string Error);

/// <summary>What <see cref="ImageFolderCheck.Run"/> found: images decoded per split and every failure.</summary>
public sealed record ImageFolderCheckReport(long TrainDecoded, long TestDecoded, IReadOnlyList<UnreadableImage> Unreadable)
{
    /// <summary>True when every checked image decoded.</summary>
    public bool Ok => Unreadable.Count == 0;
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
        Parallel.ForEach(train.Concat(test), new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancellationToken }, file =>
        {
            try { ImageDecoder.Decode(file); }
            catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
            {
                failures.Add(new UnreadableImage(Path.GetRelativePath(dataSet.Root, file).Replace('\\', '/'), e.Message));
            }
        });
        return new ImageFolderCheckReport(train.Count, test.Count, failures.OrderBy(f => f.Path, StringComparer.Ordinal).ToList());
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

using System.Text;

namespace NASiam.Core.IO;

/// <summary>
/// Replacing a file so that a reader sees the old file or the new one whole, never a part, also after a crash or a
/// power loss: the content goes to a uniquely named temporary file in the same folder (so the rename stays on one
/// file system), is flushed to disk, and is then renamed over the target. A failed write removes its temporary file
/// and leaves the target as it was. The one way every artefact (checkpoints, exports, result.json, genotypes,
/// metrics.jsonl rewrites, caches) is written; before, six copies differed, and only checkpoints were flushed.
/// </summary>
public static class AtomicFile
{
    /// <summary>
    /// Writes <paramref name="path"/> with what <paramref name="write"/> puts in the stream (folders are created).
    /// <paramref name="beforeCommit"/>, when given, runs once the content is on disk and just before the rename makes it
    /// the target: what must be recorded before the file can be seen (a checkpoint's own event, which the checkpoint
    /// counts) is recorded there, so a process killed in between leaves the old file and a record a resume drops,
    /// never a file that counts a record nobody kept.
    /// </summary>
    /// <exception cref="IOException">The write, the flush or the rename failed; the target is unchanged.</exception>
    public static void Write(string path, Action<Stream> write, Action? beforeCommit = null)
    {
        ArgumentNullException.ThrowIfNull(write);
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        var temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(file);
                file.Flush(flushToDisk: true);
            }
            beforeCommit?.Invoke();
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>
    /// Deletes the temporary files of writes that never finished in <paramref name="directory"/> (not its subfolders): a
    /// process killed mid-write leaves its <c>.NAME.GUID.tmp</c> (a checkpoint's is the model's size). Call it only where
    /// no other process writes the folder. Returns the deleted files' names and their total size in bytes.
    /// </summary>
    public static (IReadOnlyList<string> Names, long Bytes) RemoveLeftovers(string directory)
    {
        if (!Directory.Exists(directory)) return ([], 0);
        var names = new List<string>();
        long bytes = 0;
        foreach (var file in new DirectoryInfo(directory).EnumerateFiles(".*.tmp"))
        {
            if (!IsTemporaryName(file.Name)) continue;
            long length = file.Length;
            file.Delete();
            names.Add(file.Name);
            bytes += length;
        }
        return (names, bytes);
    }

    // ".NAME.<32 hex digits>.tmp", as Write names them.
    static bool IsTemporaryName(string name)
    {
        if (!name.StartsWith('.') || !name.EndsWith(".tmp", StringComparison.Ordinal)) return false;
        var stem = name[..^4];
        int dot = stem.LastIndexOf('.');
        return dot > 1 && stem.Length - dot - 1 == 32 && stem[(dot + 1)..].All(Uri.IsHexDigit);
    }

    /// <summary>Writes <paramref name="text"/> to <paramref name="path"/> as UTF-8 without a byte-order mark.</summary>
    public static void WriteAllText(string path, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var bytes = new UTF8Encoding(false).GetBytes(text);
        Write(path, s => s.Write(bytes));
    }

    /// <summary>Copies <paramref name="from"/> over <paramref name="to"/>.</summary>
    public static void Copy(string from, string to)
    {
        using var source = new FileStream(from, FileMode.Open, FileAccess.Read, FileShare.Read);
        Write(to, s => source.CopyTo(s));
    }
}

namespace NASiam.Web.Runs.Storage;

/// <summary>
/// Holds <c>Nasiam:DataDirectory/.nasiam-web.lock</c> exclusively while the app serves a SQLite data
/// directory. SQLite storage belongs to one process (docs/deploy.md): a second app started on the same
/// folder ran jobs beside the first, two training processes on one machine's devices, with no word.
/// Now it stops at start-up naming the folder. The lock is the operating system's (.NET takes an
/// advisory <c>flock</c> for <see cref="FileShare.None"/> on Unix), so it goes with the process, even a killed one.
/// </summary>
public sealed class DataDirectoryLock : IDisposable
{
    /// <summary>The lock file's name inside the data directory.</summary>
    public const string FileName = ".nasiam-web.lock";

    readonly FileStream _file;

    DataDirectoryLock(FileStream file) => _file = file;

    /// <summary>
    /// Takes the lock on <paramref name="dataDirectory"/>, or throws <see cref="BackingServiceUnavailableException"/>
    /// (the app's start-up error: one line, exit code 2) when another process holds it.
    /// </summary>
    public static DataDirectoryLock Acquire(string dataDirectory)
    {
        Directory.CreateDirectory(dataDirectory);
        var path = Path.Combine(dataDirectory, FileName);
        try
        {
            return new DataDirectoryLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
        }
        // Only a sharing violation (another process holds the lock) is another instance; a read-only or unwritable
        // folder said "another NASiam.Web serves it" with nobody there.
        catch (Exception e) when (e is UnauthorizedAccessException || (e is IOException && CannotWrite(dataDirectory)))
        {
            throw new BackingServiceUnavailableException(
                $"the data directory {dataDirectory} (Nasiam:DataDirectory) cannot be written: {e.Message} " +
                "Runs, checkpoints and the SQLite database live there: give a writable folder.", e);
        }
        catch (IOException e)
        {
            throw new BackingServiceUnavailableException(
                $"another NASiam.Web serves the data directory {dataDirectory} (Nasiam:DataDirectory; it holds {FileName}). " +
                "SQLite storage belongs to one process: stop the other one, give this one another Nasiam:DataDirectory, " +
                "or share the work between machines with Nasiam:Storage=postgresql (docs/deploy.md).", e);
        }
    }

    /// <summary>True when no new file can be made in <paramref name="dataDirectory"/> (a read-only mount, no permission).</summary>
    static bool CannotWrite(string dataDirectory)
    {
        var probe = Path.Combine(dataDirectory, $".nasiam-write-probe-{Guid.NewGuid():N}");
        try
        {
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write)) { }
            File.Delete(probe);
            return false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return true; }
    }

    public void Dispose() => _file.Dispose();
}

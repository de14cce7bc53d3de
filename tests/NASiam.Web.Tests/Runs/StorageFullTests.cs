using Microsoft.Data.Sqlite;
using NASiam.Web.Runs.Storage;

namespace NASiam.Web.Tests.Runs;

/// <summary>Check E: a full disk under the SQLite file was a raw SqliteException 500 at the API and a dead New-run page.</summary>
public class StorageFullTests
{
    [Fact]
    public void AFullDisk_IsTold_FromAnUnreachableStore_AndFromAStatementsFault()
    {
        Assert.True(RunDatabase.IsFull(new SqliteException("SQLite Error 13: 'database or disk is full'.", 13)));
        Assert.True(RunDatabase.IsFull(new InvalidOperationException("wrapped", new IOException("No space left on device : '/data/x.tmp'"))));
        Assert.True(RunDatabase.IsFull(new Npgsql.PostgresException("could not extend file", "ERROR", "ERROR", "53100")));
        Assert.False(RunDatabase.IsFull(new SqliteException("SQLite Error 14: 'unable to open database file'.", 14)));
        Assert.True(RunDatabase.IsUnavailable(new SqliteException("SQLite Error 14: 'unable to open database file'.", 14)));
        Assert.False(RunDatabase.IsFull(new SqliteException("SQLite Error 1: 'no such table: runs'.", 1)));
        Assert.False(RunDatabase.IsFull(new IOException("Access to the path is denied.")));
    }
}

/// <summary>Check E: a read-only data directory was refused as "another NASiam.Web serves the data directory", with nobody there.</summary>
public class DataDirectoryLockTests
{
    [Fact]
    public void AnotherInstance_AndAFolderThatCannotBeWritten_AreToldApart()
    {
        var dir = Directory.CreateTempSubdirectory("nasiam-lock-").FullName;
        try
        {
            using (DataDirectoryLock.Acquire(dir))
            {
                var held = Assert.Throws<BackingServiceUnavailableException>(() => DataDirectoryLock.Acquire(dir));
                Assert.StartsWith($"another NASiam.Web serves the data directory {dir}", held.Message);
            }
            using (DataDirectoryLock.Acquire(dir)) { } // released with its holder

            // A lock file that cannot be opened for writing (here a folder in its place; a read-only mount answers likewise).
            var other = Directory.CreateTempSubdirectory("nasiam-lock-ro-").FullName;
            Directory.CreateDirectory(Path.Combine(other, DataDirectoryLock.FileName));
            var unwritable = Assert.Throws<BackingServiceUnavailableException>(() => DataDirectoryLock.Acquire(other));
            Assert.StartsWith($"the data directory {other} (Nasiam:DataDirectory) cannot be written: ", unwritable.Message);
            Directory.Delete(other, recursive: true);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}

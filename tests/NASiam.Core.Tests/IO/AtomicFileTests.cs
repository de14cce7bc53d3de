using NASiam.Core.IO;

namespace NASiam.Core.Tests.IO;

public sealed class AtomicFileTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("nasiam-atomic-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void AWriteThatFails_LeavesTheOldFileWhole_AndNoTemporaryFile()
    {
        var path = Path.Combine(_dir, "result.json");
        AtomicFile.WriteAllText(path, "old");
        var e = Assert.Throws<IOException>(() => AtomicFile.Write(path, s =>
        {
            s.Write("new, half"u8);
            throw new IOException("disk full");
        }));
        Assert.Equal("disk full", e.Message);
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Equal(["result.json"], Directory.GetFiles(_dir).Select(Path.GetFileName));
    }

    [Fact]
    public void WriteAllText_IsUtf8WithoutAByteOrderMark_AndCreatesTheFolder_AndCopyCopies()
    {
        var path = Path.Combine(_dir, "a", "b", "genotype.txt");
        AtomicFile.WriteAllText(path, "Genotype · été");
        Assert.Equal("Genotype · été"u8.ToArray(), File.ReadAllBytes(path));
        var copy = Path.Combine(_dir, "copy.txt");
        File.WriteAllText(copy, "stale and longer than the new content");
        AtomicFile.Copy(path, copy);
        Assert.Equal(File.ReadAllBytes(path), File.ReadAllBytes(copy));
        Assert.Equal(2, Directory.GetFiles(_dir, "*", SearchOption.AllDirectories).Length);
    }

    [Fact]
    public void BeforeCommit_RunsWithTheNewContentOnDiskAndTheOldFileStillInPlace_AndItsFailureKeepsTheOldFile()
    {
        var path = Path.Combine(_dir, "search.ckpt");
        AtomicFile.WriteAllText(path, "old");
        string? seen = null;
        string? pending = null;
        AtomicFile.Write(path, s => s.Write("new"u8), beforeCommit: () =>
        {
            seen = File.ReadAllText(path);
            pending = File.ReadAllText(Assert.Single(Directory.GetFiles(_dir, "*.tmp")));
        });
        Assert.Equal(("old", "new"), (seen, pending));
        Assert.Equal("new", File.ReadAllText(path));

        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s => s.Write("newer"u8), () => throw new InvalidOperationException()));
        Assert.Equal("new", File.ReadAllText(path));
        Assert.Equal(["search.ckpt"], Directory.GetFiles(_dir).Select(Path.GetFileName));
    }

    [Fact]
    public void RemoveLeftovers_DeletesOnlyTheTemporaryFilesOfWrites_AndSaysWhichAndHowLarge()
    {
        var leftover = $".search.ckpt.{Guid.NewGuid():N}.tmp";
        File.WriteAllBytes(Path.Combine(_dir, leftover), new byte[3000]);
        string[] kept = ["search.ckpt", ".notes.tmp", $".x.{Guid.NewGuid():N}.tmp.bak", $"y.{Guid.NewGuid():N}.tmp", $".z.{new string('g', 32)}.tmp"];
        foreach (var name in kept) File.WriteAllText(Path.Combine(_dir, name), "keep");
        Directory.CreateDirectory(Path.Combine(_dir, "sub"));
        File.WriteAllText(Path.Combine(_dir, "sub", leftover), "other folder");

        var (names, bytes) = AtomicFile.RemoveLeftovers(_dir);
        Assert.Equal([leftover], names);
        Assert.Equal(3000, bytes);
        Assert.Equal(kept.Order(), Directory.GetFiles(_dir).Select(Path.GetFileName).Order());
        Assert.True(File.Exists(Path.Combine(_dir, "sub", leftover)));
        var none = AtomicFile.RemoveLeftovers(Path.Combine(_dir, "missing"));
        Assert.Equal((0, 0L), (none.Names.Count, none.Bytes));
    }
}

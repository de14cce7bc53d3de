using NASiam.Core.Engine.Checkpoints;
using NASiam.Core.Genotypes;
using NASiam.Core.Options;

namespace NASiam.Core.Tests.Genotypes;

/// <summary>A genotype reference that names a path: a run folder reads its genotype.txt; a checkpoint or a folder without one says what to give.</summary>
public sealed class GenotypeFileTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("nasiam-genotype-file-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    static readonly Genotype Published = GenotypePresets.Find("simsiam/cifar10_resnet18", null)!.Genotype!;

    string Folder(string name, bool withGenotype, bool withSearchCheckpoint = false)
    {
        var dir = Path.Combine(_dir, name);
        Directory.CreateDirectory(dir);
        if (withGenotype) File.WriteAllText(Path.Combine(dir, "genotype.txt"), GenotypeText.Write(Published));
        if (withSearchCheckpoint) SaveCheckpoint(Path.Combine(dir, "checkpoints", "search.ckpt"), "search");
        return dir;
    }

    static void SaveCheckpoint(string path, string stage) => CheckpointStore.Save(path,
        new CheckpointState { Stage = stage, Epoch = 0, Step = 16, OptionsJson = RunPresets.ForFramework(Framework.SimSiam).ToJson() }, new CheckpointContent());

    [Fact]
    public void ARunFolder_ResolvesToItsGenotypeTxt_AndTheResolverSaysWhichFile()
    {
        var run = Folder("run", withGenotype: true);
        Assert.True(Published.SameAs(GenotypeReference.Resolve(run, Framework.SimSiam)!));

        var r = RunRequestResolver.Resolve(new RunRequest { Kind = RunKind.Pretrain, Framework = "simsiam", Genotype = run }, RunRequestPolicy.Cli with { CheckDataFolders = false });
        Assert.True(r.Ok, string.Join("; ", r.Errors));
        Assert.Contains($"pretrain.genotype: '{run}' is a run folder; its genotype is read from {Path.Combine(run, "genotype.txt")}", r.Notices);
    }

    [Fact]
    public void AFolderWithoutGenotypeTxt_SaysWhatToGive_AndOfAStoppedSearch_HowToDeriveOne()
    {
        var empty = Folder("empty", withGenotype: false);
        var e = Assert.Throws<ArgumentException>(() => GenotypeReference.Resolve(empty, Framework.SimSiam));
        Assert.Contains("is a folder without genotype.txt", e.Message);

        var stopped = Folder("stopped", withGenotype: false, withSearchCheckpoint: true);
        e = Assert.Throws<ArgumentException>(() => GenotypeReference.Resolve(stopped, Framework.SimSiam));
        Assert.Contains($"'nasiam genotype derive {Path.Combine(stopped, "checkpoints", "search.ckpt")} > g.txt'", e.Message);
    }

    [Fact]
    public void ACheckpoint_IsRefusedWithWhatToDo_NotParsedAsGenotypeText()
    {
        var search = Path.Combine(_dir, "search.ckpt");
        SaveCheckpoint(search, "search");
        var e = Assert.Throws<ArgumentException>(() => GenotypeReference.Resolve(search, Framework.SimSiam));
        Assert.Contains($"is a search checkpoint, not a genotype: derive one from its alphas with 'nasiam genotype derive {search} > g.txt'", e.Message);

        var pretrain = Path.Combine(_dir, "pretrain.ckpt");
        SaveCheckpoint(pretrain, "pretrain");
        e = Assert.Throws<ArgumentException>(() => GenotypeReference.Resolve(pretrain, Framework.SimSiam));
        Assert.Contains("is a pretrain checkpoint, not a genotype: give its run folder", e.Message);
    }
}

using NASiam.Core.Engine.Checkpoints;
using NASiam.Core.Engine.Runs;

namespace NASiam.Core.Genotypes;

/// <summary>
/// What a genotype reference that names an existing path reads, where paths are allowed (the CLI's
/// <c>--genotype</c>; <see cref="GenotypeReference.Resolve(string?, Framework, bool)"/>): a genotype file
/// (reference text or JSON), or a run folder holding genotype.txt, as <c>lincls --checkpoint</c> takes a run
/// folder. A checkpoint, or a folder with no genotype.txt, is refused with what to give instead: parsing one
/// as genotype text only said "Malformed genotype at character 1".
/// </summary>
public static class GenotypeFile
{
    /// <summary>The genotype.txt of the run folder <paramref name="path"/>; null when it is not a folder holding one.</summary>
    public static string? InRunFolder(string? path)
    {
        if (string.IsNullOrWhiteSpace(path) || !Directory.Exists(path.Trim())) return null;
        var file = Path.Combine(Path.GetFullPath(path.Trim()), RunArtifacts.GenotypeTextFile);
        return File.Exists(file) ? file : null;
    }

    /// <summary>The genotype text (trimmed) of the existing file or folder <paramref name="path"/>.</summary>
    /// <exception cref="ArgumentException">A folder without genotype.txt, or a NASiam checkpoint.</exception>
    public static string ReadText(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path))
        {
            if (InRunFolder(path) is { } file) return File.ReadAllText(file).Trim();
            var search = StageEnvironment.CheckpointPathIn(Path.GetFullPath(path), "search");
            throw new ArgumentException(File.Exists(search)
                ? $"'{path}' holds no {RunArtifacts.GenotypeTextFile}: its search did not finish. Its alphas' argmax is a provisional genotype: " +
                  $"'nasiam genotype derive {search} > g.txt', then give g.txt"
                : $"'{path}' is a folder without {RunArtifacts.GenotypeTextFile}: give a run folder whose search or pre-training finished, " +
                  "a genotype file, a preset or genotype text");
        }
        if (CheckpointStore.IsCheckpoint(path))
        {
            var stage = CheckpointStore.ReadState(path).Stage;
            throw new ArgumentException(stage == "search"
                ? $"'{path}' is a search checkpoint, not a genotype: derive one from its alphas with 'nasiam genotype derive {path} > g.txt', then give g.txt (or give the run folder, when its search finished)"
                : $"'{path}' is a {stage} checkpoint, not a genotype: give its run folder (which holds {RunArtifacts.GenotypeTextFile}) or a genotype file");
        }
        return File.ReadAllText(path).Trim();
    }
}

using NASiam.Web.Api;

namespace NASiam.Web.Runs;

/// <summary>
/// The downloadable files of a run. A download name is looked up in the listing, never joined onto
/// a path, so "../" and absolute names cannot leave the run's folder.
/// </summary>
public sealed class RunFiles(RunPaths paths)
{
    static readonly string[] ExportExtensions = [".pt", ".pth", ".safetensors", ".ckpt", ".bin"];

    // The run's own record beside its checkpoints: result.json (outcome, metrics, artefacts, stages) and every event;
    // the run's artifacts name result.json, which could not be downloaded.
    static readonly string[] RecordFiles = [NASiam.Core.Engine.Runs.RunArtifacts.ResultFile, NASiam.Core.Reporting.MetricsJsonl.FileName];

    /// <summary>Files under checkpoints/, exports (.pt, .pth, .safetensors) anywhere in the run folder, and the run's result.json and metrics.jsonl; names use '/'.</summary>
    public IReadOnlyList<CheckpointFile> Checkpoints(Guid runId)
    {
        var dir = paths.RunDirectory(runId);
        if (!Directory.Exists(dir)) return [];
        var root = Path.GetFullPath(dir);
        return Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Where(f =>
            {
                var rel = Path.GetRelativePath(root, f).Replace('\\', '/');
                return rel.StartsWith("checkpoints/", StringComparison.Ordinal) || ExportExtensions.Contains(Path.GetExtension(f)) || RecordFiles.Contains(rel);
            })
            .Where(f => !f.EndsWith(".tmp", StringComparison.Ordinal))
            .Select(f => new FileInfo(f))
            .Select(f => new CheckpointFile(Path.GetRelativePath(root, f.FullName).Replace('\\', '/'), f.Length, f.LastWriteTimeUtc))
            .OrderBy(f => f.Name, StringComparer.Ordinal)
            .ToArray();
    }

    /// <summary>The full path of a listed checkpoint, or null (unknown name, traversal attempt).</summary>
    public string? Resolve(Guid runId, string name)
    {
        var hit = Checkpoints(runId).FirstOrDefault(c => c.Name == name);
        if (hit is null) return null;
        var root = Path.GetFullPath(paths.RunDirectory(runId)) + Path.DirectorySeparatorChar;
        var full = Path.GetFullPath(Path.Combine(root, hit.Name));
        return full.StartsWith(root, StringComparison.Ordinal) && File.Exists(full) ? full : null;
    }

    /// <summary>
    /// The run's backbone checkpoints, the one it stands for first (<see cref="NASiam.Core.Engine.Runs.BackboneCheckpoints"/>:
    /// the export's default, kNN-best or last by the engine's rule), each with its label; empty when it has none.
    /// </summary>
    public IReadOnlyList<NASiam.Core.Engine.Runs.BackboneCheckpoint> BackboneCheckpoints(Guid runId)
    {
        var dir = paths.RunDirectory(runId);
        return Directory.Exists(dir) ? NASiam.Core.Engine.Runs.BackboneCheckpoints.In(dir) : [];
    }

    /// <summary>genotype.txt / genotype.json written by the engine, when present.</summary>
    public string? GenotypeFile(Guid runId, string fileName)
    {
        var f = Path.Combine(paths.RunDirectory(runId), fileName);
        return File.Exists(f) ? f : null;
    }
}

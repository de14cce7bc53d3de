using System.Text.Json;
using NASiam.Core.Options;
using NASiam.Web.Runs;

namespace NASiam.Web.Api;

/// <summary>Body of POST /api/runs: a preset name and/or complete options (options win), plus an optional device and parent.</summary>
public sealed record CreateRunRequest(string? Preset, string? Framework, JsonElement? Options, string? Device, string? Name, Guid? ParentId);

/// <summary>A run as listed by the API.</summary>
public sealed record RunSummary(
    Guid Id, string Name, string Kind, string Framework, string Backbone, string Dataset, string Device, string Status,
    string? Stage, double Progress, double? ElapsedSeconds, double? EtaSeconds, string? BestMetricName, double? BestMetric,
    DateTimeOffset CreatedAt, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt, string? Message, Guid? ParentId, long Events)
{
    public static RunSummary From(RunRecord r, DateTimeOffset now) => new(
        r.Id, r.Name, r.Kind.ToString(), r.Framework.ToString(), r.Backbone, r.Dataset, r.Device, r.Status.ToString(), r.Stage,
        r.Progress, r.Elapsed(now)?.TotalSeconds, r.Eta(now)?.TotalSeconds, r.BestMetricName, r.BestMetric,
        r.CreatedAt, r.StartedAt, r.FinishedAt, r.Message, r.ParentId, r.EventCount);
}

/// <summary>A run with its options, lineage and files.</summary>
public sealed record RunDetail(RunSummary Run, JsonElement Options, string? GenotypeText, Guid? ParentId, IReadOnlyList<Guid> Children,
    JsonElement? Artifacts, JsonElement? Metrics, IReadOnlyList<CheckpointFile> Checkpoints);

/// <summary>A downloadable checkpoint or export of a run.</summary>
public sealed record CheckpointFile(string Name, long Bytes, DateTimeOffset Modified);

/// <summary>Events of a run for charts (series thinned to maxPoints per type).</summary>
public sealed record MetricsResponse(Guid RunId, long LastSequence, bool Downsampled, IReadOnlyList<JsonElement> Events);

/// <summary>Body of POST /api/genotypes (JSON form); text/plain bodies carry the genotype text alone.</summary>
public sealed record ImportGenotypeRequest(string? Name, string? Text, string? Framework);

/// <summary>A genotype for the API: presets and the library.</summary>
public sealed record GenotypeInfo(string Id, string Name, string Framework, string Source, string? Text, string? Description, Guid? RunId);

/// <summary>Maps "Field.Path: message" strings to a ValidationProblem dictionary.</summary>
public static class ValidationErrors
{
    public static Dictionary<string, string[]> ToDictionary(IEnumerable<string> errors) =>
        errors.Select(e =>
            {
                int i = e.IndexOf(": ", StringComparison.Ordinal);
                return i > 0 ? (Field: e[..i], Message: e[(i + 2)..]) : (Field: "", Message: e);
            })
            .GroupBy(p => p.Field)
            .ToDictionary(g => g.Key, g => g.Select(p => p.Message).ToArray());
}

using System.Text.Json;
using System.Text.Json.Nodes;
using NASiam.Core.Genotypes;
using NASiam.Core.Options;

namespace NASiam.Core.Engine.Runs;

/// <summary>
/// Files a run leaves in its output folder besides checkpoints and metrics: genotype.txt (the
/// reference one-line format, no trailing newline), genotype.json, and result.json with the
/// outcome, headline metrics, the lineage of stages and the options.
/// </summary>
public static class RunArtifacts
{
    public const string GenotypeTextFile = "genotype.txt";
    public const string GenotypeJsonFile = "genotype.json";
    public const string ResultFile = "result.json";

    /// <summary>Writes genotype.txt and genotype.json (atomically, each via a temp file).</summary>
    public static void WriteGenotype(string directory, string genotypeText, Framework framework)
    {
        var genotype = GenotypeRules.ParseAnyDepth(genotypeText, framework);
        IO.AtomicFile.WriteAllText(Path.Combine(directory, GenotypeTextFile), GenotypeText.Write(genotype));
        IO.AtomicFile.WriteAllText(Path.Combine(directory, GenotypeJsonFile), GenotypeJson.Write(genotype, framework));
    }

    /// <summary>
    /// Writes result.json: run id, outcome, message, genotype, metrics, artefacts, per-stage lineage, options.
    /// Metrics that are NaN or infinite are written as the strings "NaN", "Infinity", "-Infinity" (<see cref="Reporting.HeadlineMetricsJson"/>).
    /// </summary>
    public static void WriteResult(string directory, Guid runId, RunOptions options, Engine.RunResult result, IReadOnlyList<StageResult> stages)
    {
        var lineage = new JsonArray();
        string? previousOutput = null;
        foreach (var s in stages)
        {
            var entry = new JsonObject
            {
                ["stage"] = s.Stage,
                ["outcome"] = s.Outcome.ToString().ToLowerInvariant(),
                ["message"] = s.Message,
                ["input"] = s.Input ?? previousOutput,
                ["genotype"] = s.GenotypeText,
                ["checkpoint"] = s.Checkpoint,
                ["best_checkpoint"] = s.BestCheckpoint,
                ["metrics"] = Metrics(s.Metrics),
            };
            lineage.Add(entry);
            previousOutput = s.BestCheckpoint ?? s.Checkpoint;
        }
        var root = new JsonObject
        {
            ["run_id"] = runId.ToString(),
            ["kind"] = options.Kind.ToString().ToLowerInvariant(),
            ["framework"] = options.Framework.ToName(),
            ["outcome"] = result.Outcome.ToString().ToLowerInvariant(),
            ["message"] = result.Message,
            ["genotype"] = result.GenotypeText,
            ["metrics"] = Metrics(result.Metrics),
            ["artifacts"] = new JsonObject(result.Artifacts.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
            ["lineage"] = lineage,
            ["options"] = JsonNode.Parse(options.ToJson()),
            ["finished_at"] = DateTimeOffset.UtcNow.ToString("O"),
        };
        IO.AtomicFile.WriteAllText(Path.Combine(directory, ResultFile), root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>
    /// The options a run folder's result.json records (what the run was started with; the run's --out folder).
    /// </summary>
    /// <exception cref="ArgumentException">The folder, its result.json or its "options" is missing or does not read; the message names the folder.</exception>
    public static RunOptions ReadOptions(string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        if (!Directory.Exists(folder)) throw new ArgumentException($"'{folder}' is not a folder (give a run's --out folder)");
        var path = Path.Combine(folder, ResultFile);
        if (!File.Exists(path)) throw new ArgumentException($"'{folder}' holds no {ResultFile}: give the --out folder of a run that ended");
        try
        {
            var options = JsonNode.Parse(File.ReadAllText(path))?["options"]
                ?? throw new ArgumentException($"{path} records no \"options\"");
            return RunOptions.FromJson(options.ToJsonString());
        }
        catch (JsonException e) { throw new ArgumentException($"{path} does not read as a run's result: {e.Message}", e); }
    }

    static JsonObject Metrics(IReadOnlyDictionary<string, double> metrics) => Reporting.HeadlineMetricsJson.ToNode(metrics);
}

using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace NASiam.Core.Reporting;

/// <summary>
/// The JSON form of a run's or a stage's headline metrics (name → value, e.g. knn_top1 in %,
/// search_final_loss), as result.json, stage_finished and the web database store them: one object whose
/// NaN and infinite values are the strings "NaN", "Infinity" and "-Infinity", as in every event
/// (<see cref="TrainingEventJson"/>). A metric that was not measured or that diverged is kept and shown
/// as such, never dropped and never a serialisation error (plain JSON has no NaN).
/// </summary>
public static class HeadlineMetricsJson
{
    public static readonly JsonSerializerOptions Options = CreateOptions();

    static JsonSerializerOptions CreateOptions()
    {
        var o = new JsonSerializerOptions { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };
        o.MakeReadOnly(populateMissingResolver: true);
        return o;
    }

    /// <summary>One compact JSON object.</summary>
    public static string Serialize(IReadOnlyDictionary<string, double> metrics) => JsonSerializer.Serialize(metrics, Options);

    /// <summary>The same object as a node (for files that embed it).</summary>
    public static JsonObject ToNode(IReadOnlyDictionary<string, double> metrics) => JsonSerializer.SerializeToNode(metrics, Options)!.AsObject();

    /// <summary>Reads what <see cref="Serialize"/> wrote (empty for null). Throws <see cref="JsonException"/> for text that is not such an object.</summary>
    public static IReadOnlyDictionary<string, double> Parse(string? json) => json is null ? new Dictionary<string, double>()
        : JsonSerializer.Deserialize<Dictionary<string, double>>(json, Options) ?? [];
}

using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace NASiam.Core.Reporting;

/// <summary>
/// The one JSON form of engine events (contract version <see cref="SchemaVersion"/>, described by
/// docs/events.schema.v1.json and docs/metrics-schema.md): one compact object, "type" first, then
/// the envelope (run_id, sequence, at, stage) and the event's own fields, all snake_case. The same
/// text goes into metrics.jsonl, the web database, the REST API, the SignalR hub and the pipe
/// between a run's child process and the server. Doubles that are NaN or infinite are written as
/// strings ("NaN", "Infinity", "-Infinity") so a failed step stays readable; nulls are written.
/// </summary>
public static class TrainingEventJson
{
    /// <summary>The contract version written in <see cref="RunStarted.SchemaVersion"/>.</summary>
    public const int SchemaVersion = 1;

    public static readonly JsonSerializerOptions Options = Create(JsonNamingPolicy.SnakeCaseLower);

    /// <summary>
    /// The camelCase form the web app stored and sent before contract v1 (database rows, worker
    /// journals). Read-only: used to migrate what is stored, never to write.
    /// </summary>
    static readonly JsonSerializerOptions Legacy = Create(JsonNamingPolicy.CamelCase);

    static JsonSerializerOptions Create(JsonNamingPolicy naming)
    {
        var o = new JsonSerializerOptions
        {
            PropertyNamingPolicy = naming,
            DictionaryKeyPolicy = null,
            NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
            Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
            // Readers may meet "type" after other fields (hand-written or re-ordered JSON).
            AllowOutOfOrderMetadataProperties = true,
            WriteIndented = false,
            // Genotype text keeps its quotes readable (' not \u0027); the JSON is never inlined into HTML.
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        };
        o.MakeReadOnly(populateMissingResolver: true);
        return o;
    }

    static readonly Dictionary<Type, string> Names = typeof(TrainingEvent)
        .GetCustomAttributes<JsonDerivedTypeAttribute>()
        .ToDictionary(a => a.DerivedType, a => (string)a.TypeDiscriminator!);

    /// <summary>Every "type" value of the contract, in declaration order.</summary>
    public static IReadOnlyCollection<string> TypeNames { get; } = Names.Values.ToArray();

    /// <summary>The discriminator of an event class; throws for a class missing from the table.</summary>
    public static string TypeName(Type eventType) => Names.TryGetValue(eventType, out var n) ? n
        : throw new InvalidOperationException($"{eventType.Name} is not in TrainingEvent's [JsonDerivedType] table.");

    /// <summary>One line of JSON (no newline) for <paramref name="e"/>.</summary>
    public static string Serialize(TrainingEvent e) => JsonSerializer.Serialize(e, Options);

    /// <summary>The same JSON as <see cref="Serialize"/>, as an element (hub and API payloads embed it as is).</summary>
    public static JsonElement ToElement(TrainingEvent e) => JsonSerializer.SerializeToElement(e, Options);

    /// <summary>Reads one event. Throws <see cref="JsonException"/> naming the problem (unknown or missing type, bad field).</summary>
    public static TrainingEvent Deserialize(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<TrainingEvent>(json, Options) ?? throw new JsonException("An event was JSON null.");
        }
        catch (NotSupportedException e)
        {
            // STJ reports a missing discriminator on an abstract type as NotSupported.
            throw new JsonException($"Not an event (no known \"type\"; known: {string.Join(", ", TypeNames)}): {e.Message}", e);
        }
    }

    public static TrainingEvent Deserialize(JsonElement element) => Deserialize(element.GetRawText());

    /// <summary>
    /// Reads an event in the current form or in the camelCase form stored before contract v1
    /// (told apart by its "runId" field). For migrations and leftover files only.
    /// </summary>
    public static TrainingEvent DeserializeAnyVersion(string json)
    {
        var node = JsonNode.Parse(json) as JsonObject ?? throw new JsonException("An event must be a JSON object.");
        if (!node.ContainsKey("runId")) return Deserialize(json);
        try
        {
            return node.Deserialize<TrainingEvent>(Legacy) ?? throw new JsonException("An event was JSON null.");
        }
        catch (NotSupportedException e) { throw new JsonException($"Not an event: {e.Message}", e); }
    }

    /// <summary>True when <paramref name="json"/> is in the camelCase form from before contract v1.</summary>
    public static bool IsLegacy(string json) => json.Contains("\"runId\"", StringComparison.Ordinal);
}

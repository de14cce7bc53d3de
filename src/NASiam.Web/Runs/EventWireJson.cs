using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using NASiam.Core.Reporting;

namespace NASiam.Web.Runs;

/// <summary>
/// The wire and storage form of engine events: the event's own properties in camelCase, with its
/// "type" discriminator and "sequence". The same JSON goes into the database and to SignalR clients.
/// (metrics.jsonl uses the engine's snake_case form, NASiam.Core.Reporting.TrainingEventJson.)
/// </summary>
public static class EventWireJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    static readonly Dictionary<string, Type> Types = new[]
    {
        typeof(StageStarted), typeof(StepLogged), typeof(AlphasLogged), typeof(CollapseLogged), typeof(KnnLogged),
        typeof(ThroughputLogged), typeof(LinearEvalLogged), typeof(WarningRaised), typeof(CheckpointSaved),
        typeof(LogMessage), typeof(GenotypeDerived), typeof(StageFinished),
    }.ToDictionary(t => ((TrainingEvent)System.Runtime.CompilerServices.RuntimeHelpers.GetUninitializedObject(t)).Type);

    public static string Serialize(TrainingEvent e) => JsonSerializer.Serialize(e, e.GetType(), Options);

    public static JsonElement ToElement(TrainingEvent e) => JsonSerializer.SerializeToElement(e, e.GetType(), Options);

    /// <summary>Reads an event back; an unknown type gives null (an older app reading a newer database).</summary>
    public static TrainingEvent? Deserialize(string json)
    {
        var node = JsonNode.Parse(json);
        var type = node?["type"]?.GetValue<string>();
        return type is not null && Types.TryGetValue(type, out var t)
            ? (TrainingEvent?)node.Deserialize(t, Options)
            : null;
    }

    public static TrainingEvent? Deserialize(JsonElement element) => Deserialize(element.GetRawText());

    /// <summary>The step an event belongs to, when it has one (for charts and de-duplication).</summary>
    public static long? StepOf(TrainingEvent e) => e switch
    {
        StepLogged s => s.Step,
        AlphasLogged a => a.Step,
        CollapseLogged c => c.Step,
        ThroughputLogged t => t.Step,
        CheckpointSaved k => k.Step,
        WarningRaised w => w.Step,
        _ => null,
    };
}

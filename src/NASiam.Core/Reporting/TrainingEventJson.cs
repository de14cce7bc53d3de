using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace NASiam.Core.Reporting;

/// <summary>
/// The metrics.jsonl encoding of events: one compact JSON object per line, "type" first, then
/// every property in snake_case (docs/metrics-schema.md). Doubles that are NaN or infinite are
/// written as strings ("NaN", "Infinity") so a failed step stays readable.
/// </summary>
public static class TrainingEventJson
{
    static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
        WriteIndented = false,
    };

    /// <summary>One line of JSON (no newline) for <paramref name="e"/>.</summary>
    public static string Serialize(TrainingEvent e)
    {
        var body = JsonSerializer.SerializeToNode(e, e.GetType(), Options)!.AsObject();
        var ordered = new JsonObject { ["type"] = e.Type };
        foreach (var (key, value) in body.ToList())
        {
            if (key == "type") continue;
            body.Remove(key);
            ordered[key] = value;
        }
        return ordered.ToJsonString(Options);
    }
}

/// <summary>
/// Appends every event to a metrics.jsonl file, one object per line, flushed per line so a
/// crash loses at most the event being written. Synchronous file I/O: wrap it in
/// <see cref="BackgroundObserver"/> to keep it off the training thread.
/// </summary>
public sealed class MetricsJsonlObserver : ITrainingObserver, IDisposable
{
    readonly StreamWriter _writer;
    readonly object _gate = new();

    /// <param name="path">File to append to (created with its folder when missing).</param>
    public MetricsJsonlObserver(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        _writer = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read)) { AutoFlush = true };
    }

    public void On(TrainingEvent e)
    {
        var line = TrainingEventJson.Serialize(e);
        lock (_gate) _writer.WriteLine(line);
    }

    public void Dispose()
    {
        lock (_gate) _writer.Dispose();
    }
}

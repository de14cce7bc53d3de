using System.Buffers;
using System.Text.Json;
using NASiam.Core.Reporting;
using NASiam.Web.Runs;

namespace NASiam.Web.Live;

/// <summary>A run's status as carried between nodes (what <see cref="Hubs.RunStatusMessage"/> holds).</summary>
public sealed record WireStatus(string Status, string? Message, double Progress);

/// <summary>Events <see cref="First"/>..<see cref="Last"/> of a run left out of a message (too large for the transport): the receiver reads them from the store.</summary>
public sealed record WireElided(long First, long Last);

/// <summary>
/// One message between nodes: a batch of one run's events in their one JSON form
/// (docs/events.schema.v1.json, <see cref="TrainingEventJson"/>), or the range of such a batch
/// when it is too large for the transport (<see cref="Elided"/>), and/or a change of the run's
/// status. <see cref="Node"/> names the node that published it (a node skips its own messages: it
/// delivered them in process already).
/// </summary>
public sealed record WireMessage(string Node, Guid RunId, IReadOnlyList<JsonElement> Events, WireStatus? Status, WireElided? Elided = null);

/// <summary>
/// The wire form of <see cref="WireMessage"/> (docs/live-events.md), UTF-8 JSON:
/// <c>{"v":1,"node":"…","run_id":"…","events":[event…],"status":{"status":"Running","message":null,"progress":0.4}}</c>;
/// "events" is empty for a status notice and "status" is null for an events batch. A batch larger
/// than a transport's limit is sent as <c>"elided":{"first":41,"last":60}</c> with no events.
/// </summary>
public static class RunEventWire
{
    public const int Version = 1;

    /// <summary>The message for <paramref name="update"/> published by node <paramref name="node"/>.</summary>
    public static byte[] Encode(string node, RunUpdate update) => Encode(node, update, elide: false);

    /// <summary>
    /// As <see cref="Encode(string, RunUpdate)"/>, but when that is longer than <paramref name="maxBytes"/>
    /// the events are replaced by their range (PostgreSQL NOTIFY carries at most 8000 bytes).
    /// </summary>
    public static byte[] Encode(string node, RunUpdate update, int maxBytes)
    {
        var full = Encode(node, update, elide: false);
        return full.Length <= maxBytes || update.Events.Count == 0 ? full : Encode(node, update, elide: true);
    }

    static byte[] Encode(string node, RunUpdate update, bool elide)
    {
        var buffer = new ArrayBufferWriter<byte>(256 + 512 * update.Events.Count);
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = TrainingEventJson.Options.Encoder }))
        {
            w.WriteStartObject();
            w.WriteNumber("v", Version);
            w.WriteString("node", node);
            w.WriteString("run_id", update.RunId);
            w.WriteStartArray("events");
            if (!elide) foreach (var e in update.Events) JsonSerializer.Serialize(w, e, TrainingEventJson.Options);
            w.WriteEndArray();
            if (elide)
            {
                w.WriteStartObject("elided");
                w.WriteNumber("first", update.Events.Min(e => e.Sequence));
                w.WriteNumber("last", update.Events.Max(e => e.Sequence));
                w.WriteEndObject();
            }
            if (update.Record is { } r)
            {
                w.WriteStartObject("status");
                w.WriteString("status", r.Status.ToString());
                w.WriteString("message", r.Message);
                w.WriteNumber("progress", double.IsFinite(r.Progress) ? r.Progress : 0);
                w.WriteEndObject();
            }
            else w.WriteNull("status");
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Reads a message; throws <see cref="FormatException"/> for anything that is not one (of this version).</summary>
    public static WireMessage Decode(ReadOnlyMemory<byte> utf8)
    {
        try
        {
            using var doc = JsonDocument.Parse(utf8);
            var root = doc.RootElement;
            int v = root.GetProperty("v").GetInt32();
            if (v != Version) throw new FormatException($"live message version {v}, this node reads {Version}");
            var events = root.TryGetProperty("events", out var ev) && ev.ValueKind == JsonValueKind.Array
                ? ev.EnumerateArray().Select(e => e.Clone()).ToArray() : [];
            WireStatus? status = null;
            if (root.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.Object)
                status = new WireStatus(s.GetProperty("status").GetString()!,
                    s.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null,
                    s.GetProperty("progress").GetDouble());
            WireElided? elided = root.TryGetProperty("elided", out var el) && el.ValueKind == JsonValueKind.Object
                ? new WireElided(el.GetProperty("first").GetInt64(), el.GetProperty("last").GetInt64()) : null;
            return new WireMessage(root.GetProperty("node").GetString()!, root.GetProperty("run_id").GetGuid(), events, status, elided);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new FormatException("not a live run message: " + e.Message, e);
        }
    }

    /// <summary>Just the node that published <paramref name="utf8"/> (cheap: a node skips its own messages before decoding them).</summary>
    public static string? NodeOf(ReadOnlySpan<byte> utf8)
    {
        var r = new Utf8JsonReader(utf8);
        if (!r.Read() || r.TokenType != JsonTokenType.StartObject) return null;
        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            bool isNode = r.ValueTextEquals("node"u8);
            if (!r.Read()) return null;
            if (isNode) return r.TokenType == JsonTokenType.String ? r.GetString() : null;
            r.Skip();
        }
        return null;
    }
}

using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace NASiam.Web.LoadBench;

/// <summary>
/// What blazor.web.js reads from a prerendered page before it starts a circuit: the interactive
/// server components' start markers (<c>&lt;!--Blazor:{"type":"server","prerenderId":…,"key":…,
/// "sequence":…,"descriptor":…}--&gt;</c>, in document order), the persisted component state
/// (<c>&lt;!--Blazor-Server-Component-State:…--&gt;</c>, absent when nothing was persisted) and the
/// document's base href.
/// </summary>
public sealed record ServerComponentMarkers(IReadOnlyList<JsonObject> Markers, string ApplicationState, string BaseHref)
{
    static readonly Regex Marker = new(@"<!--Blazor:(\{.*?\})-->", RegexOptions.Singleline | RegexOptions.CultureInvariant);
    static readonly Regex State = new(@"<!--Blazor-Server-Component-State:(.*?)-->", RegexOptions.Singleline | RegexOptions.CultureInvariant);
    static readonly Regex Base = new(@"<base\s+href=""([^""]*)""", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);

    /// <summary>
    /// Parses the page's HTML. Only start markers of type "server" with a descriptor count (end markers
    /// carry just the prerender id; WebAssembly/auto markers are not this client's business).
    /// </summary>
    /// <exception cref="FormatException">A marker's JSON does not parse.</exception>
    public static ServerComponentMarkers Parse(string html)
    {
        var markers = new List<JsonObject>();
        foreach (Match m in Marker.Matches(html))
        {
            JsonObject? o;
            try { o = JsonNode.Parse(m.Groups[1].Value) as JsonObject; }
            catch (JsonException e) { throw new FormatException($"unreadable Blazor marker: {m.Groups[1].Value}", e); }
            if (o is null) throw new FormatException($"Blazor marker is not a JSON object: {m.Groups[1].Value}");
            if (o["type"]?.GetValue<string>() == "server" && o["descriptor"] is not null) markers.Add(o);
        }
        var state = State.Match(html);
        var baseHref = Base.Match(html);
        return new ServerComponentMarkers(markers, state.Success ? state.Groups[1].Value.Trim() : "", baseHref.Success ? baseHref.Groups[1].Value : "/");
    }

    /// <summary>
    /// The first UpdateRootComponents operation batch (batch id 1): one "add" per server marker with
    /// ssrComponentId 1, 2, … in document order, the marker as it was in the page.
    /// </summary>
    public string AddOperationsJson()
    {
        var operations = new JsonArray();
        int id = 1;
        foreach (var m in Markers)
            operations.Add(new JsonObject { ["type"] = "add", ["ssrComponentId"] = id++, ["marker"] = m.DeepClone() });
        return new JsonObject { ["batchId"] = 1, ["operations"] = operations }.ToJsonString();
    }
}

using System.Text.Json;
using NASiam.Core;
using NASiam.Core.Options;
using NASiam.Web.Runs;

namespace NASiam.Web.Api;

/// <summary>
/// Body of POST /api/runs. Everything is optional, but at least one of preset, framework, kind or
/// options must be given. The run's options are the preset's (or the framework's recipe), with
/// <see cref="Options"/> merged onto them as a JSON merge patch (RFC 7396). Unknown members are
/// errors (400 naming them).
/// </summary>
/// <param name="Preset">quick-demo, simsiam-cifar10, moco-cifar100-reference, ... (GET /api/presets lists them).</param>
/// <param name="Framework">simsiam | moco | simclr; with quick-demo it picks the flavour (default simclr).</param>
/// <param name="Kind">search | pretrain | lincls | pipeline (default: the preset's).</param>
/// <param name="Options">Partial options, camelCase as in a run's "options" (e.g. {"search": {"epochs": 2}}).</param>
/// <param name="Genotype">Genotype for the pre-training: searched (a pipeline's default), standard, a preset name, or genotype text.</param>
/// <param name="Checkpoint">The id of a run whose backbone to linear-evaluate (its pre-training's checkpoint, else its search's); the run's framework, backbone, heads, data set and linear recipe come with it, kind lincls, and the new run's parent is that run.</param>
/// <param name="Device">A device of this server (cpu, cuda:0) or auto.</param>
/// <param name="Name">Display name.</param>
/// <param name="ParentId">The run this one derives from (lineage).</param>
public sealed record CreateRunRequest(
    string? Preset = null, string? Framework = null, string? Kind = null, System.Text.Json.Nodes.JsonObject? Options = null,
    string? Genotype = null, string? Device = null, string? Name = null, Guid? ParentId = null, string? Checkpoint = null);

/// <summary>
/// A run as listed by the API. Progress (0..1) and EtaSeconds are the current stage's: a pipeline's later stages
/// come after it. Notices (the resolver's notes on the request, kept with the run) are in the create response and
/// in the run's own GET, [] when none; in lists the member is absent, not null.
/// </summary>
public sealed record RunSummary(
    Guid Id, string Name, string Kind, string Framework, string Backbone, string Dataset, string Device, string Status,
    string? Stage, double Progress, double? ElapsedSeconds, double? EtaSeconds, string? BestMetricName, double? BestMetric,
    DateTimeOffset CreatedAt, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt, string? Message, Guid? ParentId, long Events,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    IReadOnlyList<string>? Notices = null)
{
    public static RunSummary From(RunRecord r, DateTimeOffset now) => new(
        r.Id, r.Name, NASiam.Core.Options.EnumNames.Name(r.Kind), r.Framework.ToName(), r.Backbone, r.Dataset, r.Device, r.Status.ToString(), r.Stage,
        r.Progress, r.Elapsed(now)?.TotalSeconds, r.Eta(now)?.TotalSeconds, r.BestMetricLabel, r.BestMetric,
        r.CreatedAt, r.StartedAt, r.FinishedAt, r.Message, r.ParentId, r.EventCount);
}

/// <summary>What POST /api/runs would queue (POST /api/runs/preview).</summary>
/// <param name="Options">The resolved options, as the run's "options" would read (device resolved to one of this server's).</param>
/// <param name="ParentId">The run it would descend from (the evaluated run, or the run whose genotype it pre-trains), or null.</param>
/// <param name="Notices">What the resolver filled in or changed, as the create response lists it.</param>
/// <param name="MemoryEstimate">Each stage's estimated peak memory on a CPU host (<see cref="NASiam.Core.Options.RunMemoryEstimate"/>), in run order.</param>
public sealed record RunPreview(JsonElement Options, Guid? ParentId, IReadOnlyList<string> Notices, IReadOnlyList<StageMemoryPreview> MemoryEstimate);

/// <summary>One stage's estimated peak memory on a CPU host: the stage (search, pretrain, lincls), MiB, and what it assumes ("batch 512 × 2 views at 32 px on resnet18").</summary>
public sealed record StageMemoryPreview(string Stage, double PeakMib, string Basis)
{
    /// <summary>The estimate of each stage <paramref name="options"/> runs; empty where the options give none (an unknown backbone is a field error of its own).</summary>
    public static IReadOnlyList<StageMemoryPreview> For(NASiam.Core.Options.RunOptions options)
    {
        try
        {
            return NASiam.Core.Options.RunMemoryEstimate.For(options).Stages
                .Select(s => new StageMemoryPreview(s.Stage, Math.Round(s.PeakBytes / 1048576.0), s.Basis)).ToArray();
        }
        catch (ArgumentException) { return []; }
    }
}

/// <summary>A preset (GET /api/presets): its name, for "preset" in a create body, what it sets, and which bodies take it.</summary>
/// <param name="For">"runs" (POST /api/runs) and/or "comparisons" (POST /api/comparisons).</param>
public sealed record PresetInfo(string Name, string Description, IReadOnlyList<string> For);

/// <summary>A run (GET /api/runs/{id}).</summary>
/// <param name="GenotypeText">Its genotype in the reference text format, or null.</param>
/// <param name="GenotypeNotice">Null when <paramref name="GenotypeText"/> is final; else why not (a running or stopped
/// search's argmax of its alphas at the last snapshot, <see cref="Runs.GenotypeProvenance"/>).</param>
public sealed record RunDetail(RunSummary Run, JsonElement Options, string? GenotypeText, string? GenotypeNotice, Guid? ParentId, IReadOnlyList<Guid> Children,
    JsonElement? Artifacts, JsonElement? Metrics, IReadOnlyList<CheckpointFile> Checkpoints);

/// <summary>A downloadable checkpoint or export of a run.</summary>
public sealed record CheckpointFile(string Name, long Bytes, DateTimeOffset Modified);

/// <summary>
/// Events of a run for charts (series thinned to maxPoints per type), and the run's newest run_started
/// (<see cref="EventPage.AttemptStarted"/>): a poller whose held events a resume replaced finds out from it
/// (docs/hub.md, rule 5).
/// </summary>
public sealed record MetricsResponse(Guid RunId, long LastSequence, bool Downsampled, IReadOnlyList<JsonElement> Events, JsonElement? AttemptStarted);

/// <summary>Body of POST /api/genotypes (JSON form); text/plain bodies carry the genotype text alone.</summary>
public sealed record ImportGenotypeRequest(string? Name = null, string? Text = null, string? Framework = null);

/// <summary>A genotype for the API: presets and the library.</summary>
/// <param name="RunId">The run that found it (source "discovered"); null for presets, imports, and once that run is deleted.</param>
/// <param name="CreatedAt">When it entered the library (a discovery: when its run finished); null for presets.</param>
public sealed record GenotypeInfo(string Id, string Name, string Framework, string Source, string? Text, string? Description, Guid? RunId,
    DateTimeOffset? CreatedAt = null);

/// <summary>
/// The API's request bodies: read with the size limit, deserialised with <see cref="RunsApi.BodyJson"/>
/// (unknown members are errors), and errors keyed as the body names them.
/// </summary>
/// <summary>
/// The optional body of POST /api/runs/{id}/pretrain: changes to the run's setup, as POST /api/runs's members of the same names.
/// </summary>
/// <param name="Options">Partial options, a JSON merge patch on the run's setup (e.g. {"pretrain": {"epochs": 2}}).</param>
/// <param name="Name">Display name (default: "{run's name} · pretrain").</param>
/// <param name="Device">A device of this server (cpu, cuda:0) or auto (default: the run's).</param>
public sealed record PretrainRunRequest(System.Text.Json.Nodes.JsonObject? Options = null, string? Name = null, string? Device = null)
{
    /// <summary>The members, as an unknown-member error lists them.</summary>
    public static readonly IReadOnlyList<string> Members = ["options", "name", "device"];
}

public static class BodyErrors
{
    static readonly HashSet<string> RunRequestMembers = ["preset", "framework", "kind", "genotype", "device", "name", "parentId", "checkpoint", "id", "body"];

    /// <summary>Members of POST /api/runs, as an unknown-member error lists them.</summary>
    public static readonly IReadOnlyList<string> RunBodyMembers = ["preset", "framework", "kind", "options", "genotype", "device", "name", "parentId", "checkpoint"];

    /// <summary>
    /// Reads and deserialises a JSON body: the body, or the response to send instead (413 over
    /// <paramref name="maxBytes"/>; 400 naming the member for malformed JSON, a wrong type or an
    /// unknown member, listing <paramref name="validMembers"/>; 400 for an empty body).
    /// </summary>
    public static async Task<(T? Body, IResult? Error)> ReadAsync<T>(HttpRequest request, long maxBytes, IEnumerable<string> validMembers, string title) where T : class
    {
        var text = await BodyReader.ReadTextAsync(request, maxBytes);
        if (text is null) return (null, Results.Problem("The request body is larger than Nasiam:MaxUploadBytes.", statusCode: StatusCodes.Status413PayloadTooLarge));
        return Parse<T>(text, validMembers, title);
    }

    /// <summary>
    /// Deserialises a JSON body's text with <see cref="RunsApi.BodyJson"/>: the body, or a 400 naming the
    /// member at fault (malformed JSON, a wrong type, an unknown member, or a member given twice in one
    /// object, which System.Text.Json would otherwise resolve silently or fail on later as a server error).
    /// </summary>
    public static (T? Body, IResult? Error) Parse<T>(string text, IEnumerable<string> validMembers, string title) where T : class
    {
        if (MemberNameProblem(text) is { } problem)
            return (null, Results.ValidationProblem(new Dictionary<string, string[]> { [problem.Path.Length > 0 ? problem.Path : "body"] = [problem.Message] }, title: title));
        // A member given as null read as left out: "seeds": null queued the preset's seeds, "options": null its options.
        if (NullMember(text) is { } nullMember)
            return (null, Results.ValidationProblem(new Dictionary<string, string[]> { [nullMember] = ["null is not a value here: leave the member out to use its default"] }, title: title));
        try
        {
            var body = JsonSerializer.Deserialize<T>(text, RunsApi.BodyJson);
            return body is null ? (null, Results.ValidationProblem(new Dictionary<string, string[]> { ["body"] = ["a JSON object is required"] })) : (body, null);
        }
        catch (JsonException e)
        {
            return (null, Results.ValidationProblem(From(e, validMembers, typeof(T), text), title: title));
        }
    }

    /// <summary>The first top-level member of a JSON object whose value is null, as written; null when none, or the text is not a valid JSON object.</summary>
    static string? NullMember(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (doc.RootElement.ValueKind != JsonValueKind.Object) return null;
            foreach (var member in doc.RootElement.EnumerateObject())
                if (member.Value.ValueKind == JsonValueKind.Null) return member.Name;
            return null;
        }
        catch (JsonException) { return null; }
    }

    /// <summary>
    /// The first member-name problem of a JSON text that System.Text.Json would not report as a
    /// JsonException (it would resolve it silently, or throw later from a JsonObject as a server error): a
    /// member that appears twice in one object (names compared case-insensitively), or a name that does not
    /// decode (an unpaired escaped surrogate). The path is dotted with array items as [i], as error keys
    /// name members. Null when there is none, or the text is not valid JSON (the deserialiser reports that).
    /// Never throws.
    /// </summary>
    public static (string Path, string Message)? MemberNameProblem(string json)
    {
        var frames = new Stack<(HashSet<string>? Names, string Path, string? Pending, int Index)>();
        string Child()
        {
            if (frames.Count == 0) return "";
            var (names, path, pending, index) = frames.Peek();
            return names is not null ? (path.Length == 0 ? pending! : $"{path}.{pending}") : $"{path}[{index}]";
        }
        void ValueDone()
        {
            if (frames.Count > 0 && frames.Peek().Names is null) { var f = frames.Pop(); frames.Push(f with { Index = f.Index + 1 }); }
        }
        try
        {
            var reader = new Utf8JsonReader(System.Text.Encoding.UTF8.GetBytes(json));
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    // Case-insensitive, as the body's deserialiser and the options' merge match member names.
                    case JsonTokenType.StartObject: frames.Push((new HashSet<string>(StringComparer.OrdinalIgnoreCase), Child(), null, 0)); break;
                    case JsonTokenType.StartArray: frames.Push((null, Child(), null, 0)); break;
                    case JsonTokenType.EndObject or JsonTokenType.EndArray: frames.Pop(); ValueDone(); break;
                    case JsonTokenType.PropertyName:
                        var (names, path, _, index) = frames.Pop();
                        string name;
                        try { name = reader.GetString()!; }
                        catch (InvalidOperationException)
                        {
                            return (path, "a member name here is not valid text (an unpaired \\uD800-\\uDFFF escape)");
                        }
                        frames.Push((names, path, name, index));
                        if (!names!.Add(name)) return (Child(), "given more than once in the same object; give it once");
                        break;
                    default: ValueDone(); break;
                }
            }
        }
        catch (JsonException) { } // not JSON: the deserialiser reports it
        return null;
    }

    /// <summary>
    /// Resolver and scheduler errors keyed as the body names them: request members by name
    /// (<paramref name="requestMembers"/>, default POST /api/runs'), option paths under <c>options.</c>
    /// (an <c>overrides.</c> prefix from a planner is the body's <c>options</c>).
    /// </summary>
    public static Dictionary<string, string[]> ToDictionary(IEnumerable<FieldError> errors, IReadOnlySet<string>? requestMembers = null) =>
        errors.GroupBy(e => e.Path.Length == 0 ? "body"
                : (requestMembers ?? RunRequestMembers).Contains(e.Path) ? e.Path
                : e.Path.StartsWith("overrides.", StringComparison.Ordinal) ? "options." + e.Path["overrides.".Length..]
                : "options." + e.Path)
            .ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray());

    /// <summary>
    /// A body of type <paramref name="body"/> (its JSON <paramref name="text"/>) that does not deserialise:
    /// the member it failed on, by its JSON path, with what that member expects and got
    /// (<see cref="JsonValueErrors"/>), or the parser's position for malformed JSON.
    /// </summary>
    public static Dictionary<string, string[]> From(JsonException e, IEnumerable<string> validMembers, Type body, string text)
    {
        var path = JsonValueErrors.JsonPath(e);
        var message = e.Message;
        if (message.Contains("could not be mapped to any .NET member", StringComparison.Ordinal))
        {
            var name = System.Text.RegularExpressions.Regex.Match(message, "property '([^']+)'").Groups[1].Value;
            return new() { [path.Length > 0 ? path : name] = [$"unknown member; valid: {string.Join(", ", validMembers)}"] };
        }
        System.Text.Json.Nodes.JsonNode? document;
        try { document = System.Text.Json.Nodes.JsonNode.Parse(text); }
        catch (JsonException) { document = null; }
        return new() { [path.Length > 0 ? path : "body"] = [JsonValueErrors.Describe(e, body, document)] };
    }
}

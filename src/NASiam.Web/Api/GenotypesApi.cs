using NASiam.Core.Options;
using System.Text.Json;
using Microsoft.Extensions.Options;
using NASiam.Core;
using NASiam.Core.Genotypes;
using NASiam.Web.Options;
using NASiam.Web.Runs;

namespace NASiam.Web.Api;

/// <summary>/api/genotypes: the published presets plus discovered and imported genotypes.</summary>
public static class GenotypesApi
{
    public static RouteGroupBuilder MapGenotypesApi(this IEndpointRouteBuilder app)
    {
        var g = app.MapGroup("/api/genotypes").WithTags("Genotypes").RejectUnknownQueryParameters();
        g.MapGet("/", (GenotypeLibrary lib) => lib.All());
        g.MapGet("/{**id}", (string id, GenotypeLibrary lib) => lib.All().FirstOrDefault(x => string.Equals(x.Id, CatchAll.Decode(id), StringComparison.OrdinalIgnoreCase)) is { } found
                ? Results.Ok(found) : Results.Problem($"No genotype {id} (a preset name or a library id).", statusCode: StatusCodes.Status404NotFound))
            .WithSummary("One genotype: a preset by name, or a library entry by id (the Location of an import)")
            .Produces<GenotypeInfo>().ProducesProblem(StatusCodes.Status404NotFound);
        g.MapDelete("/{**id}", (string id, GenotypeLibrary lib) => lib.Delete(CatchAll.Decode(id)) switch
            {
                GenotypeLibrary.DeleteOutcome.Deleted => Results.NoContent(),
                GenotypeLibrary.DeleteOutcome.Preset => Results.Problem($"'{id}' is a published preset; only library entries (imported or discovered) can be deleted.", statusCode: StatusCodes.Status400BadRequest),
                _ => Results.Problem($"No genotype library entry {id}.", statusCode: StatusCodes.Status404NotFound),
            })
            .WithSummary("Delete a library entry (imported or discovered) by id; runs keep their genotype's text")
            .Produces(StatusCodes.Status204NoContent).ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound);
        g.MapPost("/", Import).WithSummary("Import a genotype: text/plain (reference text) or JSON {name, text, framework}")
            // Documented, not enforced: Accepts() would answer 415 to curl --data-binary's default content type.
            .AddOpenApiOperationTransformer(OpenApiRequestBodies.DocumentImportBody)
            .Produces<GenotypeInfo>(StatusCodes.Status201Created).ProducesValidationProblem().ProducesProblem(StatusCodes.Status413PayloadTooLarge);
        return g;
    }

    static async Task<IResult> Import(HttpRequest request, GenotypeLibrary lib, IOptions<NasiamWebOptions> options)
    {
        var body = await BodyReader.ReadTextAsync(request, options.Value.MaxUploadBytes);
        if (body is null) return Results.Problem("The genotype is larger than Nasiam:MaxUploadBytes.", statusCode: StatusCodes.Status413PayloadTooLarge);
        string? name = null, text = body, framework = null;
        if (request.ContentType?.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) == true)
        {
            // The run and comparison bodies' rules: an unknown or repeated member is an error, not ignored.
            var (req, bodyError) = BodyErrors.Parse<ImportGenotypeRequest>(body, ["name", "text", "framework"], "The genotype is invalid.");
            if (req is null) return bodyError!;
            (name, text, framework) = (req.Name, req.Text, req.Framework);
        }
        var (entry, error) = lib.Import(name, text, framework);
        return entry is not null
            ? Results.Created($"/api/genotypes/{entry.Id}", GenotypeLibrary.Info(entry))
            : Results.ValidationProblem(new Dictionary<string, string[]> { [error!.Value.Field] = [error.Value.Message] });
    }
}

/// <summary>Parses (never evaluates) and stores imported genotypes; lists presets and the library.</summary>
public sealed class GenotypeLibrary(RunStore store)
{
    public IReadOnlyList<GenotypeInfo> All() =>
        GenotypePresets.All.Select(p => new GenotypeInfo(p.Name, p.Name, p.Framework.ToName(), "preset",
                p.Genotype is null ? null : GenotypeText.Write(p.Genotype), p.Description, null))
            .Concat(store.Genotypes().Select(Info))
            .ToArray();

    public static GenotypeInfo Info(GenotypeEntry e) =>
        new(e.Id.ToString(), e.Name, e.Framework.ToName(), e.Source, e.Text, null, e.RunId, e.CreatedAt);

    /// <summary>The longest name an entry may have: names are shown in tables and lists.</summary>
    public const int MaxNameLength = 100;

    public enum DeleteOutcome { Deleted, Preset, NotFound }

    /// <summary><paramref name="stem"/>, or "stem #2", "#3"… the first no entry of <paramref name="taken"/> has (compared case-insensitively).</summary>
    public static string UniqueName(string stem, IEnumerable<string> taken)
    {
        var set = taken.ToHashSet(StringComparer.OrdinalIgnoreCase);
        var name = stem;
        for (int n = 2; set.Contains(name); n++) name = $"{stem} #{n}";
        return name;
    }

    /// <summary>The library name of a run's discovered genotype: "RUN (discovered)", numbered when taken (two runs of one name).</summary>
    public string DiscoveredName(string runName) => UniqueName($"{runName} (discovered)", All().Select(x => x.Name));

    /// <summary>Deletes a library entry by id; presets are built in.</summary>
    public DeleteOutcome Delete(string id) =>
        GenotypePresets.Find(id) is not null ? DeleteOutcome.Preset
        : Guid.TryParse(id, out var g) && store.GenotypeLibrary.Delete(g) ? DeleteOutcome.Deleted
        : DeleteOutcome.NotFound;

    /// <summary>Accepts the reference text or the JSON form; returns the entry or the field and message at fault.</summary>
    public (GenotypeEntry? Entry, (string Field, string Message)? Error) Import(string? name, string? text, string? framework)
    {
        if (string.IsNullOrWhiteSpace(text)) return (null, ("text", "the genotype text is empty"));
        Framework? fw = null;
        if (!string.IsNullOrWhiteSpace(framework))
        {
            if (!FrameworkNames.TryParse(framework, out var f)) return (null, ("framework", $"unknown framework '{framework}'; valid: simsiam, moco, simclr"));
            fw = f;
        }
        Genotype g;
        try
        {
            var t = text.Trim();
            g = t.StartsWith('{') ? GenotypeJson.Parse(t, fw) : GenotypeText.Parse(t);
            var inferred = fw ?? GenotypeRules.InferFramework(g);
            GenotypeRules.ValidateFields(g, inferred);
            fw = inferred;
        }
        catch (GenotypeFormatException e) { return (null, ("text", e.Message)); }
        // Names are how people pick a genotype in the form's and the comparison's lists (ids are long):
        // a second entry of the same name would be indistinguishable there, and a preset's name is its id.
        // Tolerates names already repeated (libraries from before names were unique): the first holder is named.
        var names = new Dictionary<string, GenotypeInfo>(StringComparer.OrdinalIgnoreCase);
        foreach (var x in All()) names.TryAdd(x.Name, x);
        string entryName;
        if (string.IsNullOrWhiteSpace(name)) entryName = UniqueName(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"imported {DateTime.UtcNow:yyyy-MM-dd HH:mm}"), names.Keys);
        else entryName = name.Trim();
        if (DisplayNames.Problem(entryName, MaxNameLength) is { } nameProblem) return (null, ("name", nameProblem));
        if (names.TryGetValue(entryName, out var taken))
            return (null, ("name", taken.Source == "preset"
                ? $"'{entryName}' is the name of a published preset; choose another name"
                : $"the library already holds a genotype named '{taken.Name}' (id {taken.Id}); choose another name"));
        var entry = new GenotypeEntry(Guid.NewGuid(), entryName, fw.Value, GenotypeText.Write(g), "imported", null, DateTimeOffset.UtcNow);
        store.AddGenotype(entry);
        return (entry, null);
    }
}

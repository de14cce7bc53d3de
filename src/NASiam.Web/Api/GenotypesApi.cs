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
    public IReadOnlyList<GenotypeInfo> All() => [.. Presets(), .. store.Genotypes().Select(Info)];

    static IEnumerable<GenotypeInfo> Presets() =>
        GenotypePresets.All.Select(p => new GenotypeInfo(p.Name, p.Name, p.Framework.ToName(), "preset",
            p.Genotype is null ? null : GenotypeText.Write(p.Genotype), p.Description, null));

    public static GenotypeInfo Info(GenotypeEntry e) =>
        new(e.Id.ToString(), e.Name, e.Framework.ToName(), e.Source, e.Text, null, e.RunId, e.CreatedAt);

    /// <summary>The longest name an entry may have: names are shown in tables and lists.</summary>
    public const int MaxNameLength = 100;

    public enum DeleteOutcome { Deleted, Preset, NotFound }

    /// <summary>
    /// The library entry of a run's discovered genotype, named "RUN (discovered)" as a stem: storing it with the run's
    /// end numbers it when taken (two runs of one name; <see cref="Runs.Storage.GenotypeStore.InsertNamed"/>).
    /// </summary>
    public static GenotypeEntry Discovered(Runs.RunRecord run, string text) =>
        new(Guid.NewGuid(), $"{run.Name} (discovered)", run.Framework, text, "discovered", run.Id, DateTimeOffset.UtcNow);

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
        string? given = string.IsNullOrWhiteSpace(name) ? null : name.Trim();
        if (given is not null && DisplayNames.Problem(given, MaxNameLength) is { } nameProblem) return (null, ("name", nameProblem));
        var genotypeText = GenotypeText.Write(g);
        // Names are how people pick a genotype in the form's and the comparison's lists (ids are long):
        // a second entry of the same name would be indistinguishable there, and a preset's name is its id.
        // The check and the insert are one locked transaction, so two imports of one name at once cannot both pass.
        return store.GenotypeLibrary.AddNamed<(string Field, string Message)?>(held =>
        {
            // Tolerates names already repeated (libraries from before names were unique): the first holder is named.
            var names = new Dictionary<string, GenotypeInfo>(StringComparer.OrdinalIgnoreCase);
            foreach (var x in Presets().Concat(held.Select(Info))) names.TryAdd(x.Name, x);
            var entryName = given ?? Runs.Storage.GenotypeStore.UniqueName(
                string.Create(System.Globalization.CultureInfo.InvariantCulture, $"imported {DateTime.UtcNow:yyyy-MM-dd HH:mm}"), names.Keys);
            if (names.TryGetValue(entryName, out var taken))
                return (null, ("name", taken.Source == "preset"
                    ? $"'{entryName}' is the name of a published preset; choose another name"
                    : $"the library already holds a genotype named '{taken.Name}' (id {taken.Id}); choose another name"));
            return (new GenotypeEntry(Guid.NewGuid(), entryName, fw.Value, genotypeText, "imported", null, DateTimeOffset.UtcNow), null);
        });
    }
}

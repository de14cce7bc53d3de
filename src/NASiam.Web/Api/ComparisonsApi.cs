using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using NASiam.Core;
using NASiam.Core.Comparison;
using NASiam.Core.Options;
using NASiam.Web.Jobs;
using NASiam.Web.Options;
using NASiam.Web.Runs;

namespace NASiam.Web.Api;

/// <summary>
/// Body of POST /api/comparisons. The recipe is given as for a run (preset, framework, options as a
/// JSON merge patch); the comparison adds the genotype and the seeds. Unknown members are errors.
/// </summary>
/// <param name="Name">Display name.</param>
/// <param name="Preset">quick-compare (2 seeds, ~10 CPU minutes), quick-demo, simsiam-cifar10, ...</param>
/// <param name="Framework">simsiam | moco | simclr.</param>
/// <param name="Options">Partial run options applied to every child (e.g. {"pretrain": {"epochs": 50}}).</param>
/// <param name="Genotype">The genotype to compare: a preset name, genotype text, a library entry id or a run id; none (and no sourceRunId) = a fresh search.</param>
/// <param name="SourceRunId">A finished search or pipeline whose genotype is compared (its children descend from it).</param>
/// <param name="Seeds">Seeds of the paired pre-trainings (default: the preset's, else 0, 1, 2).</param>
/// <param name="SearchSeeds">Fresh search only: one search per seed; with 2 or more the modal genotype is compared.</param>
/// <param name="Device">A device of this server or auto.</param>
public sealed record CreateComparisonRequest(
    string? Name = null, string? Preset = null, string? Framework = null, JsonObject? Options = null, string? Genotype = null,
    Guid? SourceRunId = null, int[]? Seeds = null, int[]? SearchSeeds = null, string? Device = null);

/// <summary>One child run of a comparison.</summary>
public sealed record ComparisonChildView(Guid RunId, string Role, string Arm, int Seed, string Status, string Name);

/// <summary>A comparison: its state, its children and its report (live until it finishes, then as written to comparison.json).</summary>
public sealed record ComparisonView(
    Guid Id, string Name, string Status, string? Message, string Framework, string Backbone, string Dataset,
    IReadOnlyList<int> Seeds, IReadOnlyList<int> SearchSeeds, string? GenotypeText, Guid? SourceRunId,
    DateTimeOffset CreatedAt, DateTimeOffset? FinishedAt, IReadOnlyList<ComparisonChildView> Children, ComparisonReport Report,
    IReadOnlyList<string>? Notices = null);

/// <summary>/api/comparisons: genotype versus the framework's standard heads over seeds.</summary>
public static class ComparisonsApi
{
    static readonly HashSet<string> Members = ["name", "preset", "framework", "genotype", "sourceRunId", "seeds", "searchSeeds", "device", "body"];

    public static RouteGroupBuilder MapComparisonsApi(this IEndpointRouteBuilder app)
    {
        var g = app.MapGroup("/api/comparisons").WithTags("Comparisons").RejectUnknownQueryParameters();
        g.MapPost("/", Create).WithName("CreateComparison")
            .WithSummary("Compare a genotype with the framework's standard heads: per seed, both are pre-trained under the identical recipe and linear-evaluated")
            .WithDescription("Children are ordinary runs on the device queues. The recipe resolves as a run's does (NASiam.Core RunRequestResolver). " +
                             "Errors are 400 problem documents naming the field (seeds, genotype, options.pretrain.epochs, ...).")
            .Accepts<CreateComparisonRequest>("application/json")
            .Produces<ComparisonView>(StatusCodes.Status201Created).ProducesValidationProblem();
        g.MapGet("/", (ComparisonStore store, ComparisonService service, RunStore runs) => store.List().Select(c => View(c, service, runs)).ToArray())
            .WithName("ListComparisons").WithSummary("Every comparison, newest first");
        g.MapGet("/{id:guid}", (Guid id, ComparisonStore store, ComparisonService service, RunStore runs) =>
                store.Get(id) is { } c ? Results.Ok(View(c, service, runs)) : NotFound(id))
            .WithName("GetComparison").WithSummary("A comparison with its children, per-seed results, means ± std and the paired difference with its 95 % CI")
            .Produces<ComparisonView>().ProducesProblem(StatusCodes.Status404NotFound);
        g.MapPost("/{id:guid}/cancel", (Guid id, ComparisonStore store, ComparisonService service) =>
                store.Get(id) is null ? NotFound(id) : service.Cancel(id) ? Results.Accepted() : Conflict("The comparison is not active."))
            .WithName("CancelComparison").WithSummary("Cancel the active children; finished children are kept")
            .Produces(StatusCodes.Status202Accepted).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        g.MapPost("/{id:guid}/resume", (Guid id, ComparisonStore store, ComparisonService service) =>
                store.Get(id) is null ? NotFound(id) : service.Resume(id) ? Results.Accepted() : Conflict("Only a cancelled or failed comparison can be resumed."))
            .WithName("ResumeComparison").WithSummary("Continue: stopped children resume from their checkpoints, finished ones are not re-run")
            .Produces(StatusCodes.Status202Accepted).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        g.MapDelete("/{id:guid}", (Guid id, ComparisonService service) => service.Delete(id) ? Results.NoContent() : NotFound(id))
            .WithName("DeleteComparison").WithSummary("Cancel if needed and delete the comparison and its files; the child runs stay")
            .Produces(StatusCodes.Status204NoContent).ProducesProblem(StatusCodes.Status404NotFound);
        g.MapGet("/{id:guid}/files/{name}", File).WithName("DownloadComparisonFile")
            .WithSummary("comparison.json or comparison.csv (as written when it finished; before that, the results so far)")
            .Produces<string>(StatusCodes.Status200OK, "application/json", "text/csv").ProducesProblem(StatusCodes.Status404NotFound);
        return g;
    }

    static IResult Conflict(string detail) => Results.Problem(detail, statusCode: StatusCodes.Status409Conflict);
    static IResult NotFound(Guid id) => Results.Problem($"No comparison {id}, or no such file.", statusCode: StatusCodes.Status404NotFound);

    /// <summary>A comparison as the API and the page show it.</summary>
    public static ComparisonView View(ComparisonRecord c, ComparisonService service, RunStore runs, IReadOnlyList<string>? notices = null)
    {
        // Children by seed, then pipeline stage (search, pretrain, lincls), then arm (genotype, standard): a seed's
        // linear evaluation after its pre-training.
        var children = ComparisonChildOrder.Sort(service.Children(c.Id), ch => new ComparisonChildKey(ch.Role, ch.Arm, ch.Seed))
            .Select(ch => runs.Get(ch.RunId) is { } r
                ? new ComparisonChildView(ch.RunId, ch.Role, ch.Arm, ch.Seed, r.Status.ToString(), r.Name)
                : new ComparisonChildView(ch.RunId, ch.Role, ch.Arm, ch.Seed, "Deleted", "")).ToArray();
        // An active comparison's status is the one its children give (the coordinator writes the same rule when it next
        // advances): a child already running reads Running here, not the Queued stored before it started.
        if (c.IsActive)
            c = c with { Status = ComparisonService.ActiveStatus(children.Where(ch => ch.Status != "Deleted").Select(ch => Enum.Parse<RunStatus>(ch.Status))) };
        // A finished comparison is served as written (cheap: no child events to read); otherwise the results so far.
        var file = Path.Combine(service.Directory(c.Id), ComparisonReport.JsonFile);
        var report = c.Status == RunStatus.Succeeded && System.IO.File.Exists(file) ? ComparisonReport.FromJson(System.IO.File.ReadAllText(file)) with { Status = "succeeded" } : service.Report(c);
        var o = c.Plan.Recipe;
        return new ComparisonView(c.Id, c.Name, c.Status.ToString(), c.Message, o.Framework.ToName(), o.Backbone, o.Dataset, c.Plan.Seeds,
            c.Plan.SearchSeeds, c.Plan.GenotypeText, c.SourceRunId, c.CreatedAt, c.FinishedAt, children, report, notices ?? c.Plan.Notices);
    }

    static async Task<IResult> Create(HttpRequest request, ComparisonService service, ComparisonStore store, RunStore runs, IOptions<NasiamWebOptions> options)
    {
        var (body, error) = await BodyErrors.ReadAsync<CreateComparisonRequest>(request, options.Value.MaxUploadBytes,
            Members.Where(m => m != "body").Append("options"), "The comparison request is invalid.");
        if (body is null) return error!;
        // As POST /api/runs: an empty request would silently start the full recipe (3 seeds, 800-epoch pre-trainings).
        if (string.IsNullOrWhiteSpace(body.Preset) && body.Options is null && body.Framework is null && body.Genotype is null && body.SourceRunId is null)
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["preset"] = ["give a preset name, a framework, a genotype, a sourceRunId or options"] },
                title: "The comparison request is invalid.");

        var overrides = body.Options?.DeepClone().AsObject() ?? new JsonObject();
        if (!string.IsNullOrWhiteSpace(body.Device)) overrides["device"] = body.Device;
        var result = service.Create(new ComparisonRequest
        {
            Name = body.Name, Preset = body.Preset, Framework = body.Framework, Genotype = body.Genotype,
            Seeds = body.Seeds, SearchSeeds = body.SearchSeeds, Overrides = overrides.Count == 0 ? null : overrides,
        }, body.SourceRunId);
        if (!result.Ok)
            return Results.ValidationProblem(Errors(result.Errors), title: "The comparison request is invalid.");
        return Results.Created($"/api/comparisons/{result.Comparison!.Id}", View(result.Comparison, service, runs, result.Notices));
    }

    /// <summary>Errors keyed as the body names them: request members by name, option paths under "options.".</summary>
    public static Dictionary<string, string[]> Errors(IEnumerable<FieldError> errors) => BodyErrors.ToDictionary(errors, Members);

    static IResult File(Guid id, string name, ComparisonStore store, ComparisonService service)
    {
        var c = store.Get(id);
        if (c is null || name is not (ComparisonReport.JsonFile or ComparisonReport.CsvFile)) return NotFound(id);
        var type = name.EndsWith(".json", StringComparison.Ordinal) ? "application/json" : "text/csv";
        // Both files are written from comparison.json's report: served from it, so a report written before the standard
        // arm's rename ('baseline') reads with today's arm names in the JSON and the CSV alike.
        var written = Path.Combine(service.Directory(id), ComparisonReport.JsonFile);
        if (System.IO.File.Exists(written))
        {
            var saved = ComparisonReport.FromJson(System.IO.File.ReadAllText(written));
            return Results.File(System.Text.Encoding.UTF8.GetBytes(name == ComparisonReport.JsonFile ? saved.ToJson() : saved.ToCsv()), type, name);
        }
        var report = service.Report(c);
        return Results.Text(name == ComparisonReport.JsonFile ? report.ToJson() : report.ToCsv(), type);
    }
}

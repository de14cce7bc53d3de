using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using NASiam.Core;
using NASiam.Core.Engine.Checkpoints;
using NASiam.Core.Genotypes;
using NASiam.Core.Comparison;
using NASiam.Core.Options;
using NASiam.Core.Reporting;
using NASiam.Web.Jobs;
using NASiam.Web.Options;
using NASiam.Web.Runs;

namespace NASiam.Web.Api;

/// <summary>/api/runs: create, list, inspect, cancel, resume runs and download their artefacts.</summary>
public static class RunsApi
{
    public static RouteGroupBuilder MapRunsApi(this IEndpointRouteBuilder app)
    {
        var g = app.MapGroup("/api/runs").WithTags("Runs").RejectUnknownQueryParameters();
        g.MapPost("/", Create).WithName("CreateRun")
            .WithSummary("Queue a run: a preset and/or framework, kind, partial options (JSON merge patch) and a genotype")
            .WithDescription("The body is resolved exactly as the New-run form and the CLI resolve theirs (NASiam.Core RunRequestResolver). " +
                             "A pipeline pre-trains the genotype it searched unless 'genotype' names another. Unknown members are 400 errors naming them; a UTF-8 BOM is accepted.")
            .Accepts<CreateRunRequest>("application/json")
            .Produces<RunSummary>(StatusCodes.Status201Created)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .Produces(StatusCodes.Status415UnsupportedMediaType);
        g.MapPost("/preview", Preview).WithName("PreviewRun")
            .WithSummary("What POST /api/runs would queue for this body, nothing queued: the resolved options, the parent run and the notices (the CLI's --print-options)")
            .Accepts<CreateRunRequest>("application/json")
            .Produces<RunPreview>()
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .Produces(StatusCodes.Status415UnsupportedMediaType);
        g.MapGet("/", (RunStore store) => store.List().Select(r => RunSummary.From(r, DateTimeOffset.UtcNow)).ToArray())
            .WithName("ListRuns").WithSummary("Every run, newest first");
        g.MapGet("/{id:guid}", Get).WithName("GetRun").WithSummary("A run with its resolved options, lineage, metrics and files")
            .Produces<RunDetail>().ProducesProblem(StatusCodes.Status404NotFound);
        g.MapGet("/{id:guid}/metrics", Metrics).WithName("GetRunMetrics").WithSummary("Events of a run; series are downsampled to maxPoints per type")
            .Produces<MetricsResponse>().ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound);
        g.MapPost("/{id:guid}/cancel", (Guid id, RunScheduler s, RunStore store) =>
            store.Get(id) is null ? NotFound(id) : s.Cancel(id) ? Results.Accepted() : Conflict("The run is not active."))
            .WithName("CancelRun").WithSummary("Stop an active run (it checkpoints within a step)")
            .Produces(StatusCodes.Status202Accepted).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        g.MapPost("/{id:guid}/resume", (Guid id, RunScheduler s, RunStore store) =>
            store.Get(id) is null ? NotFound(id) : s.Resume(id) ? Results.Accepted() : Conflict("Only a cancelled, failed or interrupted run can be resumed."))
            .WithName("ResumeRun").WithSummary("Queue a stopped run again; it continues from its newest checkpoint")
            .Produces(StatusCodes.Status202Accepted).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        g.MapPost("/{id:guid}/retry", (Guid id, RunScheduler s, RunStore store) =>
        {
            if (store.Get(id) is null) return NotFound(id); // as every other /api/runs/{id} endpoint
            var r = s.Retry(id);
            if (r.Errors is [{ Path: RunScheduler.RetryStateField } active]) return Conflict(active.Message);
            // With the copy's notices, as a create gives them (the original's, carried with its options).
            return r.Ok ? Results.Created($"/api/runs/{r.Run!.Id}", RunSummary.From(r.Run, DateTimeOffset.UtcNow) with { Notices = r.Run.Notices }) : Results.ValidationProblem(BodyErrors.ToDictionary(r.Errors));
        }).WithName("RetryRun").WithSummary("Start a fresh run with the same options as an ended run (the old one becomes its parent)")
            .Produces<RunSummary>(StatusCodes.Status201Created).ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        g.MapPost("/{id:guid}/pretrain", PretrainGenotype).WithName("PretrainRunGenotype")
            .WithSummary("Queue a pre-training of the run's genotype on the run's own setup (the run page's 'Pre-train this genotype'); the new run descends from it")
            .WithDescription("The run's stored options with kind pretrain and the run's genotype; what a pre-training does not read (the search and linear recipes) comes from the framework's quick-demo preset. " +
                             "An optional body {options, name, device} changes that setup as POST /api/runs's members do (options is a JSON merge patch). 409 when the run has no genotype or is still running.")
            .Accepts<PretrainRunRequest>("application/json")
            .Produces<RunSummary>(StatusCodes.Status201Created).ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        g.MapDelete("/{id:guid}", Delete)
            .WithName("DeleteRun").WithSummary("Cancel if needed, then delete the run, its events and its folder; a run others refer to (its evaluations, pre-trainings of its genotype, retries, comparisons) is a 409 naming them unless dependants=detach")
            .Produces(StatusCodes.Status204NoContent).ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        g.MapGet("/{id:guid}/genotype", Genotype).WithName("GetRunGenotype").WithSummary("The run's genotype: format=txt (reference text) or json")
            .Produces<string>(StatusCodes.Status200OK, "text/plain", "application/json").ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound);
        // /files is the name: the listing holds result.json and metrics.jsonl besides checkpoints, and its names start
        // with checkpoints/ (a checkpoint's URL read /checkpoints/checkpoints/...). /checkpoints stays as before.
        foreach (var (route, deprecated) in new[] { ("files", false), ("checkpoints", true) })
        {
            var list = g.MapGet($"/{{id:guid}}/{route}", (Guid id, RunStore store, RunFiles files) =>
                    store.Get(id) is null ? NotFound(id) : Results.Ok(files.Checkpoints(id)))
                .WithName(deprecated ? "ListRunCheckpoints" : "ListRunFiles")
                .WithSummary("The run's files: checkpoints, exports, result.json and metrics.jsonl" + (deprecated ? " (old name of /files)" : ""))
                .Produces<IReadOnlyList<CheckpointFile>>().ProducesProblem(StatusCodes.Status404NotFound);
            var download = g.MapGet($"/{{id:guid}}/{route}/{{**name}}", (Guid id, string name, RunStore store, RunFiles files) =>
                    store.Get(id) is null ? NotFound(id)
                    : files.Resolve(id, CatchAll.Decode(name)) is { } path
                        ? Results.File(path, "application/octet-stream", Path.GetFileName(path))
                        : Results.Problem($"Run {id} has no file '{CatchAll.Decode(name)}'; GET /api/runs/{id}/files lists its files.", statusCode: StatusCodes.Status404NotFound))
                .WithName(deprecated ? "DownloadRunCheckpoint" : "DownloadRunFile")
                .WithSummary("Download one of the run's files by its listed name (checkpoints in the NASiam format, resumable by the product)" + (deprecated ? " (old name of /files/{name})" : ""))
                .Produces(StatusCodes.Status200OK, contentType: "application/octet-stream").ProducesProblem(StatusCodes.Status404NotFound);
            if (deprecated)
                foreach (var endpoint in new[] { list, download })
                    endpoint.AddOpenApiOperationTransformer((operation, _, _) => { operation.Deprecated = true; return Task.CompletedTask; });
        }
        g.MapGet("/{id:guid}/export", Export).WithName("ExportRun")
            .WithSummary("The run's model as a PyTorch state dict under the reference's key names (torch.load + load_state_dict); checkpoint=pretrain|search|<name under checkpoints/> (default: the pre-training checkpoint a pipeline evaluates, kNN-best or last, else search); part=alphas gives a search checkpoint's alphas instead (keys alphas.<cell>, shape [layers, operations])")
            .Produces(StatusCodes.Status200OK, contentType: "application/octet-stream").ProducesValidationProblem().ProducesProblem(StatusCodes.Status404NotFound);
        return g;
    }

    /// <summary>GET /api/presets: the names a create body's "preset" takes, with what each sets (POST /api/runs/preview shows its options).</summary>
    public static RouteGroupBuilder MapPresetsApi(this IEndpointRouteBuilder app)
    {
        var g = app.MapGroup("/api/presets").WithTags("Runs").RejectUnknownQueryParameters();
        // The comparison presets too (quick-compare), marked: a client listed here what "preset" takes and missed them.
        g.MapGet("/", () => RunPresets.Descriptions.Select(p => new PresetInfo(p.Key, p.Value, ["runs", "comparisons"]))
                .Concat(ComparisonPresets.Descriptions.Select(p => new PresetInfo(p.Key, p.Value, ["comparisons"]))).ToArray())
            .WithName("ListPresets").WithSummary("Presets: names for 'preset' in POST /api/runs and /api/comparisons ('for' says which takes each); POST /api/runs/preview shows the options a run preset resolves to");
        return g;
    }

    static IResult Conflict(string detail) => Results.Problem(detail, statusCode: StatusCodes.Status409Conflict);
    static IResult NotFound(Guid id) => Results.Problem($"No run {id}.", statusCode: StatusCodes.Status404NotFound);

    /// <summary>The API's body rules: Web defaults, and an unknown member is an error rather than ignored.</summary>
    internal static readonly JsonSerializerOptions BodyJson = new(JsonSerializerOptions.Web)
    {
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
    };

    static async Task<IResult> Create(HttpRequest request, RunScheduler scheduler, IOptions<NasiamWebOptions> options)
    {
        var (runRequest, parentId, error) = await ReadRunRequest(request, options.Value);
        if (runRequest is null) return error!;
        var result = scheduler.Submit(runRequest, parentId);
        return result.Ok
            ? Results.Created($"/api/runs/{result.Run!.Id}", RunSummary.From(result.Run, DateTimeOffset.UtcNow) with { Notices = result.Notices })
            : Results.ValidationProblem(BodyErrors.ToDictionary(result.Errors), title: "The run request is invalid.");
    }

    static async Task<IResult> PretrainGenotype(Guid id, HttpRequest request, RunScheduler scheduler, RunStore store, IOptions<NasiamWebOptions> options)
    {
        if (store.Get(id) is null) return NotFound(id);
        PretrainRunRequest body = new();
        // No body, or an empty one, is the run's setup as it is (a client may send no content type for it).
        var text = await BodyReader.ReadTextAsync(request, options.Value.MaxUploadBytes);
        if (text is null) return Results.Problem("The request body is larger than Nasiam:MaxUploadBytes.", statusCode: StatusCodes.Status413PayloadTooLarge);
        if (!string.IsNullOrWhiteSpace(text))
        {
            var (parsed, error) = BodyErrors.Parse<PretrainRunRequest>(text, PretrainRunRequest.Members, "The request body is invalid.");
            if (parsed is null) return error!;
            body = parsed;
        }
        var r = scheduler.PretrainGenotype(id, body.Options, body.Name, body.Device);
        if (r.Errors is [{ Path: RunScheduler.RetryStateField } state]) return Conflict(state.Message);
        return r.Ok
            ? Results.Created($"/api/runs/{r.Run!.Id}", RunSummary.From(r.Run, DateTimeOffset.UtcNow) with { Notices = r.Notices })
            : Results.ValidationProblem(BodyErrors.ToDictionary(r.Errors), title: "The pre-training request is invalid.");
    }

    /// <summary>The create body resolved as POST /api/runs would queue it, nothing queued (the CLI's --print-options).</summary>
    static async Task<IResult> Preview(HttpRequest request, RunScheduler scheduler, IOptions<NasiamWebOptions> options)
    {
        var (runRequest, parentId, error) = await ReadRunRequest(request, options.Value);
        if (runRequest is null) return error!;
        var plan = scheduler.Plan(runRequest, parentId);
        if (!plan.Ok) return Results.ValidationProblem(BodyErrors.ToDictionary(plan.Errors), title: "The run request is invalid.");
        using var resolved = JsonDocument.Parse(plan.Options!.ToJson());
        return Results.Ok(new RunPreview(resolved.RootElement.Clone(), plan.ParentId, plan.Notices, StageMemoryPreview.For(plan.Options)));
    }

    /// <summary>The create body as a <see cref="RunRequest"/> and its parent, or the 400/413 that answers it.</summary>
    static async Task<(RunRequest? Request, Guid? ParentId, IResult? Error)> ReadRunRequest(HttpRequest request, NasiamWebOptions options)
    {
        var (body, error) = await BodyErrors.ReadAsync<CreateRunRequest>(request, options.MaxUploadBytes, BodyErrors.RunBodyMembers, "The request body is invalid.");
        if (body is null) return (null, null, error!);

        RunKind? kind = null;
        if (body.Kind is not null)
        {
            if (!EnumNames.TryParse<RunKind>(body.Kind, out var k))
                return (null, null, Results.ValidationProblem(new Dictionary<string, string[]> { ["kind"] = [$"'{body.Kind}' is not one of {string.Join(", ", EnumNames.All<RunKind>())}"] }));
            kind = k;
        }
        if (string.IsNullOrWhiteSpace(body.Preset) && body.Options is null && body.Framework is null && kind is null && string.IsNullOrWhiteSpace(body.Checkpoint))
            return (null, null, Results.ValidationProblem(new Dictionary<string, string[]> { ["preset"] = ["give a preset name, a framework, a kind, options or a checkpoint"] }));

        return (new RunRequest
        {
            Preset = body.Preset, Framework = body.Framework, Kind = kind, Genotype = body.Genotype, Checkpoint = body.Checkpoint,
            Device = body.Device, Name = body.Name, Overrides = body.Options?.DeepClone().AsObject(),
        }, body.ParentId, null);
    }

    /// <summary>Serialises exports: two requests for the same file must not write it at once.</summary>
    static readonly SemaphoreSlim ExportGate = new(1, 1);

    static async Task<IResult> Export(Guid id, string? checkpoint, string? part, RunStore store, RunFiles files, CancellationToken cancellationToken)
    {
        if (store.Get(id) is null) return NotFound(id);
        var partName = string.IsNullOrWhiteSpace(part) ? "model" : part.Trim().ToLowerInvariant();
        if (partName is not ("model" or "alphas"))
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["part"] = [$"'{part}' is not model (the state dict) or alphas (a search checkpoint's architecture weights)"] });
        // What can be exported: the checkpoints that hold a backbone (search, pretrain and its kNN-best), not the linear probe's.
        // The run page lists the same checkpoints in the same order, with the same labels (BackboneCheckpoints).
        var offered = files.BackboneCheckpoints(id);
        var listed = offered.Select(c => c.Stem).Order(StringComparer.Ordinal).ToArray();
        // Alphas live in a search checkpoint only, so asking for them without naming a checkpoint means the search's.
        // Otherwise the checkpoint the run stands for: the one its linear evaluation reads (kNN-best or last), the page's first link.
        var name = checkpoint is null
            ? partName == "alphas" ? NASiam.Core.Engine.Runs.StageEnvironment.CheckpointName("search") : offered.FirstOrDefault(c => c.Evaluated)?.Name
            : checkpoint.Contains('/') ? checkpoint : NASiam.Core.Engine.Runs.StageEnvironment.CheckpointName(checkpoint.Trim().ToLowerInvariant().Replace(".ckpt", ""));
        if (name is null) return Results.Problem("The run has no pre-training or search checkpoint.", statusCode: StatusCodes.Status404NotFound);
        var source = files.Resolve(id, name);
        if (source is null)
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["checkpoint"] = [$"'{checkpoint ?? name}' is not a checkpoint of this run that holds a model; available: {(listed.Length == 0 ? "none yet" : string.Join(", ", listed))}"] });
        if (partName == "alphas")
        {
            // Checked before anything is written: a refused request leaves no export behind.
            string stage;
            try { stage = CheckpointStore.ReadState(source).Stage; }
            catch (Exception e) when (e is InvalidDataException or IOException) { stage = "?"; }
            if (stage != "search")
                return Results.ValidationProblem(new Dictionary<string, string[]> { ["part"] = [$"'{name}' is a {stage} checkpoint and holds no alphas: only a search checkpoint has them (checkpoint=search)"] });
        }
        var target = Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(source)!)!, "exports", Path.GetFileNameWithoutExtension(source) + ".pt");
        // CheckpointExport writes a search checkpoint's alphas beside its state dict (the reference keeps them apart).
        var served = partName == "alphas" ? CheckpointExport.AlphasPathFor(target) : target;
        await ExportGate.WaitAsync(cancellationToken);
        try
        {
            // Cached until the checkpoint changes (a live run rewrites it each epoch).
            if (!File.Exists(served) || File.GetLastWriteTimeUtc(target) < File.GetLastWriteTimeUtc(source))
                await Task.Run(() => CheckpointExport.Export(source, target), cancellationToken);
        }
        catch (ArgumentException e)
        {
            // The message names the file by its server path; the client knows it by its name in the run.
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["checkpoint"] = [e.Message.Replace(source, name, StringComparison.Ordinal)] });
        }
        catch (InvalidDataException e)
        {
            // A damaged or truncated checkpoint (its checksums, CheckpointStore): the request is fine, the stored file is not.
            return Results.Problem(e.Message.Replace(source, name, StringComparison.Ordinal), statusCode: StatusCodes.Status409Conflict,
                title: "The checkpoint cannot be exported.");
        }
        finally { ExportGate.Release(); }
        return Results.File(served, "application/octet-stream", $"{Path.GetFileNameWithoutExtension(source)}-{id:N}{(partName == "alphas" ? ".alphas.pt" : ".pt")}");
    }

    static IResult Get(Guid id, RunStore store, RunFiles files)
    {
        var r = store.Get(id);
        if (r is null) return NotFound(id);
        using var opts = JsonDocument.Parse(r.OptionsJson);
        return Results.Ok(new RunDetail(RunSummary.From(r, DateTimeOffset.UtcNow) with { Notices = r.Notices }, opts.RootElement.Clone(), r.GenotypeText, store.ProvisionalGenotype(r), r.ParentId,
            store.List(id).Select(c => c.Id).ToArray(), Parse(r.ArtifactsJson), Parse(r.MetricsJson), files.Checkpoints(id)));
    }

    static JsonElement? Parse(string? json)
    {
        if (json is null) return null;
        using var d = JsonDocument.Parse(json);
        return d.RootElement.Clone();
    }

    static IResult Metrics(Guid id, RunStore store, IOptions<NasiamWebOptions> options, string? types, long? afterSequence, int? maxPoints)
    {
        // The query is checked first, as its binding is, whichever run it names.
        if (maxPoints is < 10 or > 100_000)
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["maxPoints"] = [$"must be a whole number from 10 to 100000; got {maxPoints}"] });
        if (store.Get(id) is null) return NotFound(id);
        var typeList = types?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (typeList?.Except(TrainingEventJson.TypeNames).ToArray() is { Length: > 0 } unknown)
            return Results.ValidationProblem(new Dictionary<string, string[]>
            {
                ["types"] = [$"unknown event type(s) {string.Join(", ", unknown)}; known: {string.Join(", ", TrainingEventJson.TypeNames)}"],
            });
        var page = store.Read(id, afterSequence ?? -1, typeList, maxPoints ?? options.Value.MaxPointsPerSeries);
        return Results.Ok(new MetricsResponse(id, page.LastSequence, page.Downsampled, page.EventElements(), page.AttemptStartedElement()));
    }

    static IResult Delete(Guid id, string? dependants, RunScheduler scheduler, RunStore store)
    {
        if (store.Get(id) is null) return NotFound(id);
        bool detach = false;
        if (dependants is not null)
        {
            if (!dependants.Trim().Equals("detach", StringComparison.OrdinalIgnoreCase))
                return Results.ValidationProblem(new Dictionary<string, string[]> { ["dependants"] = [$"'{dependants}' is not detach (delete the run and leave the runs and comparisons that refer to it without it)"] });
            detach = true;
        }
        // Deleting a run others refer to silently emptied their lineage (a deleted run's evaluations read as parentless).
        if (!detach && store.Dependants(id) is { Count: > 0 } list)
            return Results.Problem(
                $"{list.Count} {(list.Count == 1 ? "thing refers" : "things refer")} to run {id}: {string.Join(", ", list)}. Deleting it takes it out of their lineage, " +
                $"and a linear evaluation of its checkpoint could no longer resume. Delete them first, or DELETE /api/runs/{id}?dependants=detach to delete it anyway.",
                statusCode: StatusCodes.Status409Conflict, title: "Other runs or comparisons refer to this run.",
                extensions: new Dictionary<string, object?> { ["dependants"] = list });
        return scheduler.Delete(id) ? Results.NoContent() : NotFound(id);
    }

    /// <summary>The response header that carries <see cref="RunStore.ProvisionalGenotype"/> on a genotype download.</summary>
    public const string GenotypeNoticeHeader = "NASiam-Genotype-Notice";

    static IResult Genotype(Guid id, string? format, RunStore store, RunFiles files, HttpContext http)
    {
        var r = store.Get(id);
        if (r is null) return NotFound(id);
        format = (format ?? "txt").ToLowerInvariant();
        if (format is not ("txt" or "json"))
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["format"] = ["must be txt or json"] });
        var file = files.GenotypeFile(id, format == "txt" ? "genotype.txt" : "genotype.json");
        if (file is not null)
            return Results.File(file, format == "txt" ? "text/plain" : "application/json", $"genotype-{id:N}.{format}");
        if (r.GenotypeText is not { } text) return Results.Problem("The run has no genotype (yet).", statusCode: StatusCodes.Status404NotFound);
        // Not final: the reference text format has no place for a remark, so the notice travels as a header.
        if (store.ProvisionalGenotype(r) is { } notice) http.Response.Headers[GenotypeNoticeHeader] = notice;
        var g = GenotypeText.Parse(text);
        return format == "txt"
            ? Results.Text(text, "text/plain")
            : Results.Text(GenotypeJson.Write(g, r.Framework), "application/json");
    }
}

using System.Text.Json;
using Microsoft.Extensions.Options;
using NASiam.Core;
using NASiam.Core.Genotypes;
using NASiam.Core.Options;
using NASiam.Web.Jobs;
using NASiam.Web.Options;
using NASiam.Web.Runs;

namespace NASiam.Web.Api;

/// <summary>/api/runs: create, list, inspect, cancel, resume runs and download their artefacts.</summary>
public static class RunsApi
{
    public static RouteGroupBuilder MapRunsApi(this IEndpointRouteBuilder app)
    {
        var g = app.MapGroup("/api/runs").WithTags("Runs");
        g.MapPost("/", Create).WithSummary("Queue a run from a preset and/or complete options");
        g.MapGet("/", (RunStore store) => store.List().Select(r => RunSummary.From(r, DateTimeOffset.UtcNow)).ToArray());
        g.MapGet("/{id:guid}", Get);
        g.MapGet("/{id:guid}/metrics", Metrics).WithSummary("Events of a run; series are downsampled to maxPoints per type");
        g.MapPost("/{id:guid}/cancel", (Guid id, RunScheduler s, RunStore store) =>
            store.Get(id) is null ? Results.NotFound() : s.Cancel(id) ? Results.Accepted() : Conflict("The run is not active."));
        g.MapPost("/{id:guid}/resume", (Guid id, RunScheduler s, RunStore store) =>
            store.Get(id) is null ? Results.NotFound() : s.Resume(id) ? Results.Accepted() : Conflict("Only a cancelled, failed or interrupted run can be resumed."));
        g.MapPost("/{id:guid}/retry", (Guid id, RunScheduler s) =>
        {
            var r = s.Retry(id);
            return r.Ok ? Results.Created($"/api/runs/{r.Run!.Id}", RunSummary.From(r.Run, DateTimeOffset.UtcNow)) : Results.ValidationProblem(ValidationErrors.ToDictionary(r.Errors));
        });
        g.MapDelete("/{id:guid}", (Guid id, RunScheduler s) => s.Delete(id) ? Results.NoContent() : Results.NotFound());
        g.MapGet("/{id:guid}/genotype", Genotype).WithSummary("The run's genotype: format=txt (reference text) or json");
        g.MapGet("/{id:guid}/checkpoints", (Guid id, RunStore store, RunFiles files) =>
            store.Get(id) is null ? Results.NotFound() : Results.Ok(files.Checkpoints(id)));
        g.MapGet("/{id:guid}/checkpoints/{**name}", (Guid id, string name, RunFiles files) =>
            files.Resolve(id, name) is { } path
                ? Results.File(path, "application/octet-stream", Path.GetFileName(path))
                : Results.NotFound());
        return g;
    }

    static IResult Conflict(string detail) => Results.Problem(detail, statusCode: StatusCodes.Status409Conflict);

    static async Task<IResult> Create(HttpRequest request, RunScheduler scheduler, IOptions<NasiamWebOptions> options)
    {
        CreateRunRequest? body;
        try
        {
            var text = await BodyReader.ReadTextAsync(request, options.Value.MaxUploadBytes);
            if (text is null) return Results.Problem("The request body is larger than Nasiam:MaxUploadBytes.", statusCode: StatusCodes.Status413PayloadTooLarge);
            body = JsonSerializer.Deserialize<CreateRunRequest>(text, JsonSerializerOptions.Web);
        }
        catch (JsonException e)
        {
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["body"] = [$"malformed JSON: {e.Message}"] });
        }
        if (body is null) return Results.ValidationProblem(new Dictionary<string, string[]> { ["body"] = ["a JSON object is required"] });

        RunOptions runOptions;
        try
        {
            Framework? fw = body.Framework is null ? null : FrameworkNames.Parse(body.Framework);
            if (body.Options is { ValueKind: JsonValueKind.Object } o) runOptions = RunOptions.FromJson(o.GetRawText());
            else if (!string.IsNullOrWhiteSpace(body.Preset)) runOptions = RunPresets.Get(body.Preset, fw);
            else return Results.ValidationProblem(new Dictionary<string, string[]> { ["preset"] = ["give a preset name or an options object"] });
        }
        catch (ArgumentException e)
        {
            var field = e.Message.StartsWith("Unknown preset", StringComparison.Ordinal) ? "preset"
                : e.Message.StartsWith("Unknown framework", StringComparison.Ordinal) ? "framework" : "options";
            return Results.ValidationProblem(new Dictionary<string, string[]> { [field] = [e.Message] });
        }
        if (!string.IsNullOrWhiteSpace(body.Device)) runOptions = runOptions with { Device = body.Device };
        if (!string.IsNullOrWhiteSpace(body.Name)) runOptions = runOptions with { Name = body.Name };

        var result = scheduler.Create(runOptions, body.ParentId);
        return result.Ok
            ? Results.Created($"/api/runs/{result.Run!.Id}", RunSummary.From(result.Run, DateTimeOffset.UtcNow))
            : Results.ValidationProblem(ValidationErrors.ToDictionary(result.Errors), title: "The run options are invalid.");
    }

    static IResult Get(Guid id, RunStore store, RunFiles files)
    {
        var r = store.Get(id);
        if (r is null) return Results.NotFound();
        using var opts = JsonDocument.Parse(r.OptionsJson);
        return Results.Ok(new RunDetail(RunSummary.From(r, DateTimeOffset.UtcNow), opts.RootElement.Clone(), r.GenotypeText, r.ParentId,
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
        if (store.Get(id) is null) return Results.NotFound();
        if (maxPoints is < 10 or > 100_000)
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["maxPoints"] = ["must be between 10 and 100000"] });
        var typeList = types?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var page = store.Read(id, afterSequence ?? -1, typeList, maxPoints ?? options.Value.MaxPointsPerSeries);
        return Results.Ok(new MetricsResponse(id, page.LastSequence, page.Downsampled, page.Events.Select(EventWireJson.ToElement).ToArray()));
    }

    static IResult Genotype(Guid id, string? format, RunStore store, RunFiles files)
    {
        var r = store.Get(id);
        if (r is null) return Results.NotFound();
        format = (format ?? "txt").ToLowerInvariant();
        if (format is not ("txt" or "json"))
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["format"] = ["must be txt or json"] });
        var file = files.GenotypeFile(id, format == "txt" ? "genotype.txt" : "genotype.json");
        if (file is not null)
            return Results.File(file, format == "txt" ? "text/plain" : "application/json", $"genotype-{id:N}.{format}");
        if (r.GenotypeText is not { } text) return Results.NotFound();
        var g = GenotypeText.Parse(text);
        return format == "txt"
            ? Results.Text(text, "text/plain")
            : Results.Text(GenotypeJson.Write(g, r.Framework), "application/json");
    }
}

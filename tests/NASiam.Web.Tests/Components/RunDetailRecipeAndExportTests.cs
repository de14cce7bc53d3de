using System.Net.Http.Json;
using System.Text.Json;
using Bunit;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.Extensions.DependencyInjection;
using NASiam.Core;
using NASiam.Core.Engine.Checkpoints;
using NASiam.Core.Engine.Runs;
using NASiam.Core.Options;
using NASiam.Web.Components.Pages;
using NASiam.Web.Components.Shared;
using NASiam.Web.Runs;
using NASiam.Web.Tests.Fakes;

namespace NASiam.Web.Tests.Components;

/// <summary>
/// The run page's exports (the evaluated checkpoint first, as the API's default), its "Pre-train this genotype"
/// (from the run's own setup), and its Recipe and Final metrics panels.
/// </summary>
public sealed class RunDetailRecipeAndExportTests() : ScriptedAppTests("recipe", () => new ScriptedRunEngine(totalSteps: 4, stepMilliseconds: 1))
{
    RunStore Store => App.Services.GetRequiredService<RunStore>();

    /// <summary>A stored run (not queued) with <paramref name="options"/>, copied from <paramref name="template"/>.</summary>
    RunRecord Stored(RunRecord template, RunOptions options, string? metricsJson = null)
    {
        var r = template with
        {
            Id = Guid.NewGuid(), Name = "the source run", Kind = options.Kind, Framework = options.Framework, Backbone = options.Backbone, Dataset = options.Dataset,
            Status = RunStatus.Succeeded, OptionsJson = options.ToJson(), MetricsJson = metricsJson, ParentId = null,
        };
        Store.Insert(r);
        // As the job ends a run: its result's metrics go with the record (an insert keeps none).
        if (metricsJson is not null) Store.Finish(r.Id, RunStatus.Succeeded, null, null, null, metricsJson);
        return Store.Get(r.Id)!;
    }

    void WriteCheckpoint(Guid runId, string stem, RunOptions options, int epoch)
    {
        var path = StageEnvironment.CheckpointPathIn(App.Services.GetRequiredService<RunPaths>().RunDirectory(runId), stem);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        CheckpointStore.Save(path, new CheckpointState { Stage = "pretrain", Epoch = epoch, Step = epoch * 4L, Completed = stem == "pretrain", OptionsJson = options.ToJson() }, new CheckpointContent());
    }

    /// <summary>The checkpoint GET /api/runs/{id}/export serves when none is named, by its download name (or its error).</summary>
    static async Task<string> ApiDefaultExport(HttpClient c, Guid id)
    {
        var r = await c.GetAsync($"/api/runs/{id}/export");
        return r.Content.Headers.ContentDisposition?.FileName?.Trim('"') ?? await r.Content.ReadAsStringAsync();
    }

    // SimSiam and MoCo evaluate the kNN-best checkpoint, SimCLR the last: the page's first export is the one the run's
    // linear number came from, the API's default export, labelled so. Before, the page's only export was the last one.
    [Theory]
    [InlineData("simsiam", "pretrain-best", "the evaluated checkpoint: kNN-best, epoch 3", "pretrain", "last, epoch 5")]
    [InlineData("simclr", "pretrain", "the evaluated checkpoint: last, epoch 5", "pretrain-best", "kNN-best, epoch 3")]
    public async Task FirstExport_IsTheEvaluatedCheckpoint_TheApisDefault_LabelledSo(string framework, string first, string firstLabel, string second, string secondLabel)
    {
        using var c = App.Api();
        await using var ctx = PageContext();
        var template = Store.Get(await SucceededQuickDemo(c))!;
        var options = RunPresets.QuickDemoFor(FrameworkNames.Parse(framework)) with { Kind = RunKind.Pipeline };
        var run = Stored(template, options);
        WriteCheckpoint(run.Id, "pretrain", options, 5);
        WriteCheckpoint(run.Id, "pretrain-best", options, 3);

        var page = ctx.Render<RunDetail>(p => p.Add(x => x.Id, run.Id));
        var links = page.FindAll("a.export-link");
        Assert.Equal(2, links.Count);
        Assert.Equal($"/api/runs/{run.Id}/export?checkpoint={first}", links[0].GetAttribute("href"));
        Assert.Contains(firstLabel, links[0].TextContent);
        Assert.Equal("true", links[0].GetAttribute("data-evaluated"));
        Assert.Equal($"/api/runs/{run.Id}/export?checkpoint={second}", links[1].GetAttribute("href"));
        Assert.Contains(secondLabel, links[1].TextContent);
        Assert.DoesNotContain("evaluated", links[1].TextContent);

        // The API's default is the same checkpoint (it names it in its download, or in its answer when the file holds no weights).
        Assert.Equal($"{first}-{run.Id:N}.pt", await ApiDefaultExport(c, run.Id));
        Assert.Equal($"checkpoints/{first}.ckpt", App.Services.GetRequiredService<RunFiles>().FinalBackboneCheckpoint(run.Id));
    }
}

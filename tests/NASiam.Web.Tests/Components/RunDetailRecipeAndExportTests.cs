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
        var dir = App.Services.GetRequiredService<RunPaths>().RunDirectory(run.Id);
        Assert.Equal(Path.GetFullPath(Path.Combine(dir, $"checkpoints/{first}.ckpt")), Path.GetFullPath(NASiam.Core.Engine.Runs.StageEnvironment.FinalBackboneCheckpointIn(dir)!));
    }

    // "Pre-train this genotype" of a search on 256 synthetic images with a step cap opened the quick demo (2048 images,
    // no cap). Now the form starts from the run's own stored options, says so, and the queued run descends from it.
    [Fact]
    public async Task PretrainThisGenotype_StartsFromTheRunsOwnSetup_AndKeepsItsLineage()
    {
        using var c = App.Api();
        var created = await c.PostAsJsonAsync("/api/runs", new
        {
            preset = "quick-demo", framework = "simsiam", kind = "search", name = "small search",
            options = new { syntheticTrainSize = 256, maxStepsPerStage = 7, seed = 3, pretrain = new { epochs = 4 } },
        });
        Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        await NasiamAppFactory.WaitForStatus(c, id, "Succeeded");
        var source = Store.Get(id)!;
        var sourceOptions = source.Options();

        await using var ctx = PageContext();
        var detail = ctx.Render<RunDetail>(p => p.Add(x => x.Id, id));
        Assert.Equal($"/runs/new?from={id}", detail.Find("#pretrain-genotype").GetAttribute("href"));

        ctx.Services.GetRequiredService<NavigationManager>().NavigateTo($"/runs/new?from={id}");
        var page = ctx.Render<NewRun>();
        var form = page.FindComponent<RunForm>();
        var values = form.Instance.Model.Values;
        Assert.Equal("256", values["syntheticTrainSize"]);
        Assert.Equal("7", values["maxStepsPerStage"]);
        Assert.Equal("3", values["seed"]);
        Assert.Equal("4", values["pretrain.epochs"]);
        Assert.Equal("simsiam", values["framework"]);
        Assert.Equal("resnet-tiny", values["backbone"]);
        Assert.Equal("pretrain", values["kind"]);
        Assert.Equal(source.GenotypeText, values["pretrain.genotype"]);
        Assert.Contains("Started from run 'small search''s setup", page.Find("#form-origin").TextContent);
        Assert.Empty(form.FindAll("[data-error='true']"));

        // Queued (a second click confirms when the resolver had notices): the run's setup, kind pretrain, its genotype, under it.
        await form.Find("#submit-run").ClickAsync(new MouseEventArgs());
        if (Store.List(id).Count == 0) await form.Find("#submit-run").ClickAsync(new MouseEventArgs());
        page.WaitForAssertion(() => Assert.Single(Store.List(id)));
        var child = Store.List(id)[0];
        var o = child.Options();
        Assert.Equal(RunKind.Pretrain, o.Kind);
        Assert.Equal(source.GenotypeText, o.Pretrain.Genotype);
        var expected = sourceOptions with { Kind = RunKind.Pretrain, Name = o.Name, Device = o.Device, Pretrain = sourceOptions.Pretrain with { Genotype = o.Pretrain.Genotype } };
        Assert.Equal(expected.ToJson(), o.ToJson());

        // The API's door to the same action (POST /api/runs/{id}/pretrain, no body) queues the same options under the same run.
        var viaApi = await c.PostAsync($"/api/runs/{id}/pretrain", null);
        Assert.Equal(System.Net.HttpStatusCode.Created, viaApi.StatusCode);
        var apiChild = Store.Get((await viaApi.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid())!;
        Assert.Equal(id, apiChild.ParentId);
        Assert.Equal(o.ToJson(), apiChild.Options().ToJson());
    }

    // The library's PRE-TRAIN of a preset genotype (moco/cifar10_resnet18) landed on the quick demo's default
    // framework (SimCLR): now the entry's framework, and the form says which preset it started from.
    [Fact]
    public async Task PretrainALibraryPreset_StartsFromItsFramework_AndSaysWhichPreset()
    {
        await using var ctx = PageContext();
        var library = ctx.Render<Genotypes>();
        var href = library.FindAll("a.pretrain-genotype").Select(a => a.GetAttribute("href")!)
            .Single(h => h.Contains(Uri.EscapeDataString("moco/cifar10_resnet18")));
        Assert.Contains("framework=moco", href, StringComparison.OrdinalIgnoreCase);

        ctx.Services.GetRequiredService<NavigationManager>().NavigateTo(href);
        var page = ctx.Render<NewRun>();
        var form = page.FindComponent<RunForm>();
        Assert.Equal("moco", form.Instance.Model.Values["framework"]);
        Assert.Equal("pretrain", form.Instance.Model.Values["kind"]);
        Assert.Empty(page.FindAll("#genotype-notice"));
        Assert.Contains($"Started from the {RunPresets.QuickDemo} preset's moco recipe", page.Find("#form-origin").TextContent);
    }

    // The page showed charts only: what a run used and measured took a download of result.json.
    [Fact]
    public async Task RecipeAndFinalMetrics_AreShown_WithUnits()
    {
        using var c = App.Api();
        await using var ctx = PageContext();
        var template = Store.Get(await SucceededQuickDemo(c))!;
        var options = RunPresets.QuickDemoFor(Framework.SimSiam) with { Kind = RunKind.Pipeline, MaxStepsPerStage = 9, Seed = 5, Threads = 2, SyntheticTrainSize = 512 };
        var metrics = JsonSerializer.Serialize(new Dictionary<string, double> { ["knn_top1"] = 41.25, ["lincls_top1"] = 38.5, ["head_parameters"] = 1049088, ["search_final_loss"] = -0.9 });
        var run = Stored(template, options, metrics);

        var page = ctx.Render<RunDetail>(p => p.Add(x => x.Id, run.Id));
        var recipe = page.Find("#run-recipe").TextContent;
        Assert.Contains("simsiam, resnet-tiny", recipe);
        Assert.Contains("synthetic, 512 train images", recipe);
        Assert.Contains($"{options.Search.Epochs} epochs, batch {options.Search.BatchSize}, ", recipe);
        Assert.Contains($"{options.Pretrain.Epochs} epochs, batch {options.Pretrain.BatchSize}, ", recipe);
        Assert.Contains($"{options.Linear.Epochs} epochs, batch {options.Linear.BatchSize}, ", recipe);
        Assert.Contains("at most 9 steps a stage", recipe);
        Assert.Contains("2 CPU threads", recipe);
        Assert.Contains("seed 5", recipe);

        Assert.Equal(["lincls_top1", "knn_top1", "head_parameters", "search_final_loss"], page.FindAll(".run-metric").Select(e => e.GetAttribute("data-metric")));
        Assert.Equal("38.50 %", page.Find("#metric-lincls_top1 .run-metric-value").TextContent.Trim());
        Assert.Equal("41.25 %", page.Find("#metric-knn_top1 .run-metric-value").TextContent.Trim());
        Assert.Equal("1,049,088 parameters", page.Find("#metric-head_parameters .run-metric-value").TextContent.Trim());

        // A search-only run shows its search recipe, not the stages it did not run.
        var search = Stored(template, options with { Kind = RunKind.Search });
        page = ctx.Render<RunDetail>(p => p.Add(x => x.Id, search.Id));
        var rows = page.FindAll("#run-recipe td:first-child").Select(td => td.TextContent.Trim()).ToArray();
        Assert.Contains("search", rows);
        Assert.DoesNotContain("pre-training", rows);
        Assert.DoesNotContain("linear evaluation", rows);
        Assert.Equal("The run reported no final metrics.", page.Find("#run-metrics-empty").TextContent.Trim());

        // A metric that is not a number is listed as such (it was left out, so a diverged loss read as none), and
        // metrics that cannot be read are said, not shown as none.
        var diverged = Stored(template, options, """{"knn_top1":12.5,"pretrain_final_loss":"NaN"}""");
        page = ctx.Render<RunDetail>(p => p.Add(x => x.Id, diverged.Id));
        Assert.Equal(["knn_top1", "pretrain_final_loss"], page.FindAll(".run-metric").Select(e => e.GetAttribute("data-metric")));
        Assert.Equal("NaN: not measured, or the training diverged", page.Find("#metric-pretrain_final_loss .run-metric-value").TextContent.Trim());
        var unreadable = Stored(template, options, """{"knn_top1":"twelve"}""");
        page = ctx.Render<RunDetail>(p => p.Add(x => x.Id, unreadable.Id));
        Assert.StartsWith("The run's final metrics could not be read: ", page.Find("#run-metrics-empty").TextContent.Trim());
    }
}

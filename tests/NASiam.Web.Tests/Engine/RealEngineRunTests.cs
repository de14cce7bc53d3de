using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.SignalR.Client;
using NASiam.Core;
using NASiam.Core.Engine.Checkpoints;
using NASiam.Core.Genotypes;
using NASiam.Core.Options;
using NASiam.Core.Reporting;
using Microsoft.Extensions.DependencyInjection;
using NASiam.Web.Hubs;
using NASiam.Web.Runs;
using NASiam.Web.Tests.Fakes;

namespace NASiam.Web.Tests.Engine;

/// <summary>
/// End to end with the real engine (NasiamEngine, as the app registers it): a tiny quick-demo-like
/// search queued through the API, executed by the Hangfire job, watched live over SignalR, and its
/// genotype and checkpoint downloaded.
/// </summary>
public class RealEngineRunTests : IDisposable
{
    readonly string _data = Directory.CreateTempSubdirectory("nasiam-real-").FullName;

    /// <summary>The quick demo shrunk to seconds on 2 cores: 256 synthetic images, 4 steps per epoch, 3 epochs, tiny heads.</summary>
    public static RunOptions TinySearch()
    {
        var demo = RunPresets.QuickDemoFor(Framework.SimSiam);
        return demo with
        {
            Name = "tiny real search",
            SyntheticTrainSize = 256,
            MaxStepsPerStage = 12,
            AlphaLogEverySteps = 1,
            Heads = demo.Heads with { Dim = 32, PredDim = 16 },
            Search = demo.Search with { Epochs = 3, BatchSize = 32 },
        };
    }

    [Fact]
    public async Task QuickDemoRun_WithRealEngine_StreamsAlphasLiveInOrderAndServesGenotypeAndCheckpoint()
    {
        await using var app = new NasiamAppFactory(_data, engine: null);
        using var c = app.Api();
        var feed = new RunFeed();
        await using var hub = app.Hub();
        hub.On<RunDelta>("Delta", feed.OnDelta);
        await hub.StartAsync();

        using var options = JsonDocument.Parse(TinySearch().ToJson());
        var created = await c.PostAsJsonAsync("/api/runs", new { options = options.RootElement });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        feed.OnSnapshot(await hub.InvokeAsync<RunSnapshot>("Subscribe", id));

        await NasiamAppFactory.WaitForStatus(c, id, "Succeeded", 90);
        var stored = await NasiamAppFactory.Events(c, id);
        await NasiamAppFactory.WaitUntil(() => Task.FromResult(feed.Count == stored.Count), TimeSpan.FromSeconds(10), "the hub client to catch up");

        // Live and in order: every alpha update came by a delta, numbering strictly increasing without gaps.
        Assert.Empty(feed.Errors);
        Assert.Equal(stored.Select(s => s.Seq), feed.Events.Select(e => e.Sequence));
        Assert.Equal(Enumerable.Range(0, stored.Count).Select(i => (long)i), stored.Select(s => s.Seq));
        var alphas = feed.Events.OfType<AlphasLogged>().ToList();
        Assert.Equal(Enumerable.Range(1, 12).Select(i => (long)i), alphas.Select(a => a.Step));
        Assert.All(alphas, a => Assert.Contains(a.Sequence, feed.Live));
        Assert.All(alphas, a => Assert.Equal(["encoder", "predictor"], a.Cells.Select(cell => cell.Cell)));
        Assert.True(feed.Deltas > 1, $"only {feed.Deltas} delta(s): the run was not streamed");

        // A dashboard-started run writes metrics.jsonl in its folder too: the same events, in the same one JSON form as the API's.
        var dir = app.Services.GetRequiredService<RunPaths>().RunDirectory(id);
        var lines = await File.ReadAllLinesAsync(Path.Combine(dir, "metrics.jsonl"));
        var api = await c.GetFromJsonAsync<JsonElement>($"/api/runs/{id}/metrics?maxPoints=100000");
        var served = api.GetProperty("events").EnumerateArray().Select(e => e.GetRawText()).ToList();
        Assert.Equal(served.Count, lines.Length);
        for (int i = 0; i < lines.Length; i++) Assert.Equal(served[i], lines[i]);
        // Each epoch's throughput carries the worker process's resident memory, as the API serves it.
        var throughput = api.GetProperty("events").EnumerateArray().Where(e => e.GetProperty("type").GetString() == "throughput").ToList();
        Assert.Equal(3, throughput.Count);
        Assert.All(throughput, t => Assert.InRange(t.GetProperty("rss_mib").GetDouble(), 50, t.GetProperty("peak_rss_mib").GetDouble()));

        // Genotype: the engine's files, served as text and JSON, agreeing with the run record.
        var text = await c.GetStringAsync($"/api/runs/{id}/genotype?format=txt");
        var genotype = GenotypeText.Parse(text);
        var detail = await c.GetFromJsonAsync<JsonElement>($"/api/runs/{id}");
        Assert.Equal(GenotypeText.Write(genotype), GenotypeText.Write(GenotypeText.Parse(detail.GetProperty("genotypeText").GetString() ?? "")));
        var json = await c.GetStringAsync($"/api/runs/{id}/genotype?format=json");
        Assert.Equal(GenotypeText.Write(genotype), GenotypeText.Write(GenotypeJson.Parse(json)));

        // Checkpoint: listed, downloadable, and a readable engine checkpoint of the completed search.
        var listed = await c.GetFromJsonAsync<JsonElement>($"/api/runs/{id}/files");
        Assert.Contains("checkpoints/search.ckpt", listed.EnumerateArray().Select(f => f.GetProperty("name").GetString()));
        // The run's record, which its artifacts name, downloads as its checkpoints do (result.json was a 404).
        var result = await c.GetFromJsonAsync<JsonElement>($"/api/runs/{id}/files/result.json");
        Assert.Equal(id.ToString(), result.GetProperty("run_id").GetString());
        Assert.Contains("\"type\":\"run_started\"", await c.GetStringAsync($"/api/runs/{id}/files/metrics.jsonl"));
        var bytes = await c.GetByteArrayAsync($"/api/runs/{id}/files/checkpoints/search.ckpt");
        var copy = Path.Combine(_data, "downloaded.ckpt");
        await File.WriteAllBytesAsync(copy, bytes);
        var state = CheckpointStore.ReadState(copy);
        Assert.Equal("search", state.Stage);
        Assert.True(state.Completed);
        Assert.Equal(12, state.Step);
    }

    [Fact]
    public async Task PipelinePreset_ThroughTheApi_PretrainsTheGenotypeItSearched()
    {
        await using var app = new NasiamAppFactory(_data, engine: null);
        using var c = app.Api();
        // The quick demo as a pipeline, shrunk: every stage a few steps. Only the changed fields are sent.
        var body = """
            {"preset":"quick-demo","framework":"simsiam","kind":"pipeline",
             "options":{"syntheticTrainSize":256,"maxStepsPerStage":4,"heads":{"dim":32,"predDim":16},
                        "search":{"epochs":1,"batchSize":32},"pretrain":{"epochs":1,"batchSize":32,"knnK":5},
                        "linear":{"epochs":1,"batchSize":32}}}
            """;
        var created = await c.PostAsync("/api/runs", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        await NasiamAppFactory.WaitForStatus(c, id, "Succeeded", 150);

        var detail = await c.GetFromJsonAsync<JsonElement>($"/api/runs/{id}");
        Assert.Equal("searched", detail.GetProperty("options").GetProperty("pretrain").GetProperty("genotype").GetString());
        var searched = GenotypeText.Parse(await c.GetStringAsync($"/api/runs/{id}/genotype?format=txt"));

        // The pre-training checkpoint records the heads it trained: the searched genotype, not the baseline.
        var bytes = await c.GetByteArrayAsync($"/api/runs/{id}/files/checkpoints/pretrain.ckpt");
        var copy = Path.Combine(_data, "pretrain-downloaded.ckpt");
        await File.WriteAllBytesAsync(copy, bytes);
        var state = CheckpointStore.ReadState(copy);
        Assert.Equal("pretrain", state.Stage);
        Assert.NotNull(state.GenotypeText);
        Assert.True(GenotypeText.Parse(state.GenotypeText!).SameAs(searched), $"pre-trained {state.GenotypeText}, searched {GenotypeText.Write(searched)}");

        // The PyTorch export of the pre-trained model is downloadable from the API (the run page links it).
        var export = await c.GetAsync($"/api/runs/{id}/export");
        Assert.Equal(HttpStatusCode.OK, export.StatusCode);
        var pt = await export.Content.ReadAsByteArrayAsync();
        Assert.True(pt.Length > 1000 && pt[0] == (byte)'P' && pt[1] == (byte)'K', "a torch.save zip archive");

        // The search's alphas, which the reference keeps outside the state dict (the CLI's export writes them
        // beside it): one tensor per cell, equal to the search checkpoint's. Only a search checkpoint has them.
        var alphas = await c.GetAsync($"/api/runs/{id}/export?checkpoint=search&part=alphas");
        Assert.True(alphas.StatusCode == HttpStatusCode.OK, await alphas.Content.ReadAsStringAsync());
        var searchCopy = Path.Combine(_data, "search-downloaded.ckpt");
        await File.WriteAllBytesAsync(searchCopy, await c.GetByteArrayAsync($"/api/runs/{id}/files/checkpoints/search.ckpt"));
        using (var model = CheckpointExport.LoadModel(searchCopy))
        {
            var dict = TorchSharp.PyBridge.PyTorchUnpickler.UnpickleStateDict(await alphas.Content.ReadAsStreamAsync());
            Assert.Equal(model.SearchCells.Select(cell => "alphas." + cell.Name).Order(), dict.Keys.Cast<string>().Order());
            foreach (var cell in model.SearchCells)
            {
                using var loaded = (TorchSharp.torch.Tensor)dict["alphas." + cell.Name]!;
                Assert.True(loaded.allclose(cell.Cell.Alphas, rtol: 0, atol: 0), cell.Name);
            }
        }
        var noAlphas = await c.GetAsync($"/api/runs/{id}/export?checkpoint=pretrain&part=alphas");
        Assert.Equal(HttpStatusCode.BadRequest, noAlphas.StatusCode);
        Assert.Contains("only a search checkpoint", await noAlphas.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.BadRequest, (await c.GetAsync($"/api/runs/{id}/export?part=weights")).StatusCode);
        // An unknown checkpoint's message offers what can be exported: the pipeline's linear-probe checkpoint holds
        // no model, so it is not among them (it was).
        Assert.Contains((await c.GetFromJsonAsync<JsonElement>($"/api/runs/{id}/files")).EnumerateArray(),
            f => f.GetProperty("name").GetString() == "checkpoints/lincls.ckpt");
        var unknown = await c.GetAsync($"/api/runs/{id}/export?checkpoint=nosuch");
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        Assert.Equal("'nosuch' is not a checkpoint of this run that holds a model; available: pretrain, pretrain-best, search",
            (await unknown.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").GetProperty("checkpoint")[0].GetString());
        // Alphas without a named checkpoint are the search's (the default checkpoint is otherwise the pre-training's).
        Assert.Equal(HttpStatusCode.OK, (await c.GetAsync($"/api/runs/{id}/export?part=alphas")).StatusCode);

        // The run page's "Linear-evaluate this backbone" through the API: the run id stands for the pre-training
        // checkpoint its pipeline evaluated (SimSiam: the kNN-best), whose saved options bring the recipe; the
        // engine evaluates it. It took pretrain.ckpt, so the two evaluations of one run gave different numbers.
        var evaluation = await c.PostAsync("/api/runs", new StringContent($"{{\"checkpoint\":\"{id}\"}}", System.Text.Encoding.UTF8, "application/json"));
        Assert.True(evaluation.StatusCode == HttpStatusCode.Created, await evaluation.Content.ReadAsStringAsync());
        var child = (await evaluation.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        await NasiamAppFactory.WaitForStatus(c, child, "Succeeded", 90);
        var evaluated = await c.GetFromJsonAsync<JsonElement>($"/api/runs/{child}");
        Assert.Equal(id, evaluated.GetProperty("parentId").GetGuid());
        Assert.EndsWith(Path.Combine("checkpoints", "pretrain-best.ckpt"), evaluated.GetProperty("options").GetProperty("linear").GetProperty("checkpoint").GetString());
        var top1 = evaluated.GetProperty("metrics").GetProperty("lincls_top1").GetDouble();
        Assert.InRange(top1, 0, 100);
        // Same backbone, same recipe and seed: the same number as the pipeline's own linear evaluation.
        var pipelineTop1 = (await c.GetFromJsonAsync<JsonElement>($"/api/runs/{id}")).GetProperty("metrics").GetProperty("lincls_top1").GetDouble();
        Assert.Equal(pipelineTop1, top1);
    }

    public void Dispose()
    {
        try { Directory.Delete(_data, true); } catch (IOException) { }
    }
}

using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.SignalR.Client;
using NASiam.Core;
using NASiam.Core.Engine.Checkpoints;
using NASiam.Core.Genotypes;
using NASiam.Core.Options;
using NASiam.Core.Reporting;
using NASiam.Web.Hubs;
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

        // Genotype: the engine's files, served as text and JSON, agreeing with the run record.
        var text = await c.GetStringAsync($"/api/runs/{id}/genotype?format=txt");
        var genotype = GenotypeText.Parse(text);
        var detail = await c.GetFromJsonAsync<JsonElement>($"/api/runs/{id}");
        Assert.Equal(GenotypeText.Write(genotype), GenotypeText.Write(GenotypeText.Parse(detail.GetProperty("genotypeText").GetString() ?? "")));
        var json = await c.GetStringAsync($"/api/runs/{id}/genotype?format=json");
        Assert.Equal(GenotypeText.Write(genotype), GenotypeText.Write(GenotypeJson.Parse(json)));

        // Checkpoint: listed, downloadable, and a readable engine checkpoint of the completed search.
        var listed = await c.GetFromJsonAsync<JsonElement>($"/api/runs/{id}/checkpoints");
        Assert.Contains("checkpoints/search.ckpt", listed.EnumerateArray().Select(f => f.GetProperty("name").GetString()));
        var bytes = await c.GetByteArrayAsync($"/api/runs/{id}/checkpoints/checkpoints/search.ckpt");
        var copy = Path.Combine(_data, "downloaded.ckpt");
        await File.WriteAllBytesAsync(copy, bytes);
        var state = CheckpointStore.ReadState(copy);
        Assert.Equal("search", state.Stage);
        Assert.True(state.Completed);
        Assert.Equal(12, state.Step);
    }

    public void Dispose()
    {
        try { Directory.Delete(_data, true); } catch (IOException) { }
    }
}

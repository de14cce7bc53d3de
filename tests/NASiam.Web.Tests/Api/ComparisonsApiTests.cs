using Bunit;
using Microsoft.Extensions.DependencyInjection;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using NASiam.Core;
using NASiam.Core.Comparison;
using NASiam.Core.Engine.Checkpoints;
using NASiam.Core.Engine.Runs;
using NASiam.Core.Genotypes;
using NASiam.Core.Options;
using NASiam.Web.Tests.Fakes;
using static TorchSharp.torch;

namespace NASiam.Web.Tests.Api;

/// <summary>
/// Comparisons through the API: validation (400 naming fields) and a tiny comparison end to end
/// with the real engine (in-process isolation for speed), cancelled and resumed mid-way.
/// </summary>
public class ComparisonsApiTests : IDisposable
{
    readonly string _data = Directory.CreateTempSubdirectory("nasiam-cmp-").FullName;

    // SimCLR (the quick demo's default framework) searches a 6-layer predictor; this one differs from the standard MLP head.
    const string Genotype = "Genotype(predictor=[['linear_relu'], ['identity'], ['linear_silu'], ['identity'], ['linear_elu'], ['identity']])";

    static StringContent Json(string s) => new(s, Encoding.UTF8, "application/json");

    [Theory]
    [InlineData("""{"preset":"quick-demo","seeds":[]}""", "seeds")]
    [InlineData("""{"preset":"quick-demo","genotype":"standard"}""", "genotype")]
    [InlineData("""{"preset":"quick-demo","genotype":"Genotype(predictor=[['nope']])"}""", "genotype")]
    [InlineData("""{"preset":"quick-demo","options":{"pretrain":{"epochs":0}}}""", "options.pretrain.epochs")]
    [InlineData("""{"preset":"quick-demo","options":{"kind":"search"}}""", "options.kind")]
    [InlineData("""{"preset":"quick-demo","seeds":"1"}""", "seeds")]
    [InlineData("""{"preset":"quick-demo","colour":"red"}""", "colour")]
    [InlineData("""{"preset":"nope"}""", "preset")]
    // An empty request would start the full recipe (3 seeds, 800-epoch pre-trainings) unasked.
    [InlineData("""{}""", "preset")]
    // Each child's seed comes from seeds: a seed in the options would be overwritten silently.
    [InlineData("""{"preset":"quick-compare","options":{"seed":5}}""", "options.seed")]
    [InlineData("""{"preset":"quick-compare","options":{"seed":1,"seed":2}}""", "options.seed")]
    [InlineData("""{"preset":"quick-demo","device":"cuda:7"}""", "device")]
    // Read as left out: "seeds": null queued the preset's seeds; a genotype in the options was overwritten by the arms'.
    [InlineData("""{"preset":"quick-compare","framework":"simsiam","genotype":"simsiam/cifar10_resnet18","seeds":null}""", "seeds")]
    [InlineData("""{"preset":"quick-compare","framework":"simsiam","genotype":"simsiam/cifar10_resnet18","seeds":[0],"options":{"pretrain":{"genotype":"standard"}}}""", "options.pretrain.genotype")]
    // A data folder this node cannot find: a 400, not a comparison whose first child fails at once.
    [InlineData("""{"preset":"quick-compare","framework":"simsiam","genotype":"simsiam/cifar10_resnet18","options":{"dataset":"cifar10","dataPath":"/nonexistent-nasiam-data"}}""", "options.dataPath")]
    public async Task BadRequests_Are400ProblemsNamingTheField(string body, string field)
    {
        await using var app = new NasiamAppFactory(_data, new ScriptedRunEngine());
        using var c = app.Api();
        var r = await c.PostAsync("/api/comparisons", Json(body));
        var text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.BadRequest, text);
        var errors = JsonDocument.Parse(text).RootElement.GetProperty("errors");
        Assert.True(errors.TryGetProperty(field, out _), $"no error for '{field}' in {text}");
    }

    // A source run's genotype under another framework: said of the source run (it read "A simclr genotype has no
    // 'encoder' field" under genotype, a member the request never gave).
    [Fact]
    public async Task SourceRun_OfAnotherFramework_IsAnErrorOnSourceRunId()
    {
        await using var app = new NasiamAppFactory(_data, new ScriptedRunEngine(totalSteps: 2, stepMilliseconds: 0));
        using var c = app.Api();
        var made = await c.PostAsync("/api/runs", Json("""{"preset":"quick-demo","framework":"simsiam"}"""));
        var search = (await made.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        await NasiamAppFactory.WaitForStatus(c, search, "Succeeded");
        var r = await c.PostAsync("/api/comparisons", Json($$"""{"preset":"quick-demo","framework":"simclr","sourceRunId":"{{search}}"}"""));
        var text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.BadRequest, text);
        var error = Assert.Single(JsonDocument.Parse(text).RootElement.GetProperty("errors").GetProperty("sourceRunId").EnumerateArray()).GetString()!;
        Assert.Contains("searched simsiam heads; its genotype cannot be compared as simclr", error);
    }

    // A source run and no preset: the arms take the recipe the source was queued with (a quick demo's search gave a
    // ResNet-50, 800-epoch comparison that ran a host out of memory), said in a notice; the notices are kept with the
    // comparison (GET and the report), not only in the create response.
    [Fact]
    public async Task SourceRun_WithoutAPreset_GivesTheArmsItsRecipe_AndTheNoticesAreKept()
    {
        await using var app = new NasiamAppFactory(_data, new ScriptedRunEngine(totalSteps: 2, stepMilliseconds: 0));
        using var c = app.Api();
        var made = await c.PostAsync("/api/runs", Json("""{"preset":"quick-demo","framework":"simsiam","kind":"search"}"""));
        var search = (await made.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        await NasiamAppFactory.WaitForStatus(c, search, "Succeeded");
        var source = (await c.GetFromJsonAsync<JsonElement>($"/api/runs/{search}")).GetProperty("options");

        var r = await c.PostAsync("/api/comparisons", Json($$"""{"sourceRunId":"{{search}}","seeds":[0]}"""));
        var text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.Created, text);
        var created = JsonDocument.Parse(text).RootElement;
        Assert.Equal("resnet-tiny", created.GetProperty("backbone").GetString());
        var id = created.GetProperty("id").GetGuid();
        var notice = Assert.Single(created.GetProperty("notices").EnumerateArray().Select(n => n.GetString()!), n => n.StartsWith("preset: none given"));
        Assert.Contains($"the arms take the recipe run {search} (", notice);

        var got = await c.GetFromJsonAsync<JsonElement>($"/api/comparisons/{id}");
        Assert.Contains(notice, got.GetProperty("notices").EnumerateArray().Select(n => n.GetString()));
        Assert.Contains(notice, got.GetProperty("report").GetProperty("notices").EnumerateArray().Select(n => n.GetString()));
        // Its pre-training children run the source's recipe.
        var child = got.GetProperty("children").EnumerateArray().First(ch => ch.GetProperty("role").GetString() == "pretrain").GetProperty("runId").GetGuid();
        var options = (await c.GetFromJsonAsync<JsonElement>($"/api/runs/{child}")).GetProperty("options");
        foreach (var path in new[] { "backbone", "dataset", "syntheticTrainSize" })
            Assert.Equal(source.GetProperty(path).GetRawText(), options.GetProperty(path).GetRawText());
        Assert.Equal(source.GetProperty("pretrain").GetProperty("epochs").GetInt32(), options.GetProperty("pretrain").GetProperty("epochs").GetInt32());
        Assert.Equal(source.GetProperty("heads").GetRawText(), options.GetProperty("heads").GetRawText());
    }

    [Fact]
    public async Task OpenApi_DescribesTheComparisonsEndpoints()
    {
        await using var app = new NasiamAppFactory(_data, new ScriptedRunEngine());
        using var c = app.Api();
        using var doc = JsonDocument.Parse(await c.GetStringAsync("/openapi/v1.json"));
        var paths = doc.RootElement.GetProperty("paths");
        var post = paths.GetProperty("/api/comparisons").GetProperty("post");
        var reference = post.GetProperty("requestBody").GetProperty("content").GetProperty("application/json").GetProperty("schema").GetProperty("$ref").GetString()!;
        var body = doc.RootElement.GetProperty("components").GetProperty("schemas").GetProperty(reference.Split('/')[^1]);
        foreach (var member in new[] { "preset", "framework", "options", "genotype", "sourceRunId", "seeds", "searchSeeds", "device", "name" })
            Assert.True(body.GetProperty("properties").TryGetProperty(member, out _), member);
        foreach (var code in new[] { "201", "400" }) Assert.True(post.GetProperty("responses").TryGetProperty(code, out _), code);
        foreach (var path in new[] { "/api/comparisons/{id}", "/api/comparisons/{id}/cancel", "/api/comparisons/{id}/resume", "/api/comparisons/{id}/files/{name}" })
            Assert.True(paths.TryGetProperty(path, out _), path);
    }

    [Fact]
    public async Task ChildWithoutCheckpoint_FailsTheComparisonWithTheReason_NotTheRequest()
    {
        // The scripted engine writes no checkpoint: however fast its pre-training finishes (even inside
        // the POST that queued it), the comparison ends Failed naming the cause; the POST is 201.
        await using var app = new NasiamAppFactory(_data, new ScriptedRunEngine(totalSteps: 1, stepMilliseconds: 0));
        using var c = app.Api();
        var created = await c.PostAsJsonAsync("/api/comparisons", new { preset = "quick-demo", framework = "simclr", genotype = Genotype, seeds = new[] { 0 } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        JsonElement cmp = default;
        await NasiamAppFactory.WaitUntil(async () => (cmp = await Comparison(c, id)).GetProperty("status").GetString() is "Failed" or "Succeeded",
            TimeSpan.FromSeconds(60), "the comparison to end");
        Assert.Equal("Failed", cmp.GetProperty("status").GetString());
        Assert.Contains("no checkpoint", cmp.GetProperty("message").GetString());
    }

    [Fact]
    public async Task AComparisonAnotherNodeIsAdvancing_IsNotAdvancedHere_UntilItsLeaseIsReleased()
    {
        // Two web nodes share the database and both run a coordinator; the comparison's lease keeps
        // them from creating the same child twice. Here "another node" holds the lease: this node's
        // coordinator leaves the comparison alone (its next step would fail it: the scripted engine
        // writes no checkpoint), and takes it on once the lease is released.
        await using var app = new NasiamAppFactory(_data, new ScriptedRunEngine(totalSteps: 2, stepMilliseconds: 500));
        using var c = app.Api();
        var created = await c.PostAsJsonAsync("/api/comparisons", new { preset = "quick-demo", framework = "simclr", genotype = Genotype, seeds = new[] { 0 } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        var leases = app.Services.GetRequiredService<NASiam.Web.Runs.RunStore>().Leases;
        Assert.True(leases.TryAcquire(id, "other-node", TimeSpan.FromMinutes(5), recordExecution: false));

        await NasiamAppFactory.WaitUntil(async () => Children(await Comparison(c, id)).Count(x => x.Status == "Succeeded") == 2,
            TimeSpan.FromSeconds(60), "both pre-trainings to finish");
        await Task.Delay(TimeSpan.FromSeconds(7)); // past the coordinator's wake-ups (status changes and its 5 s tick)
        var held = await Comparison(c, id);
        Assert.NotEqual("Failed", held.GetProperty("status").GetString());
        Assert.Equal(2, Children(held).Count());

        leases.Release(id, "other-node");
        JsonElement cmp = default;
        await NasiamAppFactory.WaitUntil(async () => (cmp = await Comparison(c, id)).GetProperty("status").GetString() == "Failed",
            TimeSpan.FromSeconds(30), "this node to advance the comparison once the lease is free");
        Assert.Contains("no checkpoint", cmp.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Cancel_WhileAChildIsStillStopping_ReadsCancellingUntilEveryChildEnded_ThenCancelled()
    {
        // Each cancelled child takes 3 s to stop (a real one checkpoints, or builds its model first).
        await using var app = new NasiamAppFactory(_data, new ScriptedRunEngine(totalSteps: 400, stepMilliseconds: 40, stopMilliseconds: 3000));
        using var c = app.Api();
        var created = await c.PostAsJsonAsync("/api/comparisons", new { preset = "quick-demo", framework = "simclr", genotype = Genotype, seeds = new[] { 0 } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        await NasiamAppFactory.WaitUntil(async () => Children(await Comparison(c, id)).Any(x => x.Status == "Running"),
            TimeSpan.FromSeconds(30), "a child to run");

        Assert.Equal(HttpStatusCode.Accepted, (await c.PostAsync($"/api/comparisons/{id}/cancel", null)).StatusCode);
        var cmp = await Comparison(c, id);
        Assert.Contains(Children(cmp), x => x.Status == "Running");
        Assert.NotEqual("Cancelled", cmp.GetProperty("status").GetString());
        Assert.StartsWith("Cancelling: waiting for 1 child run(s) to stop", cmp.GetProperty("message").GetString());
        // Cancelling again is still accepted; resuming is not (it has not stopped yet).
        Assert.Equal(HttpStatusCode.Accepted, (await c.PostAsync($"/api/comparisons/{id}/cancel", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await c.PostAsync($"/api/comparisons/{id}/resume", null)).StatusCode);

        await NasiamAppFactory.WaitUntil(async () => (cmp = await Comparison(c, id)).GetProperty("status").GetString() == "Cancelled",
            TimeSpan.FromSeconds(30), "the comparison to read Cancelled");
        Assert.All(Children(cmp), x => Assert.True(x.Status is "Succeeded" or "Cancelled", $"{x.Role}/{x.Arm}: {x.Status}"));
        Assert.StartsWith("Cancelled;", cmp.GetProperty("message").GetString());
    }

    static async Task<JsonElement> Comparison(HttpClient c, Guid id) => await c.GetFromJsonAsync<JsonElement>($"/api/comparisons/{id}");

    static IEnumerable<(Guid RunId, string Role, string Arm, int Seed, string Status)> Children(JsonElement cmp) =>
        cmp.GetProperty("children").EnumerateArray().Select(x => (x.GetProperty("runId").GetGuid(), x.GetProperty("role").GetString()!,
            x.GetProperty("arm").GetString()!, x.GetProperty("seed").GetInt32(), x.GetProperty("status").GetString()!));

    // A comparison's status was written by the coordinator after its child had started: the page and the API read
    // "Queued" over a running child for up to a coordinator tick. An active comparison now reads the status its
    // children give (the coordinator's own rule), whatever was stored before it advanced.
    [Fact]
    public async Task AChildRunningBeforeTheCoordinatorAdvanced_TheComparisonReadsRunning_OnTheApiListAndPage()
    {
        await using var app = new NasiamAppFactory(_data, new ScriptedRunEngine(totalSteps: 400, stepMilliseconds: 40));
        using var c = app.Api();
        var created = await c.PostAsJsonAsync("/api/comparisons", new { preset = "quick-demo", framework = "simclr", genotype = Genotype, seeds = new[] { 0 } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        await NasiamAppFactory.WaitUntil(async () => Children(await Comparison(c, id)).Any(x => x.Status == "Running"), TimeSpan.FromSeconds(30), "a child to run");
        // As between a child's start and the coordinator's next advance: stored Queued (another node holds the lease).
        var leases = app.Services.GetRequiredService<NASiam.Web.Runs.RunStore>().Leases;
        await NasiamAppFactory.WaitUntil(() => Task.FromResult(leases.TryAcquire(id, "other-node", TimeSpan.FromMinutes(5), recordExecution: false)),
            TimeSpan.FromSeconds(30), "the comparison's lease");
        var store = app.Services.GetRequiredService<NASiam.Web.Runs.ComparisonStore>();
        store.SetStatus(id, NASiam.Web.Runs.RunStatus.Queued, null, finished: false);

        var cmp = await Comparison(c, id);
        Assert.Contains(Children(cmp), x => x.Status == "Running");
        Assert.Equal("Running", cmp.GetProperty("status").GetString());
        Assert.Equal("running", cmp.GetProperty("report").GetProperty("status").GetString());
        var listed = (await c.GetFromJsonAsync<JsonElement>("/api/comparisons")).EnumerateArray().Single(x => x.GetProperty("id").GetGuid() == id);
        Assert.Equal("Running", listed.GetProperty("status").GetString());
        await using var ctx = NASiam.Web.Tests.Components.Bunit.Context();
        ctx.Services.AddFallbackServiceProvider(app.Services);
        var page = ctx.Render<NASiam.Web.Components.Pages.ComparisonDetail>(p => p.Add(x => x.Id, id));
        Assert.Equal("Running", page.Find("#comparison-status").TextContent.Trim());
        // Reading wrote nothing: the coordinator's next advance writes the same rule.
        Assert.Equal(NASiam.Web.Runs.RunStatus.Queued, store.Get(id)!.Status);
        Assert.Equal(NASiam.Web.Runs.RunStatus.Running, NASiam.Web.Jobs.ComparisonService.ActiveStatus([NASiam.Web.Runs.RunStatus.Running, NASiam.Web.Runs.RunStatus.Queued]));
        Assert.Equal(NASiam.Web.Runs.RunStatus.Queued, NASiam.Web.Jobs.ComparisonService.ActiveStatus([NASiam.Web.Runs.RunStatus.Queued, NASiam.Web.Runs.RunStatus.Cancelled]));
        leases.Release(id, "other-node");
        Assert.Equal(HttpStatusCode.Accepted, (await c.PostAsync($"/api/comparisons/{id}/cancel", null)).StatusCode);
    }

    // The child-run table listed a seed's linear evaluation before its pre-training (stored order: seed, role, arm
    // alphabetically). Children now come by seed, pipeline stage (search, pretrain, lincls), then arm (genotype,
    // standard); a child stored under the standard arm's old name 'baseline' reads as 'standard'.
    [Fact]
    public async Task Children_AreListedBySeedThenPipelineStageThenArm()
    {
        await using var app = new NasiamAppFactory(_data, new ScriptedRunEngine(totalSteps: 400, stepMilliseconds: 40));
        using var c = app.Api();
        var created = await c.PostAsJsonAsync("/api/comparisons", new { preset = "quick-demo", framework = "simclr", genotype = Genotype, seeds = new[] { 0, 1 } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        var leases = app.Services.GetRequiredService<NASiam.Web.Runs.RunStore>().Leases;
        await NasiamAppFactory.WaitUntil(() => Task.FromResult(leases.TryAcquire(id, "other-node", TimeSpan.FromMinutes(5), recordExecution: false)),
            TimeSpan.FromSeconds(30), "the comparison's lease");
        var store = app.Services.GetRequiredService<NASiam.Web.Runs.ComparisonStore>();
        Assert.Equal(4, store.Children(id).Count); // both arms' pre-trainings of seeds 0 and 1
        // Linear evaluations as the coordinator adds them (their runs need not exist for the order); one under the old arm name.
        foreach (var (arm, seed) in new[] { ("genotype", 1), ("baseline", 0), ("genotype", 0) })
            store.AddChild(new NASiam.Web.Runs.ComparisonChild(id, "lincls", arm, seed, Guid.NewGuid()));

        string[] expected =
        [
            "0 pretrain genotype", "0 pretrain standard", "0 lincls genotype", "0 lincls standard",
            "1 pretrain genotype", "1 pretrain standard", "1 lincls genotype",
        ];
        Assert.Equal(expected, Children(await Comparison(c, id)).Select(x => $"{x.Seed} {x.Role} {x.Arm}"));
        await using var ctx = NASiam.Web.Tests.Components.Bunit.Context();
        ctx.Services.AddFallbackServiceProvider(app.Services);
        var page = ctx.Render<NASiam.Web.Components.Pages.ComparisonDetail>(p => p.Add(x => x.Id, id));
        Assert.Equal(expected, page.FindAll("#comparison-children tbody tr").Select(tr =>
        {
            var td = tr.QuerySelectorAll("td");
            return $"{td[2].TextContent.Trim()} {td[0].TextContent.Trim()} {td[1].TextContent.Trim()}";
        }));
        leases.Release(id, "other-node");
        await c.PostAsync($"/api/comparisons/{id}/cancel", null);
    }

    // comparison.csv named the standard arm 'baseline' where the page and comparison.json said 'standard'. One name
    // everywhere: the live report's JSON and CSV, the children, and a report written before the rename, served anew.
    [Fact]
    public async Task TheJsonTheCsvAndTheChildren_NameTheArmsAlike_EvenForAReportWrittenBeforeTheRename()
    {
        await using var app = new NasiamAppFactory(_data, new ScriptedRunEngine(totalSteps: 400, stepMilliseconds: 40));
        using var c = app.Api();
        var created = await c.PostAsJsonAsync("/api/comparisons", new { preset = "quick-demo", framework = "simclr", genotype = Genotype, seeds = new[] { 0 } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        var leases = app.Services.GetRequiredService<NASiam.Web.Runs.RunStore>().Leases;
        await NasiamAppFactory.WaitUntil(() => Task.FromResult(leases.TryAcquire(id, "other-node", TimeSpan.FromMinutes(5), recordExecution: false)),
            TimeSpan.FromSeconds(30), "the comparison's lease");

        static string[] CsvArms(string csv) => csv.Trim().Split('\n').Skip(1).Select(l => l.Split(',')[1]).ToArray();
        static string[] JsonArms(string json) => JsonDocument.Parse(json).RootElement.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("arm").GetString()!).ToArray();
        var live = (Json: await c.GetStringAsync($"/api/comparisons/{id}/files/comparison.json"), Csv: await c.GetStringAsync($"/api/comparisons/{id}/files/comparison.csv"));
        Assert.Equal(["genotype", "standard"], JsonArms(live.Json));
        Assert.Equal(JsonArms(live.Json), CsvArms(live.Csv));
        Assert.Equal(["genotype", "standard"], Children(await Comparison(c, id)).Select(x => x.Arm));

        // A finished comparison whose files were written with the old name: served with the one name, in both files and GET.
        var service = app.Services.GetRequiredService<NASiam.Web.Jobs.ComparisonService>();
        var dir = service.Directory(id);
        Directory.CreateDirectory(dir);
        var old = ComparisonReport.FromJson(live.Json) with { Status = "succeeded" };
        File.WriteAllText(Path.Combine(dir, ComparisonReport.JsonFile), old.ToJson().Replace("\"arm\": \"standard\"", "\"arm\": \"baseline\""));
        File.WriteAllText(Path.Combine(dir, ComparisonReport.CsvFile), "seed,arm\n0,genotype\n0,baseline\n");
        Assert.Contains("\"arm\": \"baseline\"", File.ReadAllText(Path.Combine(dir, ComparisonReport.JsonFile)));
        app.Services.GetRequiredService<NASiam.Web.Runs.ComparisonStore>().SetStatus(id, NASiam.Web.Runs.RunStatus.Succeeded, "done", finished: true);
        var json = await c.GetStringAsync($"/api/comparisons/{id}/files/comparison.json");
        var csv = await c.GetStringAsync($"/api/comparisons/{id}/files/comparison.csv");
        Assert.Equal(["genotype", "standard"], JsonArms(json));
        Assert.Equal(JsonArms(json), CsvArms(csv));
        Assert.Equal(["genotype", "standard"], (await Comparison(c, id)).GetProperty("report").GetProperty("results").EnumerateArray().Select(r => r.GetProperty("arm").GetString()));
        leases.Release(id, "other-node");
        foreach (var ch in Children(await Comparison(c, id))) await c.PostAsync($"/api/runs/{ch.RunId}/cancel", null);
    }

    [Fact]
    public async Task TinyComparison_RealEngine_TrainsBothArms_CancelResumeKeepsFinishedChildren_AndWritesComparisonJson()
    {
        await using var app = new NasiamAppFactory(_data, engine: null, settings: new Dictionary<string, string> { ["Nasiam:RunIsolation"] = "inprocess" });
        using var c = app.Api();
        var body = """
            {"preset":"quick-demo","framework":"simclr","seeds":[0,1],"name":"tiny compare","genotype":"GENOTYPE",
             "options":{"syntheticTrainSize":256,"maxStepsPerStage":3,"heads":{"dim":32,"predDim":16},
                        "pretrain":{"epochs":1,"batchSize":32,"knnK":5},"linear":{"epochs":1,"batchSize":32}}}
            """.Replace("GENOTYPE", Genotype);
        var created = await c.PostAsync("/api/comparisons", Json(body));
        var createdText = await created.Content.ReadAsStringAsync();
        Assert.True(created.StatusCode == HttpStatusCode.Created, createdText);
        var id = JsonDocument.Parse(createdText).RootElement.GetProperty("id").GetGuid();

        // Mid-way: once the first child has finished, cancel the comparison.
        JsonElement cmp = default;
        await NasiamAppFactory.WaitUntil(async () => Children(cmp = await Comparison(c, id)).Any(x => x.Status == "Succeeded"),
            TimeSpan.FromSeconds(120), "a first child to finish");
        Assert.Equal(HttpStatusCode.Accepted, (await c.PostAsync($"/api/comparisons/{id}/cancel", null)).StatusCode);
        await NasiamAppFactory.WaitUntil(async () => Children(cmp = await Comparison(c, id)).All(x => x.Status is "Succeeded" or "Cancelled"),
            TimeSpan.FromSeconds(60), "the children to stop");
        // The comparison reads Cancelled once its coordinator saw the last child stop.
        await NasiamAppFactory.WaitUntil(async () => (cmp = await Comparison(c, id)).GetProperty("status").GetString() == "Cancelled",
            TimeSpan.FromSeconds(15), "the comparison to read Cancelled");
        var finishedBefore = new Dictionary<Guid, (DateTimeOffset? At, int Attempts)>();
        foreach (var ch in Children(cmp).Where(x => x.Status == "Succeeded"))
        {
            var run = await NasiamAppFactory.RunJson(c, ch.RunId);
            finishedBefore[ch.RunId] = (run.GetProperty("finishedAt").GetDateTimeOffset(), 1);
        }
        Assert.NotEmpty(finishedBefore);
        Assert.True(Children(cmp).Count() < 8, "the comparison had finished before the cancel; nothing was tested");

        Assert.Equal(HttpStatusCode.Accepted, (await c.PostAsync($"/api/comparisons/{id}/resume", null)).StatusCode);
        await NasiamAppFactory.WaitUntil(async () => (cmp = await Comparison(c, id)).GetProperty("status").GetString() is "Succeeded" or "Failed",
            TimeSpan.FromSeconds(300), "the comparison to finish");
        Assert.True(cmp.GetProperty("status").GetString() == "Succeeded", cmp.GetProperty("message").ToString());

        // Children: per seed and arm one pre-training and one linear evaluation; lineage lincls -> pretrain.
        var children = Children(cmp).ToArray();
        Assert.Equal(8, children.Length);
        foreach (var seed in new[] { 0, 1 })
            foreach (var arm in ComparisonArms.All)
            {
                var pre = children.Single(x => x.Role == "pretrain" && x.Arm == arm && x.Seed == seed);
                var lin = children.Single(x => x.Role == "lincls" && x.Arm == arm && x.Seed == seed);
                var linRun = await NasiamAppFactory.RunJson(c, lin.RunId);
                Assert.Equal(pre.RunId, linRun.GetProperty("parentId").GetGuid());
                Assert.Equal("lincls", linRun.GetProperty("kind").GetString());
            }

        // Finished children were not re-run by the resume: same finish time, no second attempt.
        foreach (var (runId, before) in finishedBefore)
        {
            var run = await NasiamAppFactory.RunJson(c, runId);
            Assert.Equal(before.At, run.GetProperty("finishedAt").GetDateTimeOffset());
            var starts = (await NasiamAppFactory.Events(c, runId, "stage_started")).Count;
            Assert.Equal(1, starts);
        }

        // The arms differ only in the heads: identical recipe and seed; the standard arm trains the standard heads, the genotype arm the genotype.
        var g0 = children.Single(x => x.Role == "pretrain" && x.Arm == "genotype" && x.Seed == 1).RunId;
        var b0 = children.Single(x => x.Role == "pretrain" && x.Arm == "standard" && x.Seed == 1).RunId;
        var gOpt = RunOptions.FromJson((await c.GetFromJsonAsync<JsonElement>($"/api/runs/{g0}")).GetProperty("options").GetRawText());
        var bOpt = RunOptions.FromJson((await c.GetFromJsonAsync<JsonElement>($"/api/runs/{b0}")).GetProperty("options").GetRawText());
        Assert.Equal(1, gOpt.Seed);
        Assert.Equal("standard", bOpt.Pretrain.Genotype);
        Assert.Equal(bOpt with { Name = null, Pretrain = bOpt.Pretrain with { Genotype = null } }, gOpt with { Name = null, Pretrain = gOpt.Pretrain with { Genotype = null } });
        AssertHeads(Path.Combine(_data, "runs", g0.ToString("N"), "checkpoints", "pretrain.ckpt"), gOpt, GenotypeText.Parse(Genotype));
        AssertHeads(Path.Combine(_data, "runs", b0.ToString("N"), "checkpoints", "pretrain.ckpt"), bOpt, null);

        // comparison.json: complete, both arms for both seeds, statistics with a CI (2 seeds).
        var json = await c.GetStringAsync($"/api/comparisons/{id}/files/comparison.json");
        var report = ComparisonReport.FromJson(json);
        Assert.True(report.Complete);
        Assert.Equal(4, report.Results.Count);
        Assert.All(report.Results, r =>
        {
            Assert.NotNull(r.LinclsTop1);
            Assert.NotNull(r.LinclsTop5);
            Assert.NotNull(r.KnnTop1);
            Assert.NotNull(r.PretrainSeconds);
            Assert.NotNull(r.ImagesPerSecond);
            Assert.NotEmpty(r.KnnCurve);
        });
        var top1 = report.Metrics.Single(m => m.Name == "lincls_top1");
        Assert.Equal(2, top1.Difference!.N);
        Assert.NotNull(top1.Difference.Lower);
        var expected = report.Results.Where(r => r.Arm == "genotype").OrderBy(r => r.Seed).Zip(report.Results.Where(r => r.Arm == "standard").OrderBy(r => r.Seed))
            .Average(p => p.First.LinclsTop1!.Value - p.Second.LinclsTop1!.Value);
        Assert.Equal(expected, top1.Difference.Mean, 9);
        Assert.True(File.Exists(Path.Combine(_data, "comparisons", id.ToString("N"), "comparison.json")));
        var csv = await c.GetStringAsync($"/api/comparisons/{id}/files/comparison.csv");
        Assert.Equal(5, csv.Trim().Split('\n').Length);
    }

    /// <summary>
    /// The checkpoint's model has exactly the parameters of a model built with <paramref name="genotype"/>
    /// (null = the standard heads), and that differs from the other arm's heads.
    /// </summary>
    static void AssertHeads(string checkpoint, RunOptions options, Genotype? genotype)
    {
        using var trained = CheckpointExport.LoadModel(checkpoint);
        using var expected = ModelBuilder.Create(options, false, genotype, CPU, ModelBuilder.CifarStem(options), options.Seed);
        using var other = ModelBuilder.Create(options, false, genotype is null ? GenotypeText.Parse(Genotype) : null, CPU, ModelBuilder.CifarStem(options), options.Seed);
        static string[] Heads(TorchSharp.torch.nn.Module m, TorchSharp.torch.nn.Module backbone)
        {
            var bb = backbone.parameters().Select(p => p.Handle).ToHashSet();
            return m.named_parameters().Where(p => !bb.Contains(p.parameter.Handle)).Select(p => $"{p.name}:{string.Join("x", p.parameter.shape)}").Order().ToArray();
        }
        var actual = Heads(trained, trained.Backbone);
        Assert.Equal(Heads(expected, expected.Backbone), actual);
        Assert.NotEqual(Heads(other, other.Backbone), actual);
        var state = CheckpointStore.ReadState(checkpoint);
        Assert.Equal(genotype is null, state.GenotypeText is null);
        if (genotype is not null) Assert.True(GenotypeText.Parse(state.GenotypeText!).SameAs(genotype));
    }

    public void Dispose()
    {
        try { Directory.Delete(_data, true); } catch (IOException) { }
    }
}

using Microsoft.Extensions.DependencyInjection;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using NASiam.Core.Genotypes;
using NASiam.Core.Options;
using NASiam.Web.Runs;
using NASiam.Web.Tests.Fakes;

namespace NASiam.Web.Tests.Api;

public class RunsApiTests : IAsyncLifetime
{
    readonly string _data = Directory.CreateTempSubdirectory("nasiam-api-").FullName;
    NasiamAppFactory _app = null!;
    HttpClient _c = null!;

    public Task InitializeAsync()
    {
        _app = new NasiamAppFactory(_data, new ScriptedRunEngine(totalSteps: 12, stepMilliseconds: 5));
        _c = _app.Api();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Create_QuickDemo_RunsToSuccessAndServesGenotypeAndCheckpoint()
    {
        var id = await NasiamAppFactory.CreateQuickDemo(_c);
        var run = await NasiamAppFactory.WaitForStatus(_c, id, "Succeeded");
        Assert.Equal(1.0, run.GetProperty("progress").GetDouble());
        Assert.Equal("knn top-1", run.GetProperty("bestMetricName").GetString());

        var steps = await NasiamAppFactory.Events(_c, id, "step");
        Assert.Equal(Enumerable.Range(1, 12).Select(i => (long?)i), steps.Select(s => s.Step));

        var txt = await _c.GetStringAsync($"/api/runs/{id}/genotype?format=txt");
        var g = GenotypeText.Parse(txt, NASiam.Core.Framework.SimSiam);
        var json = await _c.GetStringAsync($"/api/runs/{id}/genotype?format=json");
        Assert.True(GenotypeJson.Parse(json).SameAs(g));

        var list = await _c.GetFromJsonAsync<JsonElement>($"/api/runs/{id}/files");
        var names = list.EnumerateArray().Select(e => e.GetProperty("name").GetString()!).ToList();
        Assert.Contains("checkpoints/step-0012.ckpt", names);
        var bytes = await _c.GetByteArrayAsync($"/api/runs/{id}/files/checkpoints/step-0012.ckpt");
        Assert.Equal(File.ReadAllBytes(Path.Combine(_data, "runs", id.ToString("N"), "checkpoints", "step-0012.ckpt")), bytes);
        // The listed name escaped as one path segment (Uri.EscapeDataString) names the same file.
        Assert.Equal(bytes, await _c.GetByteArrayAsync($"/api/runs/{id}/files/{Uri.EscapeDataString("checkpoints/step-0012.ckpt")}"));
        // The old name of /files still answers, alike.
        Assert.Equal(list.GetRawText(), (await _c.GetFromJsonAsync<JsonElement>($"/api/runs/{id}/checkpoints")).GetRawText());
        Assert.Equal(bytes, await _c.GetByteArrayAsync($"/api/runs/{id}/checkpoints/checkpoints/step-0012.ckpt"));

        var library = await _c.GetFromJsonAsync<JsonElement>("/api/genotypes");
        Assert.Contains(library.EnumerateArray(), e => e.GetProperty("source").GetString() == "discovered" && e.GetProperty("text").GetString() == txt);
    }

    // The library never lags the status: a client told "Succeeded" (the run page, the hub, a poll)
    // that opens the library at once finds the discovered genotype. It used to be added after the
    // status was written and published, which failed CI once.
    [Fact]
    public async Task Succeeded_IsPublishedOnlyOnceTheDiscoveredGenotypeIsInTheLibrary()
    {
        _ = _app.Server; // builds the host
        var store = _app.Services.GetRequiredService<NASiam.Web.Runs.RunStore>();
        var seen = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var sub = _app.Services.GetRequiredService<NASiam.Web.Runs.RunNotificationService>().Subscribe(null, u =>
        {
            if (u.Record is { Status: NASiam.Web.Runs.RunStatus.Succeeded } r)
                seen.TrySetResult(store.Genotypes().Any(g => g.RunId == r.Id && g.Source == "discovered" && g.Text == r.GenotypeText));
            return Task.CompletedTask;
        });
        await NasiamAppFactory.CreateQuickDemo(_c);
        Assert.True(await seen.Task.WaitAsync(TimeSpan.FromSeconds(30)), "Succeeded was published before the discovered genotype was in the library");
    }

    [Theory]
    [InlineData("{not json", "body")]
    [InlineData("""{"preset":"no-such-preset"}""", "preset")]
    [InlineData("""{"preset":"quick-demo","device":"cuda:7"}""", "device")]
    [InlineData("""{"options":{"kind":"search","search":{"epochs":0,"batchSize":1}}}""", "options.search.epochs")]
    [InlineData("""{"options":{"backbone":"vgg"}}""", "options.backbone")]
    [InlineData("""{"preset":"quick-demo","batchSize":-1}""", "batchSize")]
    [InlineData("""{"preset":"quick-demo","options":{"search":{"epoch":2}}}""", "options.search.epoch")]
    [InlineData("""{"preset":"quick-demo","options":{"search":5}}""", "options.search")]
    [InlineData("""{"preset":"quick-demo","options":{"search":{"epochs":"two"}}}""", "options.search.epochs")]
    [InlineData("""{"preset":"simsiam-cifar10","framework":"moco"}""", "preset")]
    [InlineData("""{"preset":"quick-demo","framework":"byol"}""", "framework")]
    [InlineData("""{"preset":"quick-demo","kind":"pretrain","genotype":"/etc/passwd"}""", "options.pretrain.genotype")]
    [InlineData("""{"preset":"quick-demo","kind":"evaluate"}""", "kind")]
    [InlineData("{\"preset\":\"quick-demo\",\"name\":\"" + "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn" + "\"}", "name")]
    // A member given twice inside options: System.Text.Json would fail on first access (a server error);
    // names match case-insensitively, as the options' merge matches them.
    [InlineData("""{"preset":"quick-demo","options":{"seed":1,"Seed":2}}""", "options.Seed")]
    [InlineData("""{"preset":"quick-demo","kind":"lincls","options":{"linear":{"epochs":1},"linear":{"epochs":2}}}""", "options.linear")]
    [InlineData("""{"preset":"quick-demo","options":{"search":{"epochs":1,"epochs":2}}}""", "options.search.epochs")]
    // The request's kind and its options' kind disagree (as framework does): not silently the options'.
    [InlineData("""{"preset":"quick-demo","kind":"search","options":{"kind":"pretrain"}}""", "kind")]
    // A search or a linear evaluation pre-trains no heads: a genotype would be stored and never used.
    [InlineData("""{"preset":"quick-demo","kind":"search","genotype":"standard"}""", "genotype")]
    // No server file paths through the web, for checkpoints as for genotypes.
    [InlineData("""{"preset":"quick-demo","kind":"lincls","options":{"linear":{"checkpoint":"/etc/passwd"}}}""", "options.linear.checkpoint")]
    // A whole section set to null became the record's defaults (SimSiam's recipe, whatever the preset).
    [InlineData("""{"preset":"quick-demo","options":{"search":null}}""", "options.search")]
    // A top-level member given as null read as left out ("options": null ran the preset's options).
    [InlineData("""{"preset":"quick-demo","options":null}""", "options")]
    [InlineData("""{"preset":"quick-demo","genotype":null,"kind":"pretrain"}""", "genotype")]
    // The body's device and the options' device disagree: neither silently wins.
    [InlineData("""{"preset":"quick-demo","device":"cpu","options":{"device":"auto"}}""", "device")]
    // Larger than the synthetic set's search split: refused here, not failed at the run's start.
    [InlineData("""{"preset":"quick-demo","options":{"search":{"batchSize":65536}}}""", "options.search.batchSize")]
    // A data folder this node cannot find: refused here (it was queued and failed at its start).
    [InlineData("""{"preset":"quick-demo","options":{"dataset":"cifar10","dataPath":"/nonexistent-nasiam-data"}}""", "options.dataPath")]
    [InlineData("""{"preset":"quick-demo","options":{"dataset":"folder","dataPath":"/etc"}}""", "options.dataPath")]
    public async Task Create_BadPayload_Returns400NamingTheField(string body, string field)
    {
        var r = await _c.PostAsync("/api/runs", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        var problem = await r.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), await r.Content.ReadAsStringAsync());
    }

    // A value of the wrong type says what the member expects and what it got, never a .NET type name (the
    // body's members used to report the request type, "could not be converted to
    // NASiam.Web.Api.CreateRunRequest"); a whole number too large for its option gets the option's range,
    // as one inside the type does (it used to read "has a value of the wrong type").
    [Theory]
    [InlineData("""{"preset":5}""", "preset", "expected a string, got 5")]
    [InlineData("""{"preset":"quick-demo","parentId":"not-a-guid"}""", "parentId", "expected a GUID string, got \"not-a-guid\"")]
    [InlineData("""{"preset":"quick-demo","options":{"search":{"epochs":99999999999}}}""", "options.search.epochs", "must be between 1 and 100000; got 99999999999")]
    [InlineData("""{"preset":"quick-demo","options":{"search":{"epochs":-99999999999}}}""", "options.search.epochs", "must be between 1 and 100000; got -99999999999")]
    [InlineData("""{"preset":"quick-demo","options":{"search":{"epochs":"two"}}}""", "options.search.epochs", "expected a whole number from -2147483648 to 2147483647, got \"two\"")]
    [InlineData("""{"preset":"quick-demo","options":{"search":{"epochs":1.5}}}""", "options.search.epochs", "expected a whole number from -2147483648 to 2147483647, got 1.5")]
    public async Task Create_WrongType_SaysWhatTheMemberExpects(string body, string field, string message)
    {
        var r = await _c.PostAsync("/api/runs", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        var text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.BadRequest, text);
        var errors = JsonDocument.Parse(text).RootElement.GetProperty("errors");
        Assert.True(errors.TryGetProperty(field, out var messages), text);
        Assert.Equal(message, Assert.Single(messages.EnumerateArray()).GetString());
        Assert.DoesNotContain("NASiam.", text);
        Assert.DoesNotContain("System.", text);
    }

    // The dashboard's and the API's door lists an image folder before queueing (an executing node sees it): a class folder
    // without an image, or a search batch the folder's class-balanced quarter cannot fill, is a 400 naming the field
    // (both were queued and failed at the run's start); a folder with the synthetic set is refused (it was stored, unread).
    [Fact]
    public async Task Create_WithAnImageFolderThatCannotServeTheRun_Is400NamingTheField()
    {
        var root = Path.Combine(_data, "folder-set");
        foreach (var split in new[] { "train", "val" })
            foreach (var c in new[] { "a", "b", "c", "d" })
            {
                Directory.CreateDirectory(Path.Combine(root, split, c));
                for (int i = 0; i < 20; i++) File.WriteAllBytes(Path.Combine(root, split, c, $"{i}.png"), [0]);
            }
        string Body(string extra) => JsonSerializer.Serialize(new { preset = "quick-demo", kind = "search", options = JsonNode.Parse($$"""{"dataset":"folder","dataPath":{{JsonSerializer.Serialize(root)}}{{extra}}}""") });
        async Task<(string Field, string Message)> Error(string body)
        {
            var r = await _c.PostAsync("/api/runs/preview", Json(body));
            var text = await r.Content.ReadAsStringAsync();
            Assert.True(r.StatusCode == HttpStatusCode.BadRequest, text);
            var member = Assert.Single(JsonDocument.Parse(text).RootElement.GetProperty("errors").EnumerateObject());
            return (member.Name, member.Value[0].GetString()!);
        }
        var batch = await Error(Body(""","search":{"batchSize":16,"trainPortion":0.5}"""));
        Assert.Equal("options.search.batchSize", batch.Field);
        Assert.StartsWith("16 is more than the 8 images of the search's weight split (a search on an image folder draws a class-balanced quarter of its 80 train images", batch.Message);
        Assert.Equal(HttpStatusCode.OK, (await _c.PostAsync("/api/runs/preview", Json(Body(""","search":{"batchSize":8,"trainPortion":0.5}""")))).StatusCode);

        Directory.CreateDirectory(Path.Combine(root, "train", "empty"));
        var empty = await Error(Body(""","search":{"batchSize":8,"trainPortion":0.5}"""));
        Assert.Equal("options.dataPath", empty.Field);
        Assert.Contains("holds no image", empty.Message);
        Assert.Equal(HttpStatusCode.BadRequest, (await _c.PostAsync("/api/runs", Json(Body(""","search":{"batchSize":8,"trainPortion":0.5}""")))).StatusCode);
        Assert.Empty((await _c.GetFromJsonAsync<JsonElement>("/api/runs")).EnumerateArray());

        var synthetic = await Error("""{"preset":"quick-demo","options":{"dataPath":"/data/mine"}}""");
        Assert.Equal(("options.dataPath", true), (synthetic.Field, synthetic.Message.Contains("reads no folder")));
    }

    // A comparison preset named as a run's preset: the API's answer names the API's way to queue it, not only the CLI's.
    [Fact]
    public async Task Create_WithAComparisonPreset_SaysToQueueItAsAComparison()
    {
        var r = await _c.PostAsync("/api/runs", new StringContent("""{"preset":"quick-compare"}""", System.Text.Encoding.UTF8, "application/json"));
        var text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.BadRequest, text);
        var message = Assert.Single(JsonDocument.Parse(text).RootElement.GetProperty("errors").GetProperty("preset").EnumerateArray()).GetString();
        Assert.Contains("is a comparison preset", message);
        Assert.Contains("POST /api/comparisons", message);
    }

    // A member name that does not decode (an unpaired escaped surrogate) is a client error, never a 500.
    [Theory]
    [InlineData("""{"\ud800":1}""")]
    [InlineData("""{"preset":"quick-demo","options":{"\ud800":1}}""")]
    public async Task Create_UndecodableMemberName_Is400(string body)
    {
        var r = await _c.PostAsync("/api/runs", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        Assert.True(r.StatusCode == HttpStatusCode.BadRequest, $"{(int)r.StatusCode}: {await r.Content.ReadAsStringAsync()}");
    }

    // Check E: a lone surrogate in a value (not a name) was a 500 with a stack trace: the error's own message re-read it.
    [Theory]
    [InlineData("/api/runs", """{"preset":"quick-demo","name":"\ud800"}""", "name")]
    [InlineData("/api/runs/preview", """{"preset":"\udc00"}""", "preset")]
    [InlineData("/api/runs", """{"preset":"quick-demo","options":{"search":{"optimizer":"\ud800"}}}""", "options.search.optimizer")]
    [InlineData("/api/comparisons", """{"preset":"quick-compare","name":"\ud800"}""", "name")]
    public async Task ALoneSurrogateInAValue_Is400NamingTheField(string url, string body, string field)
    {
        var r = await _c.PostAsync(url, new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        var text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.BadRequest, $"{(int)r.StatusCode}: {text}");
        var errors = JsonDocument.Parse(text).RootElement.GetProperty("errors");
        Assert.True(errors.TryGetProperty(field, out var messages), text);
        Assert.Contains("surrogate", messages[0].GetString());
    }

    /// <summary>Creates a run from a raw body and returns the options the run was stored with.</summary>
    async Task<JsonElement> CreatedOptions(string body)
    {
        var r = await _c.PostAsync("/api/runs", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        Assert.True(r.StatusCode == HttpStatusCode.Created, $"{(int)r.StatusCode}: {await r.Content.ReadAsStringAsync()}");
        var id = (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        return (await _c.GetFromJsonAsync<JsonElement>($"/api/runs/{id}")).GetProperty("options");
    }

    [Fact]
    public async Task Metrics_UnknownEventType_Is400NamingIt_NotAnEmptyList()
    {
        var id = await NasiamAppFactory.CreateQuickDemo(_c);
        var r = await _c.GetAsync($"/api/runs/{id}/metrics?types=step,stepz");
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        var body = await r.Content.ReadAsStringAsync();
        Assert.Contains("stepz", body);
        Assert.Contains("run_started", body); // the known types are listed
    }

    [Fact]
    public async Task Create_PipelinePreset_PretrainsTheSearchedGenotype()
    {
        // The data folder must be found where runs execute: a CIFAR layout folder (empty: nothing is read before the run).
        var cifar = Path.Combine(_data, "cifar");
        Directory.CreateDirectory(Path.Combine(cifar, "cifar-10-batches-bin"));
        var o = await CreatedOptions($$$"""{"preset":"simsiam-cifar10","options":{"dataPath":"{{{cifar}}}"}}""");
        Assert.Equal("pipeline", o.GetProperty("kind").GetString());
        Assert.Equal("searched", o.GetProperty("pretrain").GetProperty("genotype").GetString());
        Assert.Equal("simsiam", o.GetProperty("framework").GetString());
        Assert.Equal("cifar10", o.GetProperty("dataset").GetString());
    }

    [Fact]
    public async Task Create_PresetFrameworkAndPartialOptions_AllTakeEffect()
    {
        // Was: options present → preset and framework dropped, a SimSiam ResNet-18 pipeline on synthetic.
        var o = await CreatedOptions("""{"preset":"quick-demo","framework":"simclr","options":{"kind":"pipeline","pretrain":{"epochs":2}}}""");
        var demo = NASiam.Core.Options.RunPresets.Get("quick-demo", NASiam.Core.Framework.SimClr);
        Assert.Equal("simclr", o.GetProperty("framework").GetString());
        Assert.Equal("resnet-tiny", o.GetProperty("backbone").GetString());
        Assert.Equal("synthetic", o.GetProperty("dataset").GetString());
        Assert.Equal("pipeline", o.GetProperty("kind").GetString());
        Assert.Equal(2, o.GetProperty("pretrain").GetProperty("epochs").GetInt32());
        Assert.Equal(demo.Pretrain.BatchSize, o.GetProperty("pretrain").GetProperty("batchSize").GetInt32());
        Assert.Equal(demo.Heads.Dim, o.GetProperty("heads").GetProperty("dim").GetInt32());
        Assert.Equal("searched", o.GetProperty("pretrain").GetProperty("genotype").GetString());
        Assert.Equal("adam", o.GetProperty("search").GetProperty("optimizer").GetString());
    }

    [Fact]
    public async Task Create_OneCompatFlagInOptions_KeepsTheFrameworksRecipe()
    {
        var o = await CreatedOptions("""{"framework":"moco","options":{"compat":{"mocoReferenceBatchNorm":true}}}""");
        Assert.Equal(128, o.GetProperty("heads").GetProperty("dim").GetInt32());
        Assert.True(o.GetProperty("compat").GetProperty("mocoReferenceBatchNorm").GetBoolean());
        Assert.Equal("moco", o.GetProperty("framework").GetString());
    }

    [Fact]
    public async Task Create_BodyWithUtf8ByteOrderMark_IsAccepted()
    {
        var json = System.Text.Encoding.UTF8.GetBytes("""{"preset":"quick-demo","options":{"search":{"epochs":2}}}""");
        var body = new ByteArrayContent([.. System.Text.Encoding.UTF8.Preamble, .. json]);
        body.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        var r = await _c.PostAsync("/api/runs", body);
        Assert.True(r.StatusCode == HttpStatusCode.Created, await r.Content.ReadAsStringAsync());
    }

    // A lincls under a parent but with no checkpoint evaluated an untrained backbone and was listed as the parent's
    // evaluation, with no notice: now refused on checkpoint (nothing is queued), and without a parent it says what it measures.
    [Fact]
    public async Task LinCls_UnderAParent_WithoutACheckpoint_IsRefused_AndAloneSaysItIsTheUntrainedBaseline()
    {
        var parent = await NasiamAppFactory.CreateQuickDemo(_c);
        var before = (await _c.GetFromJsonAsync<JsonElement>("/api/runs")).GetArrayLength();
        var refused = await _c.PostAsync("/api/runs", Json($$"""{"preset":"quick-demo","kind":"lincls","parentId":"{{parent}}"}"""));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        var message = Assert.Single((await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").GetProperty("checkpoint").EnumerateArray()).GetString();
        Assert.StartsWith($"a linear evaluation under run {parent} must evaluate that run's backbone: give its id as the checkpoint", message);
        Assert.Equal(before, (await _c.GetFromJsonAsync<JsonElement>("/api/runs")).GetArrayLength());

        var alone = await _c.PostAsync("/api/runs/preview", Json("""{"preset":"quick-demo","kind":"lincls"}"""));
        Assert.True(alone.StatusCode == HttpStatusCode.OK, await alone.Content.ReadAsStringAsync());
        Assert.Contains((await alone.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("notices").EnumerateArray(),
            n => n.GetString()!.StartsWith("checkpoint: none given, so this evaluates an untrained", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Create_EnumValues_UseOneSpellingEverywhere_AndReadAnyCase()
    {
        var o = await CreatedOptions("""{"framework":"SimSiam","options":{"kind":"LinCls","linear":{"optimizer":"AdamW"}}}""");
        Assert.Equal("simsiam", o.GetProperty("framework").GetString());
        Assert.Equal("lincls", o.GetProperty("kind").GetString());
        Assert.Equal("adamw", o.GetProperty("linear").GetProperty("optimizer").GetString());
        Assert.Equal("per256", o.GetProperty("search").GetProperty("lrScaling").GetString());
    }

    [Fact]
    public async Task OpenApi_DocumentsTheCreateBody_AndItsResponses()
    {
        using var doc = JsonDocument.Parse(await _c.GetStringAsync("/openapi/v1.json"));
        var post = doc.RootElement.GetProperty("paths").GetProperty("/api/runs").GetProperty("post");
        var schema = post.GetProperty("requestBody").GetProperty("content").GetProperty("application/json").GetProperty("schema");
        var reference = schema.GetProperty("$ref").GetString()!;
        var body = doc.RootElement.GetProperty("components").GetProperty("schemas").GetProperty(reference.Split('/')[^1]);
        foreach (var member in new[] { "preset", "framework", "kind", "options", "genotype", "device", "name", "parentId" })
            Assert.True(body.GetProperty("properties").TryGetProperty(member, out _), member);
        var responses = post.GetProperty("responses");
        foreach (var code in new[] { "201", "400", "413" }) Assert.True(responses.TryGetProperty(code, out _), code);
        var cancel = doc.RootElement.GetProperty("paths").GetProperty("/api/runs/{id}/cancel").GetProperty("post").GetProperty("responses");
        foreach (var code in new[] { "202", "404", "409" }) Assert.True(cancel.TryGetProperty(code, out _), code);
        Assert.True(doc.RootElement.GetProperty("paths").TryGetProperty("/api/runs/{id}/export", out _));
        // /files is the name; /checkpoints answers as before, marked deprecated.
        var paths = doc.RootElement.GetProperty("paths");
        Assert.False(paths.GetProperty("/api/runs/{id}/files/{name}").GetProperty("get").TryGetProperty("deprecated", out _));
        Assert.True(paths.GetProperty("/api/runs/{id}/checkpoints/{name}").GetProperty("get").GetProperty("deprecated").GetBoolean());
        Assert.True(paths.GetProperty("/api/runs/{id}/checkpoints").GetProperty("get").GetProperty("deprecated").GetBoolean());

        // The bodies' members are optional but never null (an explicit null is a 400): a client generated from the
        // document must not be told it may send null.
        var schemas = doc.RootElement.GetProperty("components").GetProperty("schemas");
        var import = doc.RootElement.GetProperty("paths").GetProperty("/api/genotypes").GetProperty("post").GetProperty("requestBody").GetProperty("content");
        Assert.Equal("string", import.GetProperty("text/plain").GetProperty("schema").GetProperty("type").GetString());
        var bodies = new[] { schemas.GetProperty(reference.Split('/')[^1]), schemas.GetProperty("CreateComparisonRequest"), import.GetProperty("application/json").GetProperty("schema") };
        Assert.True(import.GetProperty("application/json").GetProperty("schema").GetProperty("properties").TryGetProperty("framework", out _));
        Assert.Equal(["text"], import.GetProperty("application/json").GetProperty("schema").GetProperty("required").EnumerateArray().Select(r => r.GetString()));
        foreach (var body2 in bodies)
            foreach (var member in body2.GetProperty("properties").EnumerateObject())
                Assert.False(member.Value.GetRawText().Contains("\"null\""), $"{member.Name}: {member.Value.GetRawText()}");
    }

    // A value that does not bind is a 400 validation problem naming the parameter, in the API's words: as a
    // deployed app runs (before, a problem naming no field; no request may fall through to a missing /error
    // page, 404/405) and as the README's command runs, Development (before, the developer exception page's
    // stack trace, request headers and all).
    [Theory]
    [InlineData("Production", "maxPoints=abc", "maxPoints", "'abc' is not a whole number")]
    [InlineData("Development", "maxPoints=abc", "maxPoints", "'abc' is not a whole number")]
    [InlineData("Development", "afterSequence=abc", "afterSequence", "'abc' is not a whole number")]
    [InlineData("Development", "maxPoints=99999999999", "maxPoints", "'99999999999' is not a whole number from -2147483648 to 2147483647")]
    // Within int but outside what the endpoint takes: its own range, with the value.
    [InlineData("Development", "maxPoints=5", "maxPoints", "must be a whole number from 10 to 100000; got 5")]
    public async Task AQueryValueThatDoesNotBind_Is400NamingIt(string environment, string query, string field, string message)
    {
        await using var app = new NasiamAppFactory(Path.Combine(_data, environment), new ScriptedRunEngine(),
            settings: new Dictionary<string, string> { ["environment"] = environment });
        using var c = app.Api();
        var r = await c.GetAsync($"/api/runs/{Guid.NewGuid()}/metrics?{query}");
        var text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.BadRequest, $"{(int)r.StatusCode}: {text}");
        Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
        var errors = JsonDocument.Parse(text).RootElement.GetProperty("errors");
        Assert.StartsWith(message, Assert.Single(errors.GetProperty(field).EnumerateArray()).GetString());
        Assert.DoesNotContain("Exception", text);
        Assert.DoesNotContain("Nullable", text);
        // Not a number at all: the type's range (it was quoted) says nothing useful.
        if (query.EndsWith("=abc", StringComparison.Ordinal)) Assert.DoesNotContain("2147483647", text);
    }

    // An unknown query parameter is a 400 naming it and what the endpoint takes, not a filter that reads as
    // applied (the list takes none: ?status=failed used to return every run).
    [Theory]
    [InlineData("/api/runs?status=failed", "status", "this endpoint takes no query parameters")]
    [InlineData("/api/runs/{id}/metrics?afterSeq=3", "afterSeq", "this endpoint takes types, afterSequence, maxPoints")]
    [InlineData("/api/runs/{id}/genotype?format=json&fmt=txt", "fmt", "this endpoint takes format")]
    [InlineData("/api/runs/{id}/checkpoints/search.ckpt?download=1", "download", "this endpoint takes no query parameters")]
    [InlineData("/api/runs/{id}/files/search.ckpt?download=1", "download", "this endpoint takes no query parameters")]
    [InlineData("/api/genotypes?framework=moco", "framework", "this endpoint takes no query parameters")]
    [InlineData("/api/comparisons?seed=1", "seed", "this endpoint takes no query parameters")]
    public async Task AnUnknownQueryParameter_Is400NamingIt(string url, string field, string message)
    {
        var id = await NasiamAppFactory.CreateQuickDemo(_c);
        await NasiamAppFactory.WaitForStatus(_c, id, "Succeeded");
        var r = await _c.GetAsync(url.Replace("{id}", id.ToString()));
        var text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.BadRequest, $"{(int)r.StatusCode}: {text}");
        var errors = JsonDocument.Parse(text).RootElement.GetProperty("errors");
        Assert.Equal([field], errors.EnumerateObject().Select(p => p.Name));
        Assert.Equal($"unknown query parameter; {message}", Assert.Single(errors.GetProperty(field).EnumerateArray()).GetString());
    }

    // A checkpoint damaged after it was written (its checksum no longer matches) is a 409 naming it and the damaged
    // section, not a 500; nothing is exported from it.
    [Fact]
    public async Task Export_OfADamagedCheckpoint_Is409NamingTheDamage()
    {
        var id = await NasiamAppFactory.CreateQuickDemo(_c);
        await NasiamAppFactory.WaitForStatus(_c, id, "Succeeded");
        // The scripted engine writes no checkpoint: a pre-training's header with a small model section stands in (the
        // checksums are checked before the model is built into, so its contents do not matter).
        var path = RunCheckpoints.WritePretrain(_app.Services, id);
        var state = NASiam.Core.Engine.Checkpoints.CheckpointStore.ReadState(path);
        using (var model = TorchSharp.torch.nn.Linear(64, 64))
            NASiam.Core.Engine.Checkpoints.CheckpointStore.Save(path, state, new NASiam.Core.Engine.Checkpoints.CheckpointContent { Model = model });
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.AsSpan().IndexOf((byte[])[5, .. "model"u8]) + 6 + sizeof(long) + 1000] ^= 0x04;
        File.WriteAllBytes(path, bytes);

        var r = await _c.GetAsync($"/api/runs/{id}/export?checkpoint=pretrain");
        var text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.Conflict, $"{(int)r.StatusCode}: {text}");
        var detail = JsonDocument.Parse(text).RootElement.GetProperty("detail").GetString()!;
        Assert.StartsWith("Checkpoint 'checkpoints/pretrain.ckpt' is damaged: section 'model' does not match its checksum", detail);
        Assert.DoesNotContain(Path.GetTempPath(), detail);
        Assert.False(File.Exists(Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(path))!, "exports", "pretrain.pt")));
    }

    [Fact]
    public async Task TheQueryParametersAnEndpointTakes_AreAccepted_InAnyCase_WithTheAccessKeysParameter()
    {
        var id = await NasiamAppFactory.CreateQuickDemo(_c);
        await NasiamAppFactory.WaitForStatus(_c, id, "Succeeded");
        foreach (var url in new[]
                 {
                     $"/api/runs/{id}/metrics?types=step&afterSequence=-1&maxPoints=100",
                     $"/api/runs/{id}/metrics?AfterSequence=3&access_token=x",
                     $"/api/runs/{id}/genotype?format=json",
                     "/api/runs?access_key=x",
                 })
        {
            var r = await _c.GetAsync(url);
            Assert.True(r.StatusCode == HttpStatusCode.OK, $"{url}: {(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");
        }
        // The export's parameter reaches its handler, which answers for its value.
        var e = await _c.GetAsync($"/api/runs/{id}/export?checkpoint=nosuch");
        Assert.Equal(HttpStatusCode.BadRequest, e.StatusCode);
        Assert.StartsWith("'nosuch' is not a checkpoint of this run",
            (await e.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").GetProperty("checkpoint")[0].GetString());
    }

    [Fact]
    public async Task ImportGenotype_InvalidText_Returns400_AndValidTextIsListed()
    {
        var bad = await _c.PostAsync("/api/genotypes", new StringContent("__import__('os').system('x')", System.Text.Encoding.UTF8, "text/plain"));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("text", (await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").EnumerateObject().Select(p => p.Name));

        var text = GenotypeText.Write(GenotypePresets.Find("simsiam/cifar10_resnet18")!.Genotype!);
        var ok = await _c.PostAsJsonAsync("/api/genotypes", new { name = "mine", text });
        Assert.Equal(HttpStatusCode.Created, ok.StatusCode);
        var all = await _c.GetFromJsonAsync<JsonElement>("/api/genotypes");
        Assert.Contains(all.EnumerateArray(), e => e.GetProperty("name").GetString() == "mine" && e.GetProperty("source").GetString() == "imported");
        // The import's Location serves the entry; a preset is served by its name.
        var entry = await _c.GetFromJsonAsync<JsonElement>(ok.Headers.Location!);
        Assert.Equal(("mine", text), (entry.GetProperty("name").GetString(), entry.GetProperty("text").GetString()));
        Assert.Equal(HttpStatusCode.OK, (await _c.GetAsync("/api/genotypes/simsiam/standard")).StatusCode);
        Assert.Equal("simsiam/cifar10_resnet18", (await _c.GetFromJsonAsync<JsonElement>("/api/genotypes/simsiam%2Fcifar10_resnet18")).GetProperty("id").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await _c.GetAsync($"/api/genotypes/{Guid.NewGuid()}")).StatusCode);

        // Entries are picked by name in the dashboard's lists: a name already used (any case), or a preset's,
        // is a 400 on "name" and the library keeps one entry; unnamed imports get distinct names.
        async Task<string> NameError(object body)
        {
            var r = await _c.PostAsJsonAsync("/api/genotypes", body);
            var json = await r.Content.ReadAsStringAsync();
            Assert.True(r.StatusCode == HttpStatusCode.BadRequest, json);
            return Assert.Single(JsonDocument.Parse(json).RootElement.GetProperty("errors").GetProperty("name").EnumerateArray()).GetString()!;
        }
        Assert.StartsWith("the library already holds a genotype named 'mine' (id ", await NameError(new { name = " MINE ", text }));
        Assert.Equal("'simsiam/standard' is the name of a published preset; choose another name", await NameError(new { name = "simsiam/standard", text }));
        var unnamed = new List<string>();
        for (int i = 0; i < 2; i++)
        {
            var r = await _c.PostAsync("/api/genotypes", new StringContent(text, System.Text.Encoding.UTF8, "text/plain"));
            Assert.Equal(HttpStatusCode.Created, r.StatusCode);
            unnamed.Add((await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("name").GetString()!);
        }
        Assert.All(unnamed, n => Assert.StartsWith("imported ", n));
        // curl's --data-binary @genotype.txt sends its default content type: read as the text, not refused (415).
        var curl = await _c.PostAsync("/api/genotypes", new StringContent(text, System.Text.Encoding.UTF8, "application/x-www-form-urlencoded"));
        Assert.True(curl.StatusCode == HttpStatusCode.Created, await curl.Content.ReadAsStringAsync());
        Assert.Equal(text, (await curl.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("text").GetString());
        // The stem is the minute: within one, the second gets " #2" (a minute boundary between them gives a new stem).
        Assert.True(unnamed[1] == unnamed[0] + " #2" || (unnamed[1] != unnamed[0] && !unnamed[1].Contains('#')), string.Join(" | ", unnamed));
        var listed = (await _c.GetFromJsonAsync<JsonElement>("/api/genotypes")).EnumerateArray().Select(e => e.GetProperty("name").GetString()).ToArray();
        Assert.Single(listed, n => string.Equals(n, "mine", StringComparison.OrdinalIgnoreCase));
        Assert.Equal("must be at most 100 characters (got 101)", await NameError(new { name = new string('n', 101), text }));

        // A library entry can be deleted; a preset cannot; an unknown id is a 404.
        Assert.Equal(HttpStatusCode.NoContent, (await _c.DeleteAsync(ok.Headers.Location!)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _c.GetAsync(ok.Headers.Location!)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _c.DeleteAsync(ok.Headers.Location!)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await _c.DeleteAsync("/api/genotypes/simsiam%2Fcifar10_resnet18")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _c.GetAsync("/api/genotypes/simsiam%2Fcifar10_resnet18")).StatusCode);
        // Its name is free again.
        Assert.Equal(HttpStatusCode.Created, (await _c.PostAsJsonAsync("/api/genotypes", new { name = "mine", text })).StatusCode);
        // Ids are read in any case, as DELETE reads them.
        Assert.Equal(HttpStatusCode.OK, (await _c.GetAsync("/api/genotypes/SIMSIAM%2FSTANDARD")).StatusCode);

        // A library that already holds a repeated name (from before names were unique) still imports: every import
        // answered 500 and the page's circuit died ("An item with the same key has already been added").
        // (Two runs of one name discovering two genotypes: RunStoreTests.Finish_ADiscoveredGenotypesName_...)
        var store = _app.Services.GetRequiredService<NASiam.Web.Runs.RunStore>();
        foreach (var _ in new[] { 1, 2 })
            store.AddGenotype(new NASiam.Web.Runs.GenotypeEntry(Guid.NewGuid(), "dup (discovered)", NASiam.Core.Framework.SimSiam, text, "discovered", null, DateTimeOffset.UtcNow));
        Assert.StartsWith("the library already holds a genotype named 'dup (discovered)'", await NameError(new { name = "DUP (discovered)", text }));
        Assert.Equal(HttpStatusCode.Created, (await _c.PostAsJsonAsync("/api/genotypes", new { name = "after the repeat", text })).StatusCode);

        // As the run and comparison bodies: an unknown or repeated member is a 400 naming it, not ignored.
        var typo = await _c.PostAsync("/api/genotypes", new StringContent($$"""{"name":"x","text":"{{text}}","frameworkz":"moco"}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, typo.StatusCode);
        Assert.Contains("frameworkz", (await typo.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").EnumerateObject().Select(p => p.Name));
        var twice = await _c.PostAsync("/api/genotypes", new StringContent($$"""{"name":"x","name":"y","text":"{{text}}"}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, twice.StatusCode);
        Assert.Contains("name", (await twice.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").EnumerateObject().Select(p => p.Name));
    }

    // Imports of one name sent at once: one is stored, the others are the 400 on "name" a later import gets (the
    // name check and the insert are one locked transaction; RunStoreTests.AddNamed_... shows the race without it).
    [Fact]
    public async Task ImportGenotype_ManyOfOneNameAtOnce_StoresOne_AndAnswersTheOthers400OnName()
    {
        var text = GenotypeText.Write(GenotypePresets.Find("simsiam/cifar10_resnet18")!.Genotype!);
        var answers = await Task.WhenAll(Enumerable.Range(0, 6).Select(i => _c.PostAsJsonAsync("/api/genotypes", new { name = i % 2 == 0 ? "race" : "RACE", text })));
        Assert.Single(answers, a => a.StatusCode == HttpStatusCode.Created);
        foreach (var refused in answers.Where(a => a.StatusCode != HttpStatusCode.Created))
        {
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            var error = (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").GetProperty("name")[0].GetString();
            Assert.StartsWith("the library already holds a genotype named '", error);
        }
        var listed = (await _c.GetFromJsonAsync<JsonElement>("/api/genotypes")).EnumerateArray().Select(e => e.GetProperty("name").GetString());
        Assert.Single(listed, n => string.Equals(n, "race", StringComparison.OrdinalIgnoreCase));
    }

    // A genotype library id (or a run's id) is a genotype reference through the resolver, which checks
    // its framework as it checks a preset's: it used to be swapped for its text before, so a MoCo entry on
    // a SimSiam run read "A simsiam genotype needs the 'predictor' field". The run stores the text, and a
    // reference that is none of the forms lists them all, ids included.
    [Fact]
    public async Task Genotype_ByLibraryId_IsCheckedForItsFramework_AndStoredAsText()
    {
        var moco = GenotypeText.Write(GenotypePresets.Find("moco/cifar10_resnet18")!.Genotype!);
        var import = await _c.PostAsJsonAsync("/api/genotypes", new { name = "mine", text = moco, framework = "moco" });
        Assert.Equal(HttpStatusCode.Created, import.StatusCode);
        var id = (await import.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();

        async Task<string> Error(HttpResponseMessage r, string field)
        {
            var text = await r.Content.ReadAsStringAsync();
            Assert.True(r.StatusCode == HttpStatusCode.BadRequest, text);
            return Assert.Single(JsonDocument.Parse(text).RootElement.GetProperty("errors").GetProperty(field).EnumerateArray()).GetString()!;
        }
        Assert.Equal("genotype library entry 'mine' holds a moco genotype, not a simsiam one.",
            await Error(await _c.PostAsync("/api/runs", Json($$"""{"preset":"quick-demo","framework":"simsiam","kind":"pretrain","genotype":"{{id}}"}""")), "options.pretrain.genotype"));
        Assert.Equal("genotype library entry 'mine' holds a moco genotype, not a simsiam one.",
            await Error(await _c.PostAsync("/api/comparisons", Json($$"""{"preset":"quick-demo","framework":"simsiam","genotype":"{{id}}"}""")), "genotype"));
        var missing = Guid.NewGuid();
        Assert.Equal($"no genotype library entry or run with a genotype has id {missing}.",
            await Error(await _c.PostAsync("/api/runs", Json($$"""{"preset":"quick-demo","kind":"pretrain","genotype":"{{missing}}"}""")), "options.pretrain.genotype"));
        Assert.Contains("genotype text, a genotype library entry's id or name, or a run id (file paths are not accepted here",
            await Error(await _c.PostAsync("/api/runs", Json("""{"preset":"quick-demo","kind":"pretrain","genotype":"nobody's"}""")), "options.pretrain.genotype"));
        // A library entry's name (any case) is a reference as its id is, checked for its framework the same way
        // (it was refused: "'mine' is not ... a genotype library id or a run id").
        Assert.Equal("genotype library entry 'mine' holds a moco genotype, not a simsiam one.",
            await Error(await _c.PostAsync("/api/runs", Json("""{"preset":"quick-demo","framework":"simsiam","kind":"pretrain","genotype":"MINE"}""")), "options.pretrain.genotype"));
        var byName = await _c.PostAsync("/api/runs/preview", Json("""{"preset":"quick-demo","framework":"moco","kind":"pretrain","genotype":" Mine "}"""));
        Assert.True(byName.StatusCode == HttpStatusCode.OK, await byName.Content.ReadAsStringAsync());
        Assert.Equal(moco, (await byName.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("options").GetProperty("pretrain").GetProperty("genotype").GetString());

        var created = await _c.PostAsync("/api/runs", Json($$"""{"preset":"quick-demo","framework":"moco","kind":"pretrain","genotype":"{{id}}"}"""));
        Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        var detail = await _c.GetFromJsonAsync<JsonElement>($"/api/runs/{(await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid()}");
        Assert.Equal(moco, detail.GetProperty("options").GetProperty("pretrain").GetProperty("genotype").GetString());
        // An imported library entry comes from no run: no lineage.
        Assert.Equal(JsonValueKind.Null, detail.GetProperty("parentId").ValueKind);
    }

    // A pre-training of a run's genotype, given by the run's id, descends from that run (it had no parent, while
    // an evaluation of a run's checkpoint had one); in the body or in the options alike.
    [Fact]
    public async Task Pretrain_OfARunsGenotype_DescendsFromThatRun()
    {
        // The scripted engine derives a SimSiam genotype.
        var made = await _c.PostAsync("/api/runs", Json("""{"preset":"quick-demo","framework":"simsiam"}"""));
        var search = (await made.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        await NasiamAppFactory.WaitForStatus(_c, search, "Succeeded");
        foreach (var body in new[]
                 {
                     $$"""{"preset":"quick-demo","framework":"simsiam","kind":"pretrain","genotype":"{{search}}"}""",
                     "{\"preset\":\"quick-demo\",\"framework\":\"simsiam\",\"kind\":\"pretrain\",\"options\":{\"pretrain\":{\"genotype\":\"" + search + "\"}}}",
                 })
        {
            var created = await _c.PostAsync("/api/runs", Json(body));
            Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
            var child = await _c.GetFromJsonAsync<JsonElement>($"/api/runs/{(await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid()}");
            Assert.Equal(search, child.GetProperty("parentId").GetGuid());
        }
        // Without a preset the recipe is the framework's, not the search's: said, since the backbone differs.
        var preview = await (await _c.PostAsync("/api/runs/preview", Json($$"""{"framework":"simsiam","kind":"pretrain","genotype":"{{search}}"}"""))).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains(preview.GetProperty("notices").EnumerateArray(), n => n.GetString()!.Contains($"only the genotype comes from run {search}") && n.GetString()!.Contains("the simsiam recipe's (resnet18 on synthetic)"));
        // The library entry the search's genotype became leads back to the search too.
        var entry = (await _c.GetFromJsonAsync<JsonElement[]>("/api/genotypes"))!.Single(g => g.GetProperty("runId").ValueKind == JsonValueKind.String && g.GetProperty("runId").GetGuid() == search);
        var fromEntry = await _c.PostAsync("/api/runs", Json($$"""{"preset":"quick-demo","framework":"simsiam","kind":"pretrain","genotype":"{{entry.GetProperty("id").GetGuid()}}"}"""));
        var viaEntry = await _c.GetFromJsonAsync<JsonElement>($"/api/runs/{(await fromEntry.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid()}");
        Assert.Equal(search, viaEntry.GetProperty("parentId").GetGuid());
    }

    // A run that never started has no folder: the refusal says so in the run's terms, not by a server path.
    [Fact]
    public async Task LinearEvaluation_OfARunThatNeverStarted_SaysSo_WithoutAServerPath()
    {
        var ended = await NasiamAppFactory.CreateQuickDemo(_c);
        await NasiamAppFactory.WaitForStatus(_c, ended, "Succeeded");
        var store = _app.Services.GetRequiredService<RunStore>();
        var never = store.Get(ended)! with { Id = Guid.NewGuid(), Name = "cancelled while queued", Status = RunStatus.Cancelled };
        store.Insert(never);
        var r = await _c.PostAsync("/api/runs", Json($$"""{"checkpoint":"{{never.Id}}"}"""));
        var text = await r.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.Contains("('cancelled while queued') has written no checkpoint: it never started (cancelled)", text);
        Assert.DoesNotContain(Path.GetTempPath(), text);

        // Still training: its final checkpoint is not written yet. It was accepted and evaluated whichever file was
        // there (its search's, or a pre-training's mid-epoch), with no notice.
        var running = store.Get(ended)! with { Id = Guid.NewGuid(), Name = "still training", Status = RunStatus.Running, FinishedAt = null };
        store.Insert(running);
        RunCheckpoints.WritePretrain(_app.Services, running.Id, completed: false);
        foreach (var path in new[] { "/api/runs", "/api/runs/preview" })
        {
            var refused = await _c.PostAsync(path, Json($$"""{"checkpoint":"{{running.Id}}"}"""));
            var why = await refused.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.True(why.Contains("('still training') is running") && why.Contains("its final checkpoint is not written yet; evaluate it once it has ended"), why);
        }
    }

    [Theory]
    [InlineData("..%2F..%2Fnasiam.db")]
    [InlineData("../../nasiam.db")]
    [InlineData("%2Fetc%2Fpasswd")]
    [InlineData("checkpoints/..%2F..%2F..%2Fnasiam.db")]
    [InlineData("genotype.txt")]
    public async Task CheckpointDownload_PathOutsideTheListing_Returns404(string name)
    {
        var id = await NasiamAppFactory.CreateQuickDemo(_c);
        await NasiamAppFactory.WaitForStatus(_c, id, "Succeeded");
        foreach (var route in new[] { "files", "checkpoints" })
        {
            var r = await _c.GetAsync($"/api/runs/{id}/{route}/{name}");
            Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
        }
    }

    static StringContent Json(string body) => new(body, System.Text.Encoding.UTF8, "application/json");

    static async Task<string> FirstErrorField(HttpResponseMessage r)
    {
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        var problem = await r.Content.ReadFromJsonAsync<JsonElement>();
        return problem.GetProperty("errors").EnumerateObject().First().Name;
    }

    [Fact]
    public async Task Create_WithARunIdAsCheckpoint_QueuesTheLinearEvaluationOfItsBackbone()
    {
        var id = await NasiamAppFactory.CreateQuickDemo(_c);
        await NasiamAppFactory.WaitForStatus(_c, id, "Succeeded");

        // The scripted run left no engine checkpoint: refused, naming the field.
        Assert.Equal("checkpoint", await FirstErrorField(await _c.PostAsync("/api/runs", Json($$"""{"checkpoint":"{{id}}"}"""))));
        // Never a server path, and no run behind an unknown id.
        Assert.Equal("checkpoint", await FirstErrorField(await _c.PostAsync("/api/runs", Json("""{"checkpoint":"/etc"}"""))));
        Assert.Equal("checkpoint", await FirstErrorField(await _c.PostAsync("/api/runs", Json($$"""{"checkpoint":"{{Guid.NewGuid()}}"}"""))));

        var file = RunCheckpoints.WritePretrain(_app.Services, id);
        // Only a linear evaluation reads it: a search given a checkpoint took its recipe and ignored its weights.
        var search = await _c.PostAsync("/api/runs", Json($$"""{"kind":"search","checkpoint":"{{id}}"}"""));
        Assert.Equal("checkpoint", await FirstErrorField(search));
        var created = await _c.PostAsync("/api/runs", Json("{\"checkpoint\":\"" + id + "\",\"options\":{\"linear\":{\"epochs\":2}}}"));
        Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        var summary = await created.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains(summary.GetProperty("notices").EnumerateArray(), n => n.GetString()!.StartsWith("linear.epochs:"));
        // The create response's notes on the request are kept with the run: its own GET gives the same.
        Assert.Equal(summary.GetProperty("notices").EnumerateArray().Select(n => n.GetString()),
            (await _c.GetFromJsonAsync<JsonElement>($"/api/runs/{summary.GetProperty("id").GetGuid()}")).GetProperty("run").GetProperty("notices").EnumerateArray().Select(n => n.GetString()));
        // Which of the run's checkpoints is evaluated is said (the kNN-best and the last give different numbers),
        // and the new run is named after the one it evaluates.
        Assert.Contains(summary.GetProperty("notices").EnumerateArray(), n => n.GetString()!.StartsWith("checkpoint: the run's last pre-training backbone (checkpoints/pretrain.ckpt"));
        var child = summary.GetProperty("id").GetGuid();
        var detail = await _c.GetFromJsonAsync<JsonElement>($"/api/runs/{child}");
        var parentName = (await _c.GetFromJsonAsync<JsonElement>($"/api/runs/{id}")).GetProperty("run").GetProperty("name").GetString();
        Assert.Equal($"{parentName} · linear eval", detail.GetProperty("run").GetProperty("name").GetString());
        Assert.Equal("lincls", detail.GetProperty("run").GetProperty("kind").GetString());
        Assert.Equal(id, detail.GetProperty("parentId").GetGuid());
        var linear = detail.GetProperty("options").GetProperty("linear");
        Assert.Equal(file, linear.GetProperty("checkpoint").GetString());
        Assert.Equal(2, linear.GetProperty("epochs").GetInt32());

        // The evaluated run deleted anyway: the evaluation says where it came from, and a retry, which could not read
        // the checkpoint, is refused up front (it was queued and failed at its start).
        await NasiamAppFactory.WaitForStatus(_c, child, "Succeeded");
        Assert.Equal(HttpStatusCode.NoContent, (await _c.DeleteAsync($"/api/runs/{id}?dependants=detach")).StatusCode);
        var orphan = (await _c.GetFromJsonAsync<JsonElement>($"/api/runs/{child}")).GetProperty("run");
        Assert.Contains(orphan.GetProperty("notices").EnumerateArray(), n => n.GetString()!.StartsWith($"lineage: it descended from run {id} ('{parentName}'), deleted ", StringComparison.Ordinal));
        var retry = await _c.PostAsync($"/api/runs/{child}/retry", null);
        Assert.Equal(HttpStatusCode.BadRequest, retry.StatusCode);
        Assert.Contains("which no longer exists", (await retry.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").GetProperty("checkpoint")[0].GetString());
    }

    // The run page's "Pre-train this genotype" had no API door: genotype = <run id> in POST /api/runs takes only the
    // genotype (the recipe is the preset's). POST /api/runs/{id}/pretrain takes the run's setup, with optional changes.
    [Fact]
    public async Task PretrainEndpoint_QueuesTheRunsGenotypeOnItsSetup_WithTheBodysChanges_AndRefusesWhatItCannot()
    {
        var created = await _c.PostAsJsonAsync("/api/runs", new
        {
            preset = "quick-demo", framework = "simsiam", kind = "search", name = "small search",
            options = new { syntheticTrainSize = 256, maxStepsPerStage = 7, seed = 3, search = new { epochs = 3 } },
        });
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        await NasiamAppFactory.WaitForStatus(_c, id, "Succeeded");
        var store = _app.Services.GetRequiredService<RunStore>();
        var source = store.Get(id)!;

        var r = await _c.PostAsync($"/api/runs/{id}/pretrain", new StringContent(
            """{"options": {"pretrain": {"epochs": 3}}, "name": "mine"}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        var summary = await r.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal($"/api/runs/{summary.GetProperty("id").GetGuid()}", r.Headers.Location!.OriginalString);
        var child = store.Get(summary.GetProperty("id").GetGuid())!;
        var o = child.Options();
        Assert.Equal((id, "mine", RunKind.Pretrain), (child.ParentId!.Value, o.Name!, o.Kind));
        Assert.Equal(source.GenotypeText, o.Pretrain.Genotype);
        Assert.Equal((256, 7, 3, 3), (o.SyntheticTrainSize, o.MaxStepsPerStage!.Value, o.Seed, o.Pretrain.Epochs));
        // The search recipe is not the pre-training's to carry (nor to call "not used").
        Assert.Equal(RunPresets.QuickDemoFor(NASiam.Core.Framework.SimSiam).Search.Epochs, o.Search.Epochs);
        Assert.DoesNotContain(summary.GetProperty("notices").EnumerateArray(), n => n.GetString()!.StartsWith(RunRequestResolver.UnusedNoticePrefix));

        var unknown = await _c.PostAsync($"/api/runs/{id}/pretrain", new StringContent("""{"epochs": 3}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        Assert.Contains("options, name, device", await unknown.Content.ReadAsStringAsync());
        var bad = await _c.PostAsync($"/api/runs/{id}/pretrain", new StringContent("""{"options": {"pretrain": {"epochs": 0}}}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.True((await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("options.pretrain.epochs", out _));
        Assert.Equal(HttpStatusCode.NotFound, (await _c.PostAsync($"/api/runs/{Guid.NewGuid()}/pretrain", null)).StatusCode);

        // A run with no genotype yet (a search before its first alpha snapshot): 409 saying so, nothing queued.
        await using var slow = new NasiamAppFactory(Path.Combine(_data, "slow"), new ScriptedRunEngine(totalSteps: 4, stepMilliseconds: 60_000));
        using var sc = slow.Api();
        var running = await NasiamAppFactory.CreateQuickDemo(sc);
        var refused = await sc.PostAsync($"/api/runs/{running}/pretrain", null);
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        Assert.Contains("has no genotype to pre-train", (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
        Assert.Single(await sc.GetFromJsonAsync<JsonElement[]>("/api/runs") ?? []);
        Assert.Equal(HttpStatusCode.Accepted, (await sc.PostAsync($"/api/runs/{running}/cancel", null)).StatusCode);

        // A running search with a genotype: 409 (it still changes); once cancelled, its genotype at the last snapshot is
        // pre-trained, said to be provisional, and the run page offers the same action.
        await using var live = new NasiamAppFactory(Path.Combine(_data, "live"), new ScriptedRunEngine(totalSteps: 400, stepMilliseconds: 40));
        using var lc = live.Api();
        // SimSiam: the scripted engine's genotype is a SimSiam one (the quick demo's default framework is SimCLR).
        var searching = (await (await lc.PostAsJsonAsync("/api/runs", new { preset = "quick-demo", framework = "simsiam", kind = "search" }))
            .Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        var liveStore = live.Services.GetRequiredService<RunStore>();
        await NasiamAppFactory.WaitUntil(() => Task.FromResult(liveStore.Get(searching)!.GenotypeText is not null), TimeSpan.FromSeconds(30), "a first alpha snapshot");
        var early = await lc.PostAsync($"/api/runs/{searching}/pretrain", null);
        Assert.Equal(HttpStatusCode.Conflict, early.StatusCode);
        Assert.Contains("its genotype still changes", (await early.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.Accepted, (await lc.PostAsync($"/api/runs/{searching}/cancel", null)).StatusCode);
        await NasiamAppFactory.WaitForStatus(lc, searching, "Cancelled");
        Assert.True(liveStore.Get(searching)!.CanPretrainGenotype);
        var stopped = await lc.PostAsync($"/api/runs/{searching}/pretrain", null);
        Assert.True(stopped.StatusCode == HttpStatusCode.Created, await stopped.Content.ReadAsStringAsync());
        var stoppedChild = await stopped.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(liveStore.Get(searching)!.GenotypeText, liveStore.Get(stoppedChild.GetProperty("id").GetGuid())!.Options().Pretrain.Genotype);
        Assert.Contains(stoppedChild.GetProperty("notices").EnumerateArray(), n => n.GetString()!.Contains("Provisional genotype: argmax of the alphas at step"));
        Assert.Equal(HttpStatusCode.Accepted, (await lc.PostAsync($"/api/runs/{stoppedChild.GetProperty("id").GetGuid()}/cancel", null)).StatusCode);
    }

    // A metric that was not measured (a search whose first step's loss is NaN ends with search_final_loss NaN) or that
    // diverged: plain JSON has no NaN, and writing the run's end threw, so the run never recorded how it ended.
    [Fact]
    public async Task A_RunWhoseMetricsAreNaNOrInfinite_RecordsItsEnd_AndServesThemAsNamedLiterals()
    {
        await using var app = new NasiamAppFactory(Path.Combine(_data, "nan"), new ScriptedRunEngine(totalSteps: 2, stepMilliseconds: 0)
        {
            FinalMetrics = new Dictionary<string, double> { ["search_final_loss"] = double.NaN, ["search_final_arch_loss"] = double.NegativeInfinity, ["knn_top1"] = 41.5 },
        });
        using var c = app.Api();
        var id = await NasiamAppFactory.CreateQuickDemo(c);
        await NasiamAppFactory.WaitForStatus(c, id, "Succeeded");
        var metrics = (await c.GetFromJsonAsync<JsonElement>($"/api/runs/{id}")).GetProperty("metrics");
        Assert.Equal("NaN", metrics.GetProperty("search_final_loss").GetString());
        Assert.Equal("-Infinity", metrics.GetProperty("search_final_arch_loss").GetString());
        Assert.Equal(41.5, metrics.GetProperty("knn_top1").GetDouble());
        var stored = app.Services.GetRequiredService<RunStore>().Get(id)!.Metrics();
        Assert.True(double.IsNaN(stored["search_final_loss"]));
        Assert.Equal(double.NegativeInfinity, stored["search_final_arch_loss"]);
    }

    // A retry is a fresh copy of a run that ended; of an active run it would run the same thing twice (the
    // dashboard offered it on running rows and queued a duplicate with the same name).
    [Fact]
    public async Task Retry_OfAnActiveRun_Is409_AndOfAnEndedRunQueuesAFreshChild()
    {
        await using var app = new NasiamAppFactory(Path.Combine(_data, "retry"), new ScriptedRunEngine(totalSteps: 400, stepMilliseconds: 40));
        using var c = app.Api();
        var id = await NasiamAppFactory.CreateQuickDemo(c);
        var refused = await c.PostAsync($"/api/runs/{id}/retry", null);
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        Assert.Matches("^run 'quick-demo \\(simclr\\)' is (queued|running); a retry starts a fresh copy of a run that ended",
            (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
        Assert.Single(await c.GetFromJsonAsync<JsonElement[]>("/api/runs") ?? []);

        Assert.Equal(HttpStatusCode.Accepted, (await c.PostAsync($"/api/runs/{id}/cancel", null)).StatusCode);
        await NasiamAppFactory.WaitForStatus(c, id, "Cancelled");
        var retried = await c.PostAsync($"/api/runs/{id}/retry", null);
        Assert.Equal(HttpStatusCode.Created, retried.StatusCode);
        var child = await retried.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(id, child.GetProperty("parentId").GetGuid());
        // The copy is told apart from the original in the runs list (it had the same name).
        Assert.Equal("quick-demo (simclr) · retry 1", child.GetProperty("name").GetString());
        var childId = child.GetProperty("id").GetGuid();
        Assert.Equal(HttpStatusCode.Accepted, (await c.PostAsync($"/api/runs/{childId}/cancel", null)).StatusCode);
        await NasiamAppFactory.WaitForStatus(c, childId, "Cancelled");
        // A retry of the copy, and a second of the original, count on from the original's name.
        var third = await (await c.PostAsync($"/api/runs/{childId}/retry", null)).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("quick-demo (simclr) · retry 2", third.GetProperty("name").GetString());
        Assert.Equal(HttpStatusCode.Accepted, (await c.PostAsync($"/api/runs/{third.GetProperty("id").GetGuid()}/cancel", null)).StatusCode);
        var fourth = await (await c.PostAsync($"/api/runs/{id}/retry", null)).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("quick-demo (simclr) · retry 3", fourth.GetProperty("name").GetString());
        Assert.Equal(HttpStatusCode.Accepted, (await c.PostAsync($"/api/runs/{fourth.GetProperty("id").GetGuid()}/cancel", null)).StatusCode);

        // Deleting a run others descend from emptied their lineage without a word: a 409 naming them, unless detached.
        var deleteRefused = await c.DeleteAsync($"/api/runs/{id}");
        Assert.Equal(HttpStatusCode.Conflict, deleteRefused.StatusCode);
        var problem = await deleteRefused.Content.ReadFromJsonAsync<JsonElement>();
        var named = problem.GetProperty("dependants").EnumerateArray().Select(d => d.GetString()!).ToList();
        Assert.Equal(2, named.Count);
        Assert.Contains($"run {childId} ('quick-demo (simclr) · retry 1')", named);
        Assert.Contains($"run {fourth.GetProperty("id").GetGuid()} ('quick-demo (simclr) · retry 3')", named);
        Assert.Contains("?dependants=detach", problem.GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.OK, (await c.GetAsync($"/api/runs/{id}")).StatusCode); // kept
        var bad = await c.DeleteAsync($"/api/runs/{id}?dependants=yes");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("dependants", (await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").EnumerateObject().Select(p => p.Name));
        Assert.Equal(HttpStatusCode.NoContent, (await c.DeleteAsync($"/api/runs/{id}?dependants=detach")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await c.GetAsync($"/api/runs/{id}")).StatusCode);
        Assert.Equal(JsonValueKind.Null, (await c.GetFromJsonAsync<JsonElement>($"/api/runs/{childId}")).GetProperty("parentId").ValueKind);
        // A run nothing refers to is deleted as before.
        Assert.Equal(HttpStatusCode.NoContent, (await c.DeleteAsync($"/api/runs/{third.GetProperty("id").GetGuid()}")).StatusCode);
    }

    [Fact]
    public async Task Endpoints_UnknownRun_Return404_AndOpenApiAndHealthAreServed()
    {
        var id = Guid.NewGuid();
        Assert.Equal(HttpStatusCode.NotFound, (await _c.GetAsync($"/api/runs/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _c.GetAsync($"/api/runs/{id}/genotype")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _c.PostAsync($"/api/runs/{id}/cancel", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _c.PostAsync($"/api/runs/{id}/resume", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _c.PostAsync($"/api/runs/{id}/retry", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _c.DeleteAsync($"/api/runs/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _c.GetAsync("/healthz")).StatusCode);
        var openapi = await _c.GetStringAsync("/openapi/v1.json");
        Assert.Contains("/api/runs/{id}/files/{name}", openapi);
    }

    public async Task DisposeAsync()
    {
        _c.Dispose();
        await _app.DisposeAsync();
        try { Directory.Delete(_data, true); } catch (IOException) { }
    }
}

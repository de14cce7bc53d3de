using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using NASiam.Core.Genotypes;
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

        var list = await _c.GetFromJsonAsync<JsonElement>($"/api/runs/{id}/checkpoints");
        var names = list.EnumerateArray().Select(e => e.GetProperty("name").GetString()!).ToList();
        Assert.Contains("checkpoints/step-0012.ckpt", names);
        var bytes = await _c.GetByteArrayAsync($"/api/runs/{id}/checkpoints/checkpoints/step-0012.ckpt");
        Assert.Equal(File.ReadAllBytes(Path.Combine(_data, "runs", id.ToString("N"), "checkpoints", "step-0012.ckpt")), bytes);

        var library = await _c.GetFromJsonAsync<JsonElement>("/api/genotypes");
        Assert.Contains(library.EnumerateArray(), e => e.GetProperty("source").GetString() == "discovered" && e.GetProperty("text").GetString() == txt);
    }

    [Theory]
    [InlineData("{not json", "body")]
    [InlineData("""{"preset":"no-such-preset"}""", "preset")]
    [InlineData("""{"preset":"quick-demo","device":"cuda:7"}""", "Device")]
    [InlineData("""{"options":{"kind":"search","search":{"epochs":0,"batchSize":1}}}""", "Search.Epochs")]
    [InlineData("""{"options":{"backbone":"vgg"}}""", "Backbone")]
    public async Task Create_BadPayload_Returns400NamingTheField(string body, string field)
    {
        var r = await _c.PostAsync("/api/runs", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        var problem = await r.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), await r.Content.ReadAsStringAsync());
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
        var r = await _c.GetAsync($"/api/runs/{id}/checkpoints/{name}");
        Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
    }

    [Fact]
    public async Task Endpoints_UnknownRun_Return404_AndOpenApiAndHealthAreServed()
    {
        var id = Guid.NewGuid();
        Assert.Equal(HttpStatusCode.NotFound, (await _c.GetAsync($"/api/runs/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _c.GetAsync($"/api/runs/{id}/genotype")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _c.PostAsync($"/api/runs/{id}/cancel", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _c.GetAsync("/healthz")).StatusCode);
        var openapi = await _c.GetStringAsync("/openapi/v1.json");
        Assert.Contains("/api/runs/{id}/checkpoints/{name}", openapi);
    }

    public async Task DisposeAsync()
    {
        _c.Dispose();
        await _app.DisposeAsync();
        try { Directory.Delete(_data, true); } catch (IOException) { }
    }
}

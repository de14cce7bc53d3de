using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Bunit;
using NASiam.Core.Options;
using NASiam.Web.Components.Shared;
using NASiam.Web.Tests.Fakes;

namespace NASiam.Web.Tests.Api;

/// <summary>
/// A run too large for the node's memory is said before it is queued (the resolver's notice, at the API and the form),
/// and the preview and the form give each stage's estimate (<see cref="RunMemoryEstimate"/>).
/// </summary>
public class MemoryEstimateDoorTests : IAsyncLifetime
{
    readonly string _data = Directory.CreateTempSubdirectory("nasiam-memory-").FullName;
    NasiamAppFactory _app = null!;
    HttpClient _c = null!;

    // A ResNet-18 pre-training at batch 256 is estimated near 3.6 GiB: over 90 % of a 2 GiB limit.
    const string Big = """{"preset":"quick-demo","framework":"simsiam","kind":"pretrain","options":{"backbone":"resnet18","pretrain":{"batchSize":256}}}""";

    public Task InitializeAsync()
    {
        _app = new NasiamAppFactory(_data, new ScriptedRunEngine(totalSteps: 2, stepMilliseconds: 1),
            settings: new Dictionary<string, string> { ["Nasiam:MemoryLimitMib"] = "2048" });
        _c = _app.Api();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Create_OverTheNodesMemory_IsQueuedWithANoticeSayingSo()
    {
        var r = await _c.PostAsync("/api/runs", new StringContent(Big, System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        var notices = (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("notices").EnumerateArray().Select(n => n.GetString()!).ToArray();
        var memory = Assert.Single(notices, n => n.StartsWith(RunMemoryEstimate.NoticePrefix, StringComparison.Ordinal));
        Assert.Contains("the pre-training is estimated to peak near", memory);
        Assert.Contains("this host's 2.0 GiB", memory);
        Assert.Matches(@"pretrain\.batchSize \d+ or less is estimated to fit", memory);

        // The same request within the limit: no notice.
        var small = await _c.PostAsync("/api/runs", new StringContent(Big.Replace("256", "16"), System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, small.StatusCode);
        Assert.DoesNotContain((await small.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("notices").EnumerateArray(),
            n => n.GetString()!.StartsWith(RunMemoryEstimate.NoticePrefix, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Preview_GivesEachStagesEstimate()
    {
        var body = Big.Replace("\"pretrain\",\"options\"", "\"pipeline\",\"options\"");
        var r = await _c.PostAsync("/api/runs/preview", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var stages = (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("memoryEstimate").EnumerateArray().ToArray();
        Assert.Equal(["search", "pretrain", "lincls"], stages.Select(s => s.GetProperty("stage").GetString()));
        var pretrain = stages[1];
        Assert.InRange(pretrain.GetProperty("peakMib").GetDouble(), 3000, 4500);
        Assert.Equal("batch 256 × 2 views at 32 px on resnet18", pretrain.GetProperty("basis").GetString());
    }

    [Fact]
    public async Task TheForm_ShowsTheEstimate_AndFollowsTheBatchSize()
    {
        await using var ctx = Components.Bunit.Context();
        var form = ctx.Render<RunForm>(p => p.Add(x => x.Policy, RunRequestPolicy.Web with { HostMemoryBytes = 2L << 30 }));
        await form.InvokeAsync(() => form.Instance.Set("kind", "pretrain"));
        await form.InvokeAsync(() => form.Instance.Set("backbone", "resnet18"));
        await form.InvokeAsync(() => form.Instance.Set("pretrain.batchSize", "16"));
        form.Render();
        var before = form.Find("#memory-estimate").TextContent;
        Assert.StartsWith("Estimated peak memory on a CPU: pre-training ", before);
        Assert.EndsWith("(this server: 2.0 GiB).", before);
        await form.Find("[data-field='pretrain.batchSize'] input").ChangeAsync(new Microsoft.AspNetCore.Components.ChangeEventArgs { Value = "256" });
        form.WaitForAssertion(() => Assert.NotEqual(before, form.Find("#memory-estimate").TextContent));
        // Over the server's memory: the first click shows the notice, as other notices are shown before queueing.
        await form.Find("#submit-run").ClickAsync(new Microsoft.AspNetCore.Components.Web.MouseEventArgs());
        form.WaitForAssertion(() => Assert.Contains(form.FindAll(".form-notice"), n => n.TextContent.StartsWith(RunMemoryEstimate.NoticePrefix, StringComparison.Ordinal)));
    }

    public async Task DisposeAsync()
    {
        _c.Dispose();
        await _app.DisposeAsync();
        try { Directory.Delete(_data, recursive: true); } catch (IOException) { }
    }
}

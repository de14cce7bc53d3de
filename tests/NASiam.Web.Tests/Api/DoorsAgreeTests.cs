using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Bunit;
using NASiam.Core.Options;
using NASiam.Web.Components.Shared;
using NASiam.Web.Tests.Fakes;

namespace NASiam.Web.Tests.Api;

/// <summary>
/// One run contract: the same request through the New-run form and through POST /api/runs gives
/// byte-identical options (the CLI's --print-options is checked against the same resolver in
/// NASiam.Cli.Tests).
/// </summary>
public class DoorsAgreeTests : IAsyncLifetime
{
    readonly string _data = Directory.CreateTempSubdirectory("nasiam-doors-").FullName;
    NasiamAppFactory _app = null!;
    HttpClient _c = null!;

    public Task InitializeAsync()
    {
        _app = new NasiamAppFactory(_data, new ScriptedRunEngine(totalSteps: 2, stepMilliseconds: 1));
        _c = _app.Api();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task FormAndApi_SameRequest_SameOptionsJson()
    {
        // The API: a MoCo quick-demo pipeline with 2 pre-training epochs.
        var r = await _c.PostAsync("/api/runs", new StringContent(
            """{"preset":"quick-demo","framework":"moco","kind":"pipeline","options":{"pretrain":{"epochs":2}}}""",
            System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        var id = (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        var viaApi = RunOptions.FromJson((await _c.GetFromJsonAsync<JsonElement>($"/api/runs/{id}")).GetProperty("options").GetRawText());

        // The form: the same choices, made as a user makes them.
        await using var ctx = Components.Bunit.Context();
        RunRequest? submitted = null;
        var form = ctx.Render<RunForm>(p => p.Add(x => x.OnSubmit, o => submitted = o));
        await form.InvokeAsync(() => form.Instance.Set("framework", "moco"));
        await form.InvokeAsync(() => form.Instance.Set("kind", "pipeline"));
        await form.Find("[data-field='pretrain.epochs'] input").ChangeAsync(new Microsoft.AspNetCore.Components.ChangeEventArgs { Value = "2" });
        form.WaitForAssertion(() => Assert.Equal("2", form.Instance.Model.Values["pretrain.epochs"]));
        await form.Find("#submit-run").ClickAsync(new Microsoft.AspNetCore.Components.Web.MouseEventArgs());
        form.WaitForAssertion(() => Assert.NotNull(submitted));
        var viaForm = RunRequestResolver.Resolve(submitted!, RunRequestPolicy.Web).OptionsOrThrow();

        Assert.Equal(viaApi.ToJson(), viaForm.ToJson());
        Assert.Equal(RunKind.Pipeline, viaForm.Kind);
        Assert.Equal("searched", viaForm.Pretrain.Genotype);
        Assert.Equal(2, viaForm.Pretrain.Epochs);
    }

    // A value the run does not read (MoCo's queue on a SimCLR search) was stored without a word at every door.
    [Fact]
    public async Task AFieldTheRunDoesNotRead_IsSaid_ByTheApiAndTheForm()
    {
        const string expected = "not used: heads.queueSize (MoCo only): a SimCLR search does not read it, so the value given changes nothing";
        var r = await _c.PostAsync("/api/runs", new StringContent(
            """{"preset":"quick-demo","framework":"simclr","kind":"search","options":{"heads":{"queueSize":8192}}}""",
            System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        Assert.Contains(expected, (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("notices").EnumerateArray().Select(n => n.GetString()));

        await using var ctx = Components.Bunit.Context();
        RunRequest? submitted = null;
        var form = ctx.Render<RunForm>(p => p.Add(x => x.OnSubmit, o => submitted = o));
        await form.InvokeAsync(() => form.Instance.Set("framework", "simclr"));
        await form.InvokeAsync(() => form.Instance.Set("kind", "search"));
        await form.Find("[data-field='heads.queueSize'] input").ChangeAsync(new Microsoft.AspNetCore.Components.ChangeEventArgs { Value = "8192" });
        await form.Find("#submit-run").ClickAsync(new Microsoft.AspNetCore.Components.Web.MouseEventArgs());
        // Said on the first click, queued (as it was asked) on the second.
        form.WaitForAssertion(() => Assert.Contains(form.FindAll(".form-notice"), n => n.TextContent.Contains(expected)));
        Assert.Null(submitted);
        await form.Find("#submit-run").ClickAsync(new Microsoft.AspNetCore.Components.Web.MouseEventArgs());
        form.WaitForAssertion(() => Assert.NotNull(submitted));
        Assert.Equal(8192, RunRequestResolver.Resolve(submitted!, RunRequestPolicy.Web).OptionsOrThrow().Heads.QueueSize);
    }

    // A retry answered without the notices its create had given (the same options, the same resolver's words).
    [Fact]
    public async Task ARetry_GivesTheNoticesItsCreateGave()
    {
        var r = await _c.PostAsync("/api/runs", new StringContent(
            """{"preset":"quick-demo","framework":"moco","kind":"pretrain","options":{"pretrain":{"epochs":2}}}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        var created = await r.Content.ReadFromJsonAsync<JsonElement>();
        var notices = created.GetProperty("notices").EnumerateArray().Select(n => n.GetString()).ToArray();
        Assert.Contains(notices, n => n!.StartsWith("pretrain.genotype: none given"));
        var id = created.GetProperty("id").GetGuid();
        await NasiamAppFactory.WaitForStatus(_c, id, "Succeeded");
        var retried = await _c.PostAsync($"/api/runs/{id}/retry", null);
        Assert.Equal(HttpStatusCode.Created, retried.StatusCode);
        Assert.Equal(notices, (await retried.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("notices").EnumerateArray().Select(n => n.GetString()).ToArray());
    }

    // The API's dry run: what POST /api/runs would queue, byte for byte, and nothing queued.
    [Fact]
    public async Task Preview_IsWhatCreateQueues_AndQueuesNothing()
    {
        const string body = """{"preset":"quick-demo","framework":"moco","kind":"pretrain","options":{"pretrain":{"epochs":2}}}""";
        var before = (await _c.GetFromJsonAsync<JsonElement[]>("/api/runs"))!.Length;
        var preview = await _c.PostAsync("/api/runs/preview", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        Assert.True(preview.StatusCode == HttpStatusCode.OK, await preview.Content.ReadAsStringAsync());
        var planned = await preview.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(before, (await _c.GetFromJsonAsync<JsonElement[]>("/api/runs"))!.Length);
        Assert.Contains(planned.GetProperty("notices").EnumerateArray(), n => n.GetString()!.StartsWith("pretrain.genotype: none given"));
        Assert.Equal(JsonValueKind.Null, planned.GetProperty("parentId").ValueKind);

        var created = await _c.PostAsync("/api/runs", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        var stored = RunOptions.FromJson((await _c.GetFromJsonAsync<JsonElement>($"/api/runs/{id}")).GetProperty("options").GetRawText());
        var previewed = RunOptions.FromJson(planned.GetProperty("options").GetRawText());
        Assert.Equal(stored.ToJson(), previewed.ToJson());
        Assert.Equal((2, "cpu", RunPresets.Get("quick-demo", NASiam.Core.Framework.MoCo).Heads.Dim), (previewed.Pretrain.Epochs, previewed.Device, previewed.Heads.Dim));

        // Refused as create refuses it, naming the field.
        var bad = await _c.PostAsync("/api/runs/preview", new StringContent("""{"preset":"quick-demo","options":{"search":{"epochs":0}}}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.True((await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("options.search.epochs", out _));

        // The names a body's "preset" takes.
        var presets = (await _c.GetFromJsonAsync<JsonElement[]>("/api/presets"))!;
        string[] For(string body) => presets.Where(p => p.GetProperty("for").EnumerateArray().Any(f => f.GetString() == body)).Select(p => p.GetProperty("name").GetString()!).Order().ToArray();
        Assert.Equal(RunPresets.Names.Order(), For("runs"));
        Assert.Equal(RunPresets.Names.Append(NASiam.Core.Comparison.ComparisonPresets.QuickCompare).Order(), For("comparisons"));
        Assert.All(presets, p => Assert.False(string.IsNullOrWhiteSpace(p.GetProperty("description").GetString())));
    }

    public async Task DisposeAsync()
    {
        _c.Dispose();
        await _app.DisposeAsync();
        try { Directory.Delete(_data, true); } catch (IOException) { }
    }
}

using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using NASiam.Web.Tests.Fakes;

namespace NASiam.Web.Tests.Api;

/// <summary>
/// A name is one line of visible text at every door that takes one (runs, comparisons, library genotypes): a line break
/// split log lines and list rows, and a right-to-left override showed other text than the name held.
/// </summary>
public sealed class DisplayNameDoorTests : IAsyncLifetime
{
    readonly string _data = Directory.CreateTempSubdirectory("nasiam-names-").FullName;
    NasiamAppFactory _app = null!;
    HttpClient _c = null!;

    public Task InitializeAsync()
    {
        _app = new NasiamAppFactory(_data, new ScriptedRunEngine(totalSteps: 2, stepMilliseconds: 1));
        _c = _app.Api();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() { _c.Dispose(); await _app.DisposeAsync(); }

    static async Task<string> NameError(HttpResponseMessage r)
    {
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        var errors = (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        return string.Join(" | ", errors.GetProperty("name").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task RunsComparisonsAndGenotypes_RefuseAControlOrBidiCharacterInTheName_AndStoreNothing()
    {
        Assert.Contains("U+000A, a line break", await NameError(await _c.PostAsJsonAsync("/api/runs", new { preset = "quick-demo", name = "two\nlines" })));
        Assert.Contains("U+202E", await NameError(await _c.PostAsJsonAsync("/api/runs", new { preset = "quick-demo", options = new { name = "run \u202Egnp.exe" } })));
        Assert.Contains("U+2066", await NameError(await _c.PostAsJsonAsync("/api/comparisons", new { preset = "quick-compare", framework = "simclr", name = "\u2066x" })));
        // A comparison name leaves room for its children's (" · seed N · standard linear eval"): refused as its own, not as theirs.
        Assert.Equal($"must be at most {NASiam.Core.Comparison.ComparisonPlanner.MaxNameLength} characters (got 151)",
            await NameError(await _c.PostAsJsonAsync("/api/comparisons", new { preset = "quick-compare", framework = "simclr", name = new string('c', 151) })));
        var text = NASiam.Core.Genotypes.GenotypeText.Write(NASiam.Core.Genotypes.GenotypePresets.Find("simsiam/cifar10_resnet18")!.Genotype!);
        Assert.Contains("U+0009, a tab", await NameError(await _c.PostAsJsonAsync("/api/genotypes", new { name = "a\tb", text })));

        Assert.Empty(await _c.GetFromJsonAsync<JsonElement[]>("/api/runs") ?? []);
        Assert.Empty(await _c.GetFromJsonAsync<JsonElement[]>("/api/comparisons") ?? []);
        Assert.DoesNotContain((await _c.GetFromJsonAsync<JsonElement>("/api/genotypes")).EnumerateArray(), g => g.GetProperty("source").GetString() == "imported");
    }
}

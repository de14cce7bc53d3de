using System.Net;
using NASiam.Web.Tests.Fakes;

namespace NASiam.Web.Tests.Pages;

/// <summary>Every page prerenders on the real host (a broken page fails here with its exception).</summary>
public class PagesTests() : ScriptedAppTests("pages", () => new ScriptedRunEngine(totalSteps: 8, stepMilliseconds: 5))
{
    [Fact]
    public async Task RunDetail_AfterQuickDemo_ShowsHeatmapGenotypeAndDownloads()
    {
        using var c = App.Api();
        var id = await NasiamAppFactory.CreateQuickDemo(c);
        await NasiamAppFactory.WaitForStatus(c, id, "Succeeded");
        var r = await c.GetAsync($"/runs/{id}");
        var html = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.OK, html);
        // The prerender shows the run record; the events (heatmap, charts) are read once, by the
        // interactive circuit (RunDetailLiveTests and the E2E test see them there).
        Assert.Contains("events-loading", html);
        Assert.DoesNotContain("alpha-cell", html);
        Assert.Contains("genotype-op", html);
        Assert.Contains("download-genotype-txt", html);
        Assert.Contains("checkpoints/step-0008.ckpt", html);
    }

    // A search's alphas are a download of their own (the reference keeps them outside the state dict); a
    // pre-training has none to offer.
    [Fact]
    public async Task RunDetail_OfASearch_LinksItsAlphasBesideItsStateDict()
    {
        using var c = App.Api();
        var id = await NasiamAppFactory.CreateQuickDemo(c);
        await NasiamAppFactory.WaitForStatus(c, id, "Succeeded");
        RunCheckpoints.WritePretrain(App.Services, id);
        string Html() => c.GetStringAsync($"/runs/{id}").GetAwaiter().GetResult();
        Assert.Contains($"/api/runs/{id}/export?checkpoint=pretrain", Html());
        Assert.DoesNotContain("part=alphas", Html());
        RunCheckpoints.WriteSearch(App.Services, id);
        var html = Html();
        Assert.Contains($"/api/runs/{id}/export?checkpoint=search&amp;part=alphas", html);
        Assert.Contains("export-search-alphas", html);
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/runs")]
    [InlineData("/runs/new")]
    [InlineData("/genotypes")]
    [InlineData("/compare")]
    public async Task Page_Prerenders(string path)
    {
        using var c = App.Api();
        var r = await c.GetAsync(path);
        Assert.True(r.StatusCode == HttpStatusCode.OK, await r.Content.ReadAsStringAsync());
    }

    // A typed or bookmarked address whose genotype is a reference (a preset name), not genotype text:
    // the form opens with the value kept and a notice, instead of the page failing.
    [Fact]
    public async Task NewRun_WithAGenotypeThatIsNotText_OpensTheFormWithANotice()
    {
        using var c = App.Api();
        var r = await c.GetAsync("/runs/new?genotype=standard");
        var html = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.OK, html);
        Assert.Contains("genotype-notice", html);
        Assert.Contains("is not genotype text", html);
    }
}

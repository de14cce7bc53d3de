using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Bunit;
using NASiam.Core.Comparison;
using NASiam.Web.Components.Pages;
using NASiam.Web.Tests.Fakes;

namespace NASiam.Web.Tests.Components;

public class ComparisonPageTests
{
    const string Genotype = "Genotype(predictor=[['linear_relu'], ['identity'], ['linear_silu'], ['identity'], ['linear_elu'], ['identity']])";

    static ComparisonReport Report(params (int Seed, double G, double B)[] seeds) => new ComparisonReport
    {
        Id = Guid.NewGuid(), Name = "cmp", Framework = "simclr", Backbone = "resnet-tiny", Dataset = "synthetic",
        Seeds = seeds.Select(s => s.Seed).ToArray(), GenotypeText = Genotype, Status = "succeeded", Complete = true,
        Results = seeds.SelectMany(s => new[]
        {
            new ComparisonSeedResult { Seed = s.Seed, Arm = ComparisonArms.Genotype, LinclsTop1 = s.G, LinclsTop5 = 90, KnnTop1 = 40, PretrainSeconds = 60, ImagesPerSecond = 200,
                KnnCurve = [new KnnPoint(1, 30), new KnnPoint(2, 40)] },
            new ComparisonSeedResult { Seed = s.Seed, Arm = ComparisonArms.Standard, LinclsTop1 = s.B, LinclsTop5 = 89, KnnTop1 = 38, PretrainSeconds = 50, ImagesPerSecond = 250,
                KnnCurve = [new KnnPoint(1, 29), new KnnPoint(2, 38)] },
        }).ToArray(),
    }.WithStatistics();

    [Fact]
    public async Task ThreeSeeds_ShowsPointsMeansTheCiInWords_CurvesAndBothCells()
    {
        await using var ctx = Bunit.Context();
        var page = ctx.Render<ComparisonResults>(p => p.Add(x => x.Report, Report((0, 60, 59), (1, 62.5, 60.5), (2, 61, 58))));
        Assert.Equal("+2.00 pt, 95 % CI [-0.48, 4.48], 3 seeds", page.Find(".comparison-delta").TextContent);
        var top1 = page.Find("svg.comparison-dots[data-metric='lincls_top1']");
        Assert.Equal(3, top1.QuerySelectorAll("circle.seed-point[data-arm='genotype']").Length);
        Assert.Equal(3, top1.QuerySelectorAll("circle.seed-point[data-arm='standard']").Length);
        Assert.Single(top1.QuerySelectorAll("line.ci"));
        Assert.Equal(2, top1.QuerySelectorAll("line.mean").Length);
        var knn = page.FindComponent<NASiam.Web.Components.Shared.PlotlyLineChart>().Instance; // kNN curves: 2 arms x 3 seeds
        Assert.Equal(6, knn.DrawnPoints.Count);
        Assert.All(knn.DrawnPoints.Values, n => Assert.Equal(2, n));
        Assert.Equal(6, page.Find("#comparison-genotype-cell").QuerySelectorAll(".genotype-op").Length);
        Assert.Contains("Linear D→hidden", page.Find("#comparison-baseline-cell").TextContent);
        Assert.Equal(6, page.FindAll("#comparison-seeds tbody tr").Count);
    }

    // The headline was also the linear top-1 card's caption (and, on the comparison's page, its message).
    [Fact]
    public async Task TheHeadline_IsSaidOnce()
    {
        await using var ctx = Bunit.Context();
        var report = Report((0, 60, 59), (1, 62.5, 60.5), (2, 61, 58));
        var page = ctx.Render<ComparisonResults>(p => p.Add(x => x.Report, report));
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(page.Markup, System.Text.RegularExpressions.Regex.Escape(report.Headline)));
        Assert.Empty(page.FindAll(".comparison-metric-words[data-metric='lincls_top1']"));
        Assert.Single(page.FindAll(".comparison-metric-words[data-metric='lincls_top5']")); // the other metrics keep theirs
    }

    // A difference near zero wrote its "+0.00" over the zero line's "0" label.
    [Fact]
    public async Task ADifferenceNearZero_DoesNotWriteItsLabelOverTheZeroLabel()
    {
        await using var ctx = Bunit.Context();
        static double Y(AngleSharp.Dom.IElement t) => double.Parse(t.GetAttribute("y")!, System.Globalization.CultureInfo.InvariantCulture);
        foreach (var (seeds, apart) in new[] { (new[] { (0, 60.0, 60.0), (1, 61.0, 61.0) }, false), (new[] { (0, 60.0, 59.0), (1, 62.5, 60.5), (2, 61.0, 58.0) }, true) })
        {
            var page = ctx.Render<ComparisonResults>(p => p.Add(x => x.Report, Report(seeds)));
            var svg = page.Find("svg.comparison-dots[data-metric='lincls_top1']");
            var label = svg.QuerySelector("text.difference-label")!;
            var zero = svg.QuerySelectorAll("text").Where(t => t.TextContent == "0").ToList();
            // Any zero label left sits at least a line (10 px font) away from the difference's label.
            Assert.All(zero, z => Assert.True(Math.Abs(Y(z) - Y(label)) >= 10, $"'0' at y={Y(z)}, '{label.TextContent}' at y={Y(label)}"));
            Assert.Equal(apart, zero.Count == 1); // far from zero the axis keeps its label
        }
    }

    [Fact]
    public async Task AFinishedComparisonsPage_SaysItsHeadlineOnce()
    {
        var data = Directory.CreateTempSubdirectory("nasiam-cmp-headline-").FullName;
        try
        {
            await using var app = new NasiamAppFactory(data, new ScriptedRunEngine(totalSteps: 4, stepMilliseconds: 5));
            using var c = app.Api();
            var created = await c.PostAsJsonAsync("/api/comparisons", new { preset = "quick-demo", framework = "simclr", genotype = Genotype, seeds = new[] { 0 } });
            var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
            var store = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<NASiam.Web.Runs.ComparisonStore>(app.Services);
            await using var ctx = Bunit.Context();
            ctx.Services.AddFallbackServiceProvider(app.Services);
            // As the coordinator ends a comparison: succeeded, with the headline as its message.
            store.SetStatus(id, NASiam.Web.Runs.RunStatus.Succeeded, "-", finished: true);
            var headline = ctx.Render<ComparisonDetail>(p => p.Add(x => x.Id, id)).Find(".comparison-delta").TextContent;
            Assert.False(string.IsNullOrWhiteSpace(headline));
            store.SetStatus(id, NASiam.Web.Runs.RunStatus.Succeeded, headline, finished: true);
            var page = ctx.Render<ComparisonDetail>(p => p.Add(x => x.Id, id));
            Assert.Single(page.FindAll(".mud-alert, .comparison-metric-words"), e => e.TextContent.Contains(headline));
            // The recipe both arms share, on the page and in comparison.json (a reviewer opened every child run for it).
            var recipe = page.Find("#comparison-recipe").TextContent;
            var plan = store.Get(id)!.Plan.Recipe;
            Assert.Contains($"{plan.Pretrain.Epochs} epochs, batch {plan.Pretrain.BatchSize}, ", recipe);
            Assert.Contains($"{plan.Linear.Epochs} epochs, batch {plan.Linear.BatchSize}, ", recipe);
            Assert.Contains("simclr, resnet-tiny", recipe);
            var json = await c.GetFromJsonAsync<JsonElement>($"/api/comparisons/{id}/files/comparison.json");
            Assert.Equal(plan.Pretrain.Epochs, json.GetProperty("recipe").GetProperty("pretrain").GetProperty("epochs").GetInt32());
            // The status chip is coloured as the runs list's (it was grey for Succeeded and Failed alike).
            Assert.Contains("mud-chip-color-success", page.Find("#comparison-status").ClassList);
            // Cancelling (active, waiting for its children to stop): said on the chip, and no second Cancel.
            store.SetStatus(id, NASiam.Web.Runs.RunStatus.Running, NASiam.Web.Runs.ComparisonRecord.CancellingPrefix + "waiting for 1 child run(s) to stop.", finished: false);
            page = ctx.Render<ComparisonDetail>(p => p.Add(x => x.Id, id));
            Assert.Equal("Cancelling", page.Find("#comparison-status").TextContent.Trim());
            Assert.Empty(page.FindAll("#cancel-comparison"));
            store.SetStatus(id, NASiam.Web.Runs.RunStatus.Failed, "broke", finished: true);
            page = ctx.Render<ComparisonDetail>(p => p.Add(x => x.Id, id));
            Assert.Contains("mud-chip-color-error", page.Find("#comparison-status").ClassList);
        }
        finally
        {
            try { Directory.Delete(data, true); } catch (IOException) { }
        }
    }

    [Fact]
    public async Task OneSeed_ShowsTheDifferenceWithoutACi_AndSaysWhy()
    {
        await using var ctx = Bunit.Context();
        var page = ctx.Render<ComparisonResults>(p => p.Add(x => x.Report, Report((0, 61, 60.2))));
        Assert.Equal("+0.80 pt, 1 seed (no confidence interval: it needs at least 2 seeds)", page.Find(".comparison-delta").TextContent);
        var top1 = page.Find("svg.comparison-dots[data-metric='lincls_top1']");
        Assert.Empty(top1.QuerySelectorAll("line.ci"));
        Assert.Single(top1.QuerySelectorAll("circle.difference-mean"));
        // The difference's own axis is labelled with its value (the dot read as a value on the left axis).
        Assert.Equal("+0.80", top1.QuerySelector("text.difference-label")!.TextContent);
        Assert.Contains(page.FindAll(".comparison-notice"), n => n.TextContent.Contains("one seed"));
    }

    [Fact]
    public async Task NoResultsYet_RendersPlaceholders()
    {
        await using var ctx = Bunit.Context();
        var report = new ComparisonReport { Id = Guid.NewGuid(), Name = "c", Framework = "moco", Backbone = "resnet18", Dataset = "cifar10", Seeds = [0, 1], Status = "queued" }.WithStatistics();
        var page = ctx.Render<ComparisonResults>(p => p.Add(x => x.Report, report));
        Assert.Contains("no results yet", page.Find("svg.comparison-dots").TextContent);
        Assert.Contains("No genotype yet", page.Find("#comparison-genotype-cell").TextContent);
        // Finished without a value: not measured, not "yet".
        var ended = ctx.Render<ComparisonResults>(p => p.Add(x => x.Report, report with { Status = "succeeded", FinishedAt = DateTimeOffset.UtcNow }));
        Assert.Contains("not measured", ended.Find("svg.comparison-dots").TextContent);
    }

    [Fact]
    public async Task ComparisonPages_Prerender_OnTheRealHost()
    {
        var data = Directory.CreateTempSubdirectory("nasiam-cmp-pages-").FullName;
        try
        {
            await using var app = new NasiamAppFactory(data, new ScriptedRunEngine(totalSteps: 4, stepMilliseconds: 5));
            using var c = app.Api();
            var created = await c.PostAsJsonAsync("/api/comparisons", new { preset = "quick-demo", framework = "simclr", genotype = Genotype, seeds = new[] { 0 } });
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
            foreach (var path in new[] { "/comparisons", "/comparisons/new", $"/comparisons/new?genotype={Uri.EscapeDataString(Genotype)}", $"/comparisons/{id}" })
            {
                var r = await c.GetAsync(path);
                var html = await r.Content.ReadAsStringAsync();
                Assert.True(r.StatusCode == HttpStatusCode.OK, path + ": " + html);
            }
            Assert.Contains("comparison-headline", await c.GetStringAsync($"/comparisons/{id}"));
            Assert.Contains("download-comparison-csv", await c.GetStringAsync($"/comparisons/{id}"));
        }
        finally
        {
            try { Directory.Delete(data, true); } catch (IOException) { }
        }
    }
}

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

    // The headline was also the linear top-1 card's caption (and, on the comparison's page, its message). Its card
    // then had no caption at all while the others had theirs: now it has one, pointing to the headline.
    [Fact]
    public async Task TheHeadline_IsSaidOnce_AndEveryMetricPanelHasItsCaption()
    {
        await using var ctx = Bunit.Context();
        var report = Report((0, 60, 59), (1, 62.5, 60.5), (2, 61, 58));
        var page = ctx.Render<ComparisonResults>(p => p.Add(x => x.Report, report));
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(page.Markup, System.Text.RegularExpressions.Regex.Escape(report.Headline)));
        Assert.Equal(report.Metrics.Select(m => m.Name), page.FindAll(".comparison-metric-words").Select(e => e.GetAttribute("data-metric")));
        Assert.Equal("Genotype − standard: the headline above.", page.Find(".comparison-metric-words[data-metric='lincls_top1']").TextContent.Trim());
        var top5 = report.Metrics.Single(m => m.Name == "lincls_top5").Words;
        Assert.Equal($"Genotype − standard: {top5}", page.Find(".comparison-metric-words[data-metric='lincls_top5']").TextContent.Trim());
    }

    // The difference was drawn on its own axis with no scale: +0.3 and +3 points looked alike. Now its axis has ticks
    // 1/2/2.5/5 × 10^k apart, labelled in percentage points, 0 among them, spanning the CI.
    [Theory]
    [InlineData(new[] { 60.0, 62.5, 61.0 }, new[] { 59.0, 60.5, 58.0 })]   // +2.00 pt, CI [-0.48, 4.48]
    [InlineData(new[] { 60.3, 61.2, 60.5 }, new[] { 60.0, 61.0, 60.1 })]   // +0.30 pt, CI about [0.05, 0.55]
    [InlineData(new[] { 60.0, 61.0 }, new[] { 60.0, 61.0 })]               // 0, no spread
    public async Task TheDifferenceAxis_HasTicksLabelledInPercentagePoints_CoveringTheCi(double[] g, double[] b)
    {
        await using var ctx = Bunit.Context();
        static double Num(AngleSharp.Dom.IElement e, string a) => double.Parse(e.GetAttribute(a)!, System.Globalization.CultureInfo.InvariantCulture);
        var report = Report(g.Select((v, i) => (i, v, b[i])).ToArray());
        var d = report.Metrics.Single(m => m.Name == "lincls_top1").Difference!;
        var svg = ctx.Render<ComparisonResults>(p => p.Add(x => x.Report, report)).Find("svg.comparison-dots[data-metric='lincls_top1']");
        var labels = svg.QuerySelectorAll("text.difference-tick-label").ToList();
        Assert.InRange(labels.Count, 3, 7);
        Assert.Equal(labels.Count, svg.QuerySelectorAll("line.difference-tick").Length);
        Assert.All(labels, l => Assert.EndsWith(" pt", l.TextContent));
        var values = labels.Select(l => double.Parse(l.TextContent[..^3].TrimStart('+'), System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Assert.Contains(0.0, values);
        Assert.True(values.Min() <= Math.Min(0, d.Lower ?? d.Mean) && values.Max() >= Math.Max(0, d.Upper ?? d.Mean), string.Join(", ", values));
        // Evenly spaced, top to bottom in decreasing value, and the zero line sits at the "0 pt" tick.
        var steps = values.Zip(values.Skip(1), (x, y) => Math.Round(x - y, 9)).Distinct().ToArray();
        Assert.Single(steps);
        var zeroTick = labels[Array.IndexOf(values, 0.0)];
        Assert.True(Math.Abs(Num(svg.QuerySelector("line.zero")!, "y1") + 3.5 - Num(zeroTick, "y")) < 0.02);
        // The difference's own value is written left of its dot, the tick labels right of the axis: never on each other.
        var axis = Num(svg.QuerySelector("line.difference-axis")!, "x1");
        var label = svg.QuerySelector("text.difference-label")!;
        Assert.Equal("end", label.GetAttribute("text-anchor"));
        Assert.True(Num(label, "x") < Num(svg.QuerySelector("circle.difference-mean")!, "cx") && Num(label, "x") < axis);
        Assert.All(labels, l => Assert.True(Num(l, "x") > axis));
    }

    [Theory]
    [InlineData(-0.48, 4.48, new[] { -2.0, 0, 2, 4, 6 })]
    [InlineData(0, 0.55, new[] { 0, 0.2, 0.4, 0.6 })]
    [InlineData(-1, 1, new[] { -1, -0.5, 0, 0.5, 1 })]
    [InlineData(0, 0, new[] { -1, -0.5, 0, 0.5, 1 })]
    [InlineData(-12, 0, new[] { -15, -10, -5, 0.0 })]
    public void DifferenceTicks_AreRoundAndIncludeZero(double lo, double hi, double[] expected) =>
        Assert.Equal(expected, ComparisonResults.DifferenceTicks(lo, hi).Select(t => Math.Round(t, 9)));

    // At 400 px the cost and per-seed tables scrolled sideways: they are MudBlazor responsive tables (each row a card of
    // labelled cells below their breakpoint), and the cost's difference says its unit.
    [Fact]
    public async Task CostAndPerSeedTables_StackIntoLabelledCellsOnANarrowScreen()
    {
        await using var ctx = Bunit.Context();
        var page = ctx.Render<ComparisonResults>(p => p.Add(x => x.Report, Report((0, 60, 59), (1, 62.5, 60.5))));
        var cost = page.Find("#comparison-cost");
        Assert.Contains("mud-xs-table", cost.ClassList);
        Assert.Equal(["cost", "genotype", "standard", "genotype − standard"], cost.QuerySelector("tbody tr")!.QuerySelectorAll("td").Select(td => td.GetAttribute("data-label")));
        Assert.Equal("+10.00 s", cost.QuerySelectorAll("tbody tr").First(tr => tr.TextContent.Contains("Pre-training wall time")).QuerySelectorAll("td")[3].TextContent.Trim());
        var seeds = page.Find("#comparison-seeds");
        Assert.Contains("mud-sm-table", seeds.ClassList);
        Assert.All(seeds.QuerySelectorAll("tbody td"), td => Assert.False(string.IsNullOrEmpty(td.GetAttribute("data-label"))));
        // The arm reads "standard" here as in comparison.json and comparison.csv.
        Assert.Equal(["genotype", "standard", "genotype", "standard"], seeds.QuerySelectorAll("tbody tr").Select(tr => tr.QuerySelectorAll("td")[1].TextContent.Trim()));
    }

    // A difference near zero wrote its "+0.00" over the zero line's "0" label.
    [Fact]
    public async Task ADifferenceNearZero_DoesNotWriteItsLabelOverTheZeroLabel()
    {
        await using var ctx = Bunit.Context();
        static double Num(AngleSharp.Dom.IElement t, string a) => double.Parse(t.GetAttribute(a)!, System.Globalization.CultureInfo.InvariantCulture);
        foreach (var seeds in new[] { new[] { (0, 60.0, 60.0), (1, 61.0, 61.0) }, new[] { (0, 60.0, 59.0), (1, 62.5, 60.5), (2, 61.0, 58.0) } })
        {
            var page = ctx.Render<ComparisonResults>(p => p.Add(x => x.Report, Report(seeds)));
            var svg = page.Find("svg.comparison-dots[data-metric='lincls_top1']");
            var label = svg.QuerySelector("text.difference-label")!;
            var zero = Assert.Single(svg.QuerySelectorAll("text.difference-tick-label"), t => t.TextContent == "0 pt");
            // The "0 pt" tick label starts right of where the difference's label (anchored at its end) stops.
            Assert.True(Num(zero, "x") > Num(label, "x"), $"'0 pt' at x={Num(zero, "x")}, '{label.TextContent}' ends at x={Num(label, "x")}");
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

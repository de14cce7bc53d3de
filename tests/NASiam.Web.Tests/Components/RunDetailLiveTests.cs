using System.Net.Http.Json;
using System.Text.Json;
using Bunit;
using Microsoft.Extensions.DependencyInjection;
using NASiam.Web.Components.Pages;
using NASiam.Web.Components.Shared;
using NASiam.Web.Runs;
using NASiam.Web.Tests.Fakes;

namespace NASiam.Web.Tests.Components;

/// <summary>The run page on the real app's services (store, pump, notifications) while a long run streams in.</summary>
public sealed class RunDetailLiveTests() : ScriptedAppTests("live", () => new ScriptedRunEngine(totalSteps: Steps, stepMilliseconds: 1, checkpointEvery: 500))
{
    const int Steps = 3000; // 3000 steps, alphas every 2: 1500 alpha rows per op series

    [Fact]
    public async Task LongRunStreamingIn_EverySeriesStaysWithinThePointBudget_AndThePageMissesNoEvent()
    {
        using var c = App.Api();
        await using var ctx = Bunit.Context();
        ctx.Services.AddFallbackServiceProvider(App.Services);
        var updates = new System.Collections.Concurrent.ConcurrentBag<Guid>(); // live batches the pump published, by run
        using var counter = App.Services.GetRequiredService<RunNotificationService>().Subscribe(null, u =>
        {
            if (u.Events.Count > 0) updates.Add(u.RunId);
            return Task.CompletedTask;
        });
        var id = await NasiamAppFactory.CreateQuickDemo(c);
        var page = ctx.Render<RunDetail>(p => p.Add(x => x.Id, id));

        var live = System.Diagnostics.Stopwatch.StartNew();
        int budget = 0, samples = 0, maxSeen = 0;
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while ((await NasiamAppFactory.RunJson(c, id)).GetProperty("status").GetString() != "Succeeded")
        {
            Assert.True(DateTime.UtcNow < until, "the run did not finish in 60 s");
            // No page.Render() here: the page renders on its own live updates, which is what is counted below.
            var counts = page.FindComponents<PlotlyLineChart>().SelectMany(c => c.Instance.DrawnPoints.Values).ToList();
            if (counts.Count > 0) { maxSeen = Math.Max(maxSeen, counts.Max()); samples++; }
            await Task.Delay(100);
        }
        double liveSeconds = live.Elapsed.TotalSeconds;
        var stored = await NasiamAppFactory.Events(c, id);
        // Every stored event reached the page (live, in memory), none twice: "N events" counts the view's sequence.
        page.WaitForAssertion(() => Assert.Contains($"· {stored.Count} events", page.Find("#run-progress").TextContent), TimeSpan.FromSeconds(10));
        // The run's artefacts as "name: path" items (the raw JSON overflowed its card).
        page.WaitForAssertion(() => Assert.Equal("Artefacts: search: genotype.txt", page.Find("#run-artefacts").TextContent.Trim()), TimeSpan.FromSeconds(10));

        // The worker's resident memory: the newest epoch's figures, and one chart point per throughput event (every 500 steps).
        page.WaitForAssertion(() => Assert.Equal("Worker process memory: 730 MiB resident, peak 900 MiB", page.Find(".resident-memory").TextContent.Trim()), TimeSpan.FromSeconds(10));

        budget = Math.Min(App.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<NASiam.Web.Options.NasiamWebOptions>>().Value.MaxPointsPerSeries, 600);
        var charts = page.FindComponents<PlotlyLineChart>().Select(c => c.Instance).ToList();
        var final = charts.SelectMany(c => c.DrawnPoints).ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.True(samples > 3, $"only {samples} samples while the run streamed");
        Assert.InRange(maxSeen, 1, budget);
        Assert.All(final.Values, n => Assert.InRange(n, 0, budget)); // 0: "linear top-1" of a search
        // The loss has 3000 points, drawn as min/max buckets that fill most of the budget (not thinned to a handful).
        Assert.InRange(final["loss"], budget / 2, budget);
        Assert.Equal(Steps / 500, final["rss MiB"]);
        Assert.NotEmpty(page.FindAll("rect.alpha-cell")); // the heatmap stays SVG, drawn from the same view
        // The live chart was extended in place, not redrawn per update: a redraw only when the series
        // was re-bucketed (3000 points into 600: a handful of merges), plus once for data that came
        // between the first render and plotly's first draw.
        var lossChart = charts.Single(c => c.DrawnPoints.ContainsKey("loss"));
        var merges = new SeriesBuffer(budget);
        for (int i = 0; i < Steps; i++) merges.Add(i, i);
        // In-place updates: appended points (extends) and the last bucket's refresh (tail updates). On a loaded
        // host the run ends within fewer renders (CI saw 2 extends + 2 tail updates), so they are counted together.
        Assert.True(lossChart.Updates.Extends >= 1 && lossChart.Updates.Extends + lossChart.Updates.TailUpdates >= 3, $"{lossChart.Updates}");
        Assert.InRange(lossChart.Updates.Redraws, 0, merges.Generation + 2);
        // The page rendered at most Nasiam:MaxPageRendersPerSecond times a second while the run streamed,
        // plus its first renders and one per status change, although the pump published more batches.
        int rate = App.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<NASiam.Web.Options.NasiamWebOptions>>().Value.MaxPageRendersPerSecond;
        int published = updates.Count(r => r == id);
        int allowed = (int)Math.Ceiling((liveSeconds + 1) * rate) + 6;
        Assert.True(published > allowed, $"the pump published only {published} batches in {liveSeconds:0.0} s: nothing to throttle");
        Assert.InRange(page.Instance.LiveRenders, 3, allowed);
    }

    [Fact]
    public async Task CancelOnThePage_StopsTheEngineWithinAStep_AndThePageShowsCancelled()
    {
        await using var app = new NasiamAppFactory(Directory.CreateTempSubdirectory("nasiam-cancel-").FullName,
            new ScriptedRunEngine(totalSteps: 400, stepMilliseconds: 40));
        using var c = app.Api();
        await using var ctx = Bunit.Context();
        ctx.Services.AddFallbackServiceProvider(app.Services);
        var id = await NasiamAppFactory.CreateQuickDemo(c);
        await NasiamAppFactory.WaitUntil(async () => (await NasiamAppFactory.Events(c, id, "step")).Count >= 3, TimeSpan.FromSeconds(20), "three steps");
        var dialogs = ctx.Render<MudBlazor.MudDialogProvider>();
        var page = ctx.Render<RunDetail>(p => p.Add(x => x.Id, id));
        page.WaitForAssertion(() => Assert.Contains("Running", page.Find("#run-status").TextContent), TimeSpan.FromSeconds(10));

        // Cancel asks first, as the runs list does; the run stops once the answer is yes.
        var asked = page.Find("#cancel-run").ClickAsync(new Microsoft.AspNetCore.Components.Web.MouseEventArgs());
        dialogs.WaitForAssertion(() => Assert.Equal("Cancel run", dialogs.Find(".mud-message-box__yes-button").TextContent.Trim()));
        Assert.Contains("Running", page.Find("#run-status").TextContent);
        var clicked = DateTimeOffset.UtcNow;
        await dialogs.Find(".mud-message-box__yes-button").ClickAsync(new Microsoft.AspNetCore.Components.Web.MouseEventArgs());
        await asked;
        var returned = DateTimeOffset.UtcNow;
        page.WaitForAssertion(() => Assert.Contains("Cancelled", page.Find("#run-status").TextContent), TimeSpan.FromSeconds(10));

        // The engine stopped within a step: at most the step in flight at the click was logged after it.
        var steps = (await c.GetFromJsonAsync<JsonElement>($"/api/runs/{id}/metrics?types=step&maxPoints=100000"))
            .GetProperty("events").EnumerateArray().Select(e => e.GetProperty("at").GetDateTimeOffset()).ToList();
        // (On a loaded host the click's own round trip can take longer than a 40 ms step: bounded by it.)
        int afterClick = steps.Count(at => at > clicked), afterReturn = steps.Count(at => at > returned);
        var why = $"{afterClick} steps after the click, {afterReturn} after it returned {(returned - clicked).TotalMilliseconds:0} ms later";
        Assert.True(afterReturn <= 1, why);
        Assert.True(afterClick <= 1 + (returned - clicked).TotalMilliseconds / 40, why);
        Assert.True(steps.Count < 400);
    }
}

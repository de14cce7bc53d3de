using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Playwright;

namespace NASiam.E2E;

/// <summary>Skips only when Debian's chromium is missing, and never under CI=true (.ci/run installs it and sets CI), where its absence fails.</summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public const string Chromium = "/usr/bin/chromium";
    public ChromiumFactAttribute()
    {
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase)) return;
        if (!File.Exists(Chromium)) Skip = $"{Chromium} is missing: install Debian's chromium (apt-get install -y chromium; .ci/run does it).";
    }
}

/// <summary>The app on a real Kestrel port, driven by chromium.</summary>
public class QuickDemoJourneyTests : IDisposable
{
    readonly string _data = Directory.CreateTempSubdirectory("nasiam-e2e-").FullName;
    static readonly string Artefacts = Path.Combine(AppContext.BaseDirectory, "artefacts");

    sealed class App(string data, int port) : WebApplicationFactory<Program>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseSetting("Nasiam:DataDirectory", data);
            builder.UseSetting("Nasiam:Storage", "inmemory");
            builder.UseSetting("Nasiam:QueuePollSeconds", "0.1");
            builder.UseSetting("Kestrel:Endpoints:Http:Url", $"http://127.0.0.1:{port}");
            // The real engine (NasiamEngine), as registered by the app: nothing is replaced.
        }
    }

    /// <summary>512 images in the weight half: 8 steps per epoch of 64; 4 epochs would be 32, capped at 24.</summary>
    const int SyntheticTrainSize = 1024, MaxSteps = 24;

    static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    [ChromiumFact]
    public async Task QuickDemo_LaunchedFromTheBrowser_HeatmapChangesAndGenotypeDownloads()
    {
        if (Directory.Exists(Artefacts)) Directory.Delete(Artefacts, recursive: true);
        int port = FreePort();
        await using var app = new App(_data, port);
        app.UseKestrel(port);
        app.StartServer();
        var baseUrl = $"http://127.0.0.1:{port}";

        using var pw = await Playwright.CreateAsync();
        await using var browser = await pw.Chromium.LaunchAsync(new()
        {
            ExecutablePath = ChromiumFactAttribute.Chromium, Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
        });
        var context = await browser.NewContextAsync(new() { ViewportSize = new() { Width = 1280, Height = 1000 }, AcceptDownloads = true });
        var page = await context.NewPageAsync();
        // Everything the pages load comes from the app itself (plotly.js included: no CDN).
        var foreign = new List<string>();
        var plotlyScripts = new List<(string Url, int Status)>();
        page.Request += (_, r) => { if (!r.Url.StartsWith(baseUrl, StringComparison.Ordinal) && !r.Url.StartsWith("data:", StringComparison.Ordinal) && !r.Url.StartsWith("blob:", StringComparison.Ordinal)) lock (foreign) foreign.Add(r.Url); };
        page.Response += (_, r) => { if (r.Url.Contains("/_content/Plotly.Blazor/", StringComparison.Ordinal)) lock (plotlyScripts) plotlyScripts.Add((r.Url, r.Status)); };
        await page.GotoAsync($"{baseUrl}/runs/new");
        // Scripts loaded (blazor.web.js starts the circuit); filling earlier was seen to stall on the swap to interactive.
        await page.WaitForLoadStateAsync(LoadState.NetworkIdle);

        // Blazor Server: the form reacts only once the circuit is up. An invalid value submitted until
        // the error summary appears proves it is; values typed before that could be lost.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!await page.IsVisibleAsync(".form-error-summary"))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("the new-run form never became interactive");
            await page.FillAsync("[data-field='maxStepsPerStage'] input", "not a number");
            await page.PressAsync("[data-field='maxStepsPerStage'] input", "Tab");
            await page.ClickAsync("#submit-run");
            await page.WaitForTimeoutAsync(500);
        }
        // The refused submit brings its first error into view and focuses it: wait for that before typing on, so
        // the page does not move under the clicks below.
        try { await page.WaitForFunctionAsync("() => document.activeElement?.closest(\"[data-field='maxStepsPerStage']\") != null", null, new() { Timeout = 10_000 }); }
        catch (TimeoutException) { }
        // The quick demo, shrunk from the form so the real engine finishes in seconds on 2 cores.
        await page.FillAsync("[data-field='syntheticTrainSize'] input", SyntheticTrainSize.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await page.PressAsync("[data-field='syntheticTrainSize'] input", "Tab");
        await page.FillAsync("[data-field='maxStepsPerStage'] input", MaxSteps.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await page.PressAsync("[data-field='maxStepsPerStage'] input", "Tab");
        await page.ClickAsync("#submit-run");
        await page.WaitForURLAsync(url => url.Contains("/runs/") && !url.EndsWith("/runs/new"), new() { Timeout = 30_000 });

        // Generous: on a loaded 2-core host the engine can take a minute to build the model and data.
        try { await page.WaitForSelectorAsync("rect.alpha-cell", new() { Timeout = 120_000 }); }
        catch (TimeoutException)
        {
            Directory.CreateDirectory(Artefacts);
            await page.ScreenshotAsync(new() { Path = Path.Combine(Artefacts, "failure.png"), FullPage = true });
            throw new TimeoutException("no alpha heatmap on " + page.Url + ": " + await page.InnerTextAsync("body"));
        }
        string Snapshot() => "Array.from(document.querySelectorAll('rect.alpha-cell')).map(r => r.getAttribute('data-value')).join(',')";
        var first = await page.EvaluateAsync<string>(Snapshot());
        await page.WaitForFunctionAsync($"f => ({Snapshot()}) !== f", first, new() { Timeout = 120_000, PollingInterval = 200 });
        var second = await page.EvaluateAsync<string>(Snapshot());
        Assert.NotEqual(first, second);

        try { await page.WaitForFunctionAsync("() => document.querySelector('#run-status')?.innerText.includes('Succeeded')", null, new() { Timeout = 240_000 }); }
        catch (TimeoutException)
        {
            Directory.CreateDirectory(Artefacts);
            await page.ScreenshotAsync(new() { Path = Path.Combine(Artefacts, "failure-status.png"), FullPage = true });
            using var api = new HttpClient { BaseAddress = new Uri(baseUrl) };
            var run = await api.GetStringAsync($"/api/runs/{page.Url.TrimEnd('/').Split('/')[^1]}");
            throw new TimeoutException($"the page never showed Succeeded; the API says {run[..Math.Min(400, run.Length)]}; page: {await page.InnerTextAsync("body")}");
        }
        // The page's first line is below the app bar, where a click on it lands: the status chip is the
        // element at its own centre (it was under the bar, as were the name and Cancel/Resume).
        await page.EvaluateAsync("() => window.scrollTo(0, 0)");
        Assert.True(await page.EvaluateAsync<bool>("""
            () => { const e = document.querySelector('#run-status'); const r = e.getBoundingClientRect();
                    return e.contains(document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2)); }
            """), "the run's status chip is covered (by the app bar?)");
        // plotly.js drew the loss chart in the browser: its svg has a line with the run's points (and
        // the mode bar that zooms and exports PNG).
        const string LossLine = "Array.from(document.querySelectorAll(\".plotly-line-chart[data-title='Loss'] .js-plotly-plot svg.main-svg path.js-line\")).map(p => p.getAttribute('d') || '').join('')";
        try { await page.WaitForFunctionAsync($"() => ({LossLine}).split(/[ML]/).filter(s => s.trim()).length >= 10", null, new() { Timeout = 30_000 }); }
        catch (TimeoutException)
        {
            Directory.CreateDirectory(Artefacts);
            await page.ScreenshotAsync(new() { Path = Path.Combine(Artefacts, "failure-chart.png"), FullPage = true });
            throw new TimeoutException("no plotly loss line on " + page.Url + ": " + await page.InnerHTMLAsync(".plotly-line-chart[data-title='Loss']"));
        }
        Assert.Equal(1, await page.Locator(".plotly-line-chart[data-title='Loss'] .modebar-btn[data-title*='download plot as a png' i]").CountAsync()); // shown on hover
        lock (plotlyScripts) Assert.Contains(plotlyScripts, r => r.Url.Contains("plotly-basic-", StringComparison.Ordinal) && r.Status == 200);
        lock (foreign) Assert.True(foreign.Count == 0, "requests outside the app: " + string.Join(", ", foreign));
        Directory.CreateDirectory(Artefacts);
        await page.ScreenshotAsync(new() { Path = Path.Combine(Artefacts, "run-page.png"), FullPage = true });

        // The charts follow the theme: a transparent paper, dark tick labels in light mode, light ones in dark mode.
        const string Chart = ".plotly-line-chart[data-title='Loss']";
        const string TickBrightness = "(() => { const c = getComputedStyle(document.querySelector(\"" + Chart + " .xtick text\")).fill.match(/[\\d.]+/g).map(Number); return (c[0] + c[1] + c[2]) / 3; })()";
        Assert.Equal("rgba(0, 0, 0, 0)", await page.EvaluateAsync<string>("getComputedStyle(document.querySelector(\"" + Chart + " svg.main-svg\")).backgroundColor"));
        Assert.True(await page.EvaluateAsync<double>(TickBrightness) < 128, "tick labels not dark in light mode");
        await page.ClickAsync("button[aria-label='toggle theme']");
        await page.WaitForFunctionAsync("() => " + TickBrightness + " > 128", null, new() { Timeout = 10_000 });
        await page.ScreenshotAsync(new() { Path = Path.Combine(Artefacts, "run-page-dark.png"), FullPage = true });
        await page.ClickAsync("button[aria-label='toggle theme']");

        // The form's values reached the engine: the run did exactly MaxSteps search steps.
        using var http = new HttpClient { BaseAddress = new Uri(baseUrl) };
        var runId = page.Url.TrimEnd('/').Split('/')[^1];
        var steps = await http.GetStringAsync($"/api/runs/{runId}/metrics?types=step&maxPoints=100000");
        using (var doc = System.Text.Json.JsonDocument.Parse(steps))
            Assert.Equal(MaxSteps, doc.RootElement.GetProperty("events").GetArrayLength());

        var download = await page.RunAndWaitForDownloadAsync(() => page.ClickAsync("#download-genotype-txt"));
        var saved = Path.Combine(Artefacts, "genotype.txt");
        await download.SaveAsAsync(saved);
        // The form's default quick demo is SimCLR's (one default for every door), whose only cell is the projection head ("predictor").
        var genotype = NASiam.Core.Genotypes.GenotypeText.Parse(await File.ReadAllTextAsync(saved));
        NASiam.Core.Genotypes.GenotypeRules.ValidateFields(genotype, NASiam.Core.Options.RunPresets.QuickDemoDefaultFramework);
        Assert.NotNull(genotype.Predictor);

        // The Genotypes page: every row's actions, "Compare vs standard" included, lie inside the table
        // (it was clipped at the table's right edge at 1000 px), and nothing scrolls sideways: side by side
        // with the Import/Compare panel (1280 px) and stacked above it (1000 px).
        foreach (var width in new[] { 1280, 1000 })
        {
            await page.SetViewportSizeAsync(width, 1000);
            await page.GotoAsync($"{baseUrl}/genotypes");
            await page.WaitForSelectorAsync("a.compare-genotype");
            var overflow = await page.EvaluateAsync<string>("""
                () => { const t = document.querySelector('.mud-table-container'); const box = t.getBoundingClientRect();
                        const out = Array.from(document.querySelectorAll('tbody td:last-child a, tbody td:last-child button'))
                          .filter(b => b.getBoundingClientRect().right > box.right + 0.5).map(b => b.innerText);
                        return (t.scrollWidth > t.clientWidth + 1 ? 'table scrolls sideways; ' : '') + out.join(', '); }
                """);
            await page.ScreenshotAsync(new() { Path = Path.Combine(Artefacts, $"genotypes-{width}.png"), FullPage = true });
            Assert.True(overflow.Length == 0, $"at {width} px, past the table's right edge: {overflow}");
            // Picking A and B far down the list: the Compare panel's diagrams are on screen, and the rows are marked.
            var rows = page.Locator("tbody tr");
            await rows.Nth(1).Locator("button.pick-b").ClickAsync();
            await rows.Last.Locator("button.pick-a").ClickAsync(); // scrolls down to the last row
            await page.WaitForSelectorAsync("tr.chosen-a");
            if (width == 1280)
                Assert.True(await page.EvaluateAsync<bool>("""
                    () => { const r = document.querySelector('#genotype-side').getBoundingClientRect(); return r.bottom > 72 && r.top < window.innerHeight; }
                    """), "the Compare panel is off screen after picking the last row");
        }
    }

    public void Dispose()
    {
        try { Directory.Delete(_data, true); } catch (IOException) { }
    }
}

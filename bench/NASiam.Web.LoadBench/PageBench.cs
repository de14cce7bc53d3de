using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using NASiam.Core;
using NASiam.Core.Options;
using NASiam.Core.Reporting;
using NASiam.Web.Runs;

namespace NASiam.Web.LoadBench;

/// <summary>
/// The run page users watch (Blazor Server circuits in headless Chromium), not the hub:
/// (c) a finished synthetic run the size of a real search (100 epochs × 48 steps, alphas every
/// 2 steps): time to open the page (prerender, and until the interactive charts are drawn), its
/// HTML bytes, and server memory per open page; (d) N pages open on a live quick-demo run: training
/// steps/s against no page, server render time per live update (p50/p95, the page's own opt-in
/// timing read over EventPipe: <see cref="RenderTimings"/>), WebSocket bytes per update received by
/// each page (all frames ÷ updates, and the frame sizes), updates per page.
/// </summary>
public static class PageBench
{
    public const string Chromium = "/usr/bin/chromium";

    /// <summary>The page is interactive and plotly drew a line with points (a chart that still says "No data yet" does not count).</summary>
    const string ChartsDrawn = "() => window.Blazor && Array.from(document.querySelectorAll('.js-plotly-plot svg.main-svg path.js-line')).some(p => (p.getAttribute('d') || '').length > 20)";

    /// <summary>Writes the synthetic finished run into the data directory (before the server starts); returns its id.</summary>
    public static Guid SeedLongRun(string dataDirectory, int epochs = 100, int stepsPerEpoch = 48, int alphaEvery = 2)
    {
        var store = new RunStore(new RunPaths(dataDirectory).RunDatabase);
        var id = Guid.NewGuid();
        var options = RunPresets.QuickDemoFor(Framework.SimSiam) with { Kind = RunKind.Search, Name = "bench 100x48 search" };
        store.Insert(new RunRecord
        {
            Id = id, Name = options.Name!, Kind = RunKind.Search, Framework = options.Framework, Backbone = options.Backbone, Dataset = options.Dataset,
            Device = "cpu", Status = RunStatus.Succeeded, OptionsJson = options.ToJson(), CreatedAt = DateTimeOffset.UtcNow,
        });
        string[] ops = ["identity", "avgpool_3x3", "linear_relu", "linear_elu", "linear_leakyrelu", "linear_hardswish", "linear_silu"];
        var rng = new Random(1);
        long seq = 0;
        var t = DateTimeOffset.UtcNow.AddHours(-3);
        var batch = new List<TrainingEvent>();
        TrainingEvent E(TrainingEvent e, string stage = "search") => e with { RunId = id, Sequence = seq++, At = t = t.AddMilliseconds(900), Stage = stage };
        batch.Add(E(new RunStarted { Kind = "search" }, "run"));
        batch.Add(E(new StageStarted { TotalEpochs = epochs, TotalSteps = epochs * stepsPerEpoch, StepsPerEpoch = stepsPerEpoch, Device = "cpu" }));
        CellAlphas Cell(string name, int layers, long step) => new(name, ops, Enumerable.Range(0, layers).Select(l =>
        {
            var w = ops.Select((_, o) => Math.Exp(Math.Sin(l + 2 * o) + (o == (l * 3 + 1) % 7 ? step / 2000.0 : 0) + rng.NextDouble() * 0.05)).ToArray();
            var sum = w.Sum();
            var p = w.Select(x => x / sum).ToArray();
            var best = Array.IndexOf(p, p.Max());
            return new AlphaLayer(l, p, ops[best], -p.Sum(x => x * Math.Log(x)), p.Max() - p.OrderDescending().Skip(1).First());
        }).ToArray());
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            for (int s = 1; s <= stepsPerEpoch; s++)
            {
                long step = epoch * stepsPerEpoch + s;
                batch.Add(E(new StepLogged { Epoch = epoch, Step = step, Loss = -0.5 - 0.4 * step / (epochs * stepsPerEpoch) + rng.NextDouble() * 0.02, ArchLoss = -0.45,
                    LearningRates = new Dictionary<string, double> { ["encoder"] = 0.03, ["predictor"] = 0.03, ["alpha"] = 3e-4 } }));
                if (step % alphaEvery == 0)
                    batch.Add(E(new AlphasLogged { Epoch = epoch, Step = step, Cells = [Cell("encoder", 6, step), Cell("predictor", 4, step)], GenotypeText = "Genotype(bench)" }));
            }
            long end = (epoch + 1) * stepsPerEpoch;
            batch.Add(E(new CollapseLogged { Epoch = epoch, Step = end, Output = "z", Dimension = 2048, NormalizedStd = 0.02, StdRatio = 0.9, EffectiveRank = 300, Alignment = 0.4, Uniformity = -2, ProbeSize = 256 }));
            batch.Add(E(new ThroughputLogged { Epoch = epoch, Step = end, ImagesPerSecond = 30, DataSecondsPerStep = 0.05, ComputeSecondsPerStep = 1.7 }));
            batch.Add(E(new CheckpointSaved { Name = "search", Path = "checkpoints/search.ckpt", Epoch = epoch + 1, Step = end }));
            if (batch.Count > 2000) { store.Append(id, batch); batch.Clear(); }
        }
        batch.Add(E(new GenotypeDerived { GenotypeText = "Genotype(bench)" }));
        batch.Add(E(new StageFinished { Outcome = RunOutcome.Succeeded }));
        store.Append(id, batch);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        return id;
    }

    public static async Task RunAsync(BenchServer server, Guid longRun, int[] viewerCounts, long loadSteps, int opens)
    {
        var inv = CultureInfo.InvariantCulture;
        using var http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromMinutes(5) };
        using var pw = await Playwright.CreateAsync();
        await using var browser = await pw.Chromium.LaunchAsync(new()
        {
            ExecutablePath = Chromium, Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
        });
        var url = new Uri(server.BaseAddress, $"/runs/{longRun}").ToString();
        await using var timings = RenderTimings.Start(server.ProcessId);
        long events = (await http.GetFromJsonAsync<JsonElement>($"/api/runs/{longRun}/metrics?types=run_started&maxPoints=10")).GetProperty("lastSequence").GetInt64() + 1;

        // (c) the finished long run.
        var prerender = new List<double>();
        var interactive = new List<double>();
        long htmlBytes = 0;
        for (int i = 0; i < opens; i++)
        {
            var sw = Stopwatch.StartNew();
            var html = await http.GetStringAsync(url);
            prerender.Add(sw.Elapsed.TotalMilliseconds);
            htmlBytes = html.Length;
            var page = await browser.NewPageAsync();
            sw.Restart();
            await page.GotoAsync(url, new() { Timeout = 120_000 });
            // Interactive: the circuit re-rendered the page (the events caption is drawn by the circuit's render too).
            await page.WaitForFunctionAsync(ChartsDrawn, null, new() { Timeout = 120_000 });
            await page.WaitForLoadStateAsync(LoadState.NetworkIdle);
            interactive.Add(sw.Elapsed.TotalMilliseconds);
            await page.CloseAsync();
        }
        Console.WriteLine();
        Console.WriteLine($"(c) finished synthetic search, 100 epochs × 48 steps, alphas every 2 steps ({events} events), run page:");
        await Task.Delay(1500); // EventPipe delivers in batches
        var histories = timings.TakeHistories();
        Console.WriteLine($"    prerender (GET) median {Median(prerender):0} ms, {htmlBytes / 1024.0:0} KiB HTML · open until interactive, charts drawn and idle median {Median(interactive):0} ms ({opens} opens)");
        Console.WriteLine($"    server: the circuit's one read of the events, folded and rendered: median {Median(histories):0} ms ({histories.Count} loads)");

        long rss0 = server.RssBytes();
        var open = new List<IPage>();
        int memPages = Math.Max(1, viewerCounts.Max());
        for (int i = 0; i < memPages; i++)
        {
            var p = await browser.NewPageAsync();
            await p.GotoAsync(url, new() { Timeout = 120_000 });
            await p.WaitForFunctionAsync(ChartsDrawn, null, new() { Timeout = 120_000 });
            open.Add(p);
        }
        await Task.Delay(2000);
        long rss1 = server.RssBytes();
        Console.WriteLine($"    server memory per open page (RSS delta over {memPages} circuits): {(rss1 - rss0) / (double)memPages / (1 << 20):0.0} MiB");
        foreach (var p in open) await p.CloseAsync();

        // (d) N pages on a live quick demo.
        Console.WriteLine();
        Console.WriteLine($"(d) quick demo capped at {loadSteps} steps, N run pages (Chromium circuits) open on it:");
        Console.WriteLine("    pages  steps/s  vs 0 pages  updates/page  render ms p50 / p95  bytes/update  frames B median / p95  pages saw the end  open s");
        double? baseline = null;
        var demo = RunPresets.QuickDemoFor(Framework.SimSiam);
        foreach (var n in viewerCounts)
        {
            // Queued behind a gate run while the pages open, so that every page is open from the first step.
            // (Without it the 50-page row printed 0 updates per page with all 50 pages showing the end: on the
            // loaded host the pages took longer to open than the 48-step run took to finish, so they joined
            // after it, rendered its end from the stored record, and no live update was left to count.)
            var run = await GatedRun.QueueAsync(http, demo with { Name = $"bench {n} pages", MaxStepsPerStage = loadSteps });
            var id = run.Id;
            var frames = new List<int>[n];
            var pages = new List<IPage>();
            var counting = new System.Runtime.CompilerServices.StrongBox<bool>(false);
            async Task<IPage> Open(List<int> list)
            {
                var p = await browser.NewPageAsync();
                p.WebSocket += (_, ws) => ws.FrameReceived += (_, f) => { if (Volatile.Read(ref counting.Value)) lock (list) list.Add(f.Binary?.Length ?? f.Text?.Length ?? 0); };
                await p.GotoAsync(new Uri(server.BaseAddress, $"/runs/{id}").ToString(), new() { Timeout = 120_000 });
                await p.WaitForFunctionAsync("() => window.Blazor && document.querySelector('#run-progress') && !document.querySelector('#events-loading')", null, new() { Timeout = 120_000 });
                await p.WaitForLoadStateAsync(LoadState.NetworkIdle);
                return p;
            }
            for (int i = 0; i < n; i++) frames[i] = [];
            // Five at a time; the run stays queued until all are open.
            var opening = Stopwatch.StartNew();
            foreach (var chunk in frames.Chunk(5)) pages.AddRange(await Task.WhenAll(chunk.Select(Open)));
            double openSeconds = opening.Elapsed.TotalSeconds;
            // From when every page is open and idle: live updates only, not the page loads.
            await Task.Delay(1000);
            timings.TakeUpdates();
            Volatile.Write(ref counting.Value, true);
            string openStatus = await GatedRun.StatusAsync(http, id);
            await run.ReleaseAsync();
            string status;
            var sw = Stopwatch.StartNew();
            while ((status = (await http.GetFromJsonAsync<JsonElement>($"/api/runs/{id}")).GetProperty("run").GetProperty("status").GetString()!) is "Queued" or "Running")
            {
                if (sw.Elapsed > TimeSpan.FromMinutes(10)) throw new TimeoutException($"run {id} still {status}");
                await Task.Delay(250);
            }
            var metrics = await http.GetFromJsonAsync<JsonElement>($"/api/runs/{id}/metrics?types=step&maxPoints=100000");
            var steps = metrics.GetProperty("events").EnumerateArray().Select(e => (Step: e.GetProperty("step").GetInt64(), At: e.GetProperty("at").GetDateTimeOffset())).ToList();
            double sps = steps.Count > 1 ? (steps[^1].Step - steps[0].Step) / (steps[^1].At - steps[0].At).TotalSeconds : double.NaN;
            baseline ??= sps;
            int sawEnd = 0;
            foreach (var p in pages)
            {
                try { await p.WaitForFunctionAsync($"() => document.querySelector('#run-status')?.innerText.includes('{status}')", null, new() { Timeout = 15_000 }); sawEnd++; }
                catch (TimeoutException) { }
            }
            await Task.Delay(1500); // EventPipe delivers in batches
            var renders = timings.TakeUpdates();
            // All frames a page received (render batches, plotly calls, pings) over the live updates the
            // server rendered for it; and the sizes of frames larger than SignalR pings/acks.
            var all = frames.SelectMany(f => { lock (f) return f.ToList(); }).ToList();
            var updates = all.Where(b => b > 200).Select(b => (double)b).ToList();
            // "Queued" is the normal case; a page set that opened after the run had ended is said so instead of "0".
            var perPage = n == 0 ? "-" : openStatus != "Queued" && renders.Count == 0 ? $"joined {openStatus}" : (renders.Count / (double)n).ToString("0", inv);
            var render = n == 0 || renders.Count == 0 ? "-" : $"{Percentile(renders, 0.5):0.00} / {Percentile(renders, 0.95):0.00}";
            var perUpdate = n == 0 || renders.Count == 0 ? "-" : (all.Sum(b => (long)b) / (double)renders.Count).ToString("0", inv);
            var bytes = n == 0 ? "-" : $"{Median(updates):0} / {Percentile(updates, 0.95):0}";
            Console.WriteLine($"    {n,5}  {sps,7:0.00}  {(sps / baseline.Value - 1) * 100,+9:+0.0;-0.0}%  {perPage,12}  {render,19}  {perUpdate,12}  {bytes,21}  {(n == 0 ? "-" : $"{sawEnd}/{n}"),17}  {(n == 0 ? "-" : openSeconds.ToString("0", inv)),6}");
            foreach (var p in pages) await p.CloseAsync();
        }
    }

    static double Median(List<double> v) => Percentile(v, 0.5);

    static double Percentile(List<double> values, double q)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToArray();
        return sorted[(int)Math.Clamp(Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];
    }
}

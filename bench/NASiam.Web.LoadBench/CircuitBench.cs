using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using NASiam.Core;
using NASiam.Core.Options;

namespace NASiam.Web.LoadBench;

/// <summary>
/// The run page users watch, held open by N browserless viewers (<see cref="CircuitClient"/>: real Blazor
/// Server circuits, no Chromium sharing the cores): (e) one live quick demo per N — training steps/s
/// against no viewer (over the whole run, and over the window in which all N were open), the step at
/// which the last viewer was ready, render batches per circuit, the server's render time per live
/// update (p50/p95, RunPageEventSource over EventPipe), render-batch bytes per update, server memory per
/// circuit (RSS delta ÷ N) and how many circuits received the final status.
/// </summary>
public static class CircuitBench
{
    public static async Task RunAsync(BenchServer server, int[] counts, long loadSteps)
    {
        var inv = CultureInfo.InvariantCulture;
        using var http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromMinutes(5) };
        await using var timings = RenderTimings.Start(server.ProcessId);
        var demo = RunPresets.QuickDemoFor(Framework.SimSiam);

        Console.WriteLine();
        Console.WriteLine($"(e) quick demo capped at {loadSteps} steps, N run pages held by circuit clients (blazorpack, no browser):");
        Console.WriteLine("    circuits  steps/s    vs 0   all open at  batches/circuit  render ms p50 / p95  bytes/update  batch B p50 / p95  MiB/circuit open / end  saw the end  open s  CPU s server / clients");
        double? baseline = null;
        var diagnostics = new List<string>();
        var rows = new List<(int N, double StepsPerSecond, double ServerCpu, double ClientCpu, int Updates)>();
        foreach (var n in counts)
        {
            // Queued behind a gate run while the circuits open: every circuit is open from the first step.
            var run = await GatedRun.QueueAsync(http, demo with { Name = $"bench {n} circuits", MaxStepsPerStage = loadSteps });
            var id = run.Id;
            var page = new Uri(server.BaseAddress, $"/runs/{id}");

            long rss0 = server.RssBytes();
            var sw = Stopwatch.StartNew();
            var clients = Enumerable.Range(0, n).Select(_ => new CircuitClient(page, watchText: "Succeeded")).ToList();
            try
            {
                // Ten at a time: a crowd opening the page at once, without 100 simultaneous history reads.
                foreach (var chunk in clients.Chunk(10)) await Task.WhenAll(chunk.Select(c => c.StartAsync(http)));
                double openSeconds = sw.Elapsed.TotalSeconds;
                long rss1 = server.RssBytes();
                long readyAt = Stopwatch.GetTimestamp();
                var bytesAtReady = clients.Select(c => c.BytesReceived).ToArray();
                var readyWall = DateTimeOffset.UtcNow;
                timings.TakeUpdates(); // page loads are not live updates
                string readyStatus = await GatedRun.StatusAsync(http, id);
                double serverCpu0 = server.CpuSeconds(), clientCpu0 = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
                await run.ReleaseAsync();

                string status;
                while ((status = (await http.GetFromJsonAsync<JsonElement>($"/api/runs/{id}")).GetProperty("run").GetProperty("status").GetString()!) is "Queued" or "Running")
                {
                    if (sw.Elapsed > TimeSpan.FromMinutes(10)) throw new TimeoutException($"run {id} still {status}");
                    await Task.Delay(250);
                }
                if (status != "Succeeded") throw new InvalidOperationException($"run {id} ended {status}");
                // CPU the web server (circuits, renders, the progress pump; training runs in a child
                // process) and these clients used while the run trained, as a share of one core.
                // CPU seconds (work done) rather than a share of wall time: the wall time stretches with other load.
                double serverCpu = server.CpuSeconds() - serverCpu0, clientCpu = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds - clientCpu0;
                var until = DateTime.UtcNow.AddSeconds(15);
                while (clients.Any(c => c.WatchSeenAt < 0) && DateTime.UtcNow < until) await Task.Delay(100);
                await Task.Delay(1500); // EventPipe delivers in batches
                var renders = timings.TakeUpdates();
                long rss2 = server.RssBytes();

                var metrics = await http.GetFromJsonAsync<JsonElement>($"/api/runs/{id}/metrics?types=step&maxPoints=100000");
                var steps = metrics.GetProperty("events").EnumerateArray().Select(e => (Step: e.GetProperty("step").GetInt64(), At: e.GetProperty("at").GetDateTimeOffset())).ToList();
                double sps = Rate(steps);
                baseline ??= sps;
                long readyStep = steps.Where(s => s.At < readyWall).Select(s => s.Step).DefaultIfEmpty(0).Max();

                var batches = clients.Select(c => (double)c.BatchesSince(readyAt)).ToList();
                // Everything the circuits received in the live phase (render batches, the plotly
                // extendTraces/update calls, pings) over the live updates the server rendered for them.
                long liveBytes = clients.Select((c, i) => c.BytesReceived - bytesAtReady[i]).Sum();
                var sizes = clients.SelectMany(c => c.BatchSizesSince(readyAt)).Select(b => (double)b).ToList();
                // Seen live: after the release (a queued run's page cannot show "Succeeded" in its first renders).
                int sawEnd = clients.Count(c => c.WatchSeenAt >= readyAt);
                string Change(double v, double b) => double.IsNaN(v) ? "-" : ((v / b - 1) * 100).ToString("+0.0;-0.0", inv) + "%";
                // Queued: every circuit saw every step (the gate held the run). Otherwise the step reached when the last was ready.
                string ready = n == 0 ? "-" : readyStatus == "Queued" ? "queued" : readyStatus == "Running" ? $"step {readyStep}/{steps.Count}" : $"after the end ({readyStatus})";
                Console.WriteLine(string.Join("  ",
                    $"    {n,8}", $"{sps,7:0.00}", $"{Change(sps, baseline.Value),6}",
                    $"{ready,13}",
                    $"{(n == 0 ? "-" : $"{Percentile(batches, 0.5):0} (min {batches.Min():0})"),15}",
                    $"{(renders.Count == 0 ? "-" : $"{Percentile(renders, 0.5):0.00} / {Percentile(renders, 0.95):0.00}"),19}",
                    $"{(renders.Count == 0 ? "-" : (liveBytes / (double)renders.Count).ToString("0", inv)),12}",
                    $"{(sizes.Count == 0 ? "-" : $"{Percentile(sizes, 0.5):0} / {Percentile(sizes, 0.95):0}"),17}",
                    $"{(n == 0 ? "-" : $"{(rss1 - rss0) / (double)n / (1 << 20):0.00} / {(rss2 - rss0) / (double)n / (1 << 20):0.00}"),13}",
                    $"{(n == 0 ? "-" : $"{sawEnd}/{n}"),11}",
                    $"{(n == 0 ? "-" : openSeconds.ToString("0.0", inv)),6}",
                    $"{serverCpu,9:0.0} / {clientCpu:0.0}"));
                rows.Add((n, sps, serverCpu, clientCpu, renders.Count));
                if (n > 0)
                {
                    var errors = clients.SelectMany(c => c.Errors).ToList();
                    diagnostics.Add($"{n} circuits: {renders.Count} live updates rendered ({renders.Count / (double)n:0.0} per circuit), " +
                        $"hub bytes per circuit {clients.Average(c => (double)c.BytesReceived) / 1024:0} KiB in all, " +
                        // The JS calls once (they are the same page's calls on every row).
                        (diagnostics.Count == 0 ? $"JS calls answered per circuit: {string.Join(", ", clients[0].JsCalls.OrderByDescending(k => k.Value).Select(k => $"{k.Key} ×{k.Value}"))}" : $"{clients[0].JsCalls.Values.Sum()} JS calls answered per circuit") +
                        (errors.Count > 0 ? $"; {errors.Count} client errors/warnings: {string.Join(" | ", errors.Distinct().Take(5))}" : "; no client errors"));
                }
            }
            finally
            {
                foreach (var c in clients) await c.DisposeAsync();
            }
            await Task.Delay(2000); // let the server drop the circuits before the next row's RSS baseline
        }
        Console.WriteLine("    (steps/s: engine time between first and last step; the run waits behind a gate run until every circuit is open (\"queued\");");
        Console.WriteLine("     batches, render times and bytes: from then on; bytes/update: all hub messages the circuits received ÷ live updates rendered for them; MiB/circuit: server RSS delta ÷ N with the circuits open, and at the run's end;");
        Console.WriteLine("     CPU s: CPU seconds the web server process (circuits, renders, progress pump; training runs in a child process) and this client process used while the run trained)");
        foreach (var d in diagnostics) Console.WriteLine("    " + d);
        if (rows.Any(r => r.N == 0))
        {
            // Medians per count (repeat counts, e.g. --circuits 0,50,0,50,0,50, so that one run disturbed by other
            // work on the host does not decide the verdict), each against the median of the 0 rows; and the
            // server's CPU per circuit and live update above the 0 rows (the first row also pays the server's JIT).
            double zero = Median(rows.Where(r => r.N == 0).Select(r => r.StepsPerSecond));
            double zeroCpu = Median(rows.Where(r => r.N == 0).Select(r => r.ServerCpu));
            Console.WriteLine("    medians per count:            circuits  runs  steps/s   vs 0  CPU s server / clients  server CPU ms per circuit-update (above the 0 rows)");
            foreach (var g in rows.GroupBy(r => r.N).OrderBy(g => g.Key))
            {
                double m = Median(g.Select(r => r.StepsPerSecond));
                string perUpdate = g.Key == 0 ? "-" : Median(g.Where(r => r.Updates > 0).Select(r => (r.ServerCpu - zeroCpu) * 1000 / r.Updates)).ToString("0.00", CultureInfo.InvariantCulture);
                Console.WriteLine($"    {g.Key,37}  {g.Count(),4}  {m,7:0.00}  {(m / zero - 1) * 100,+5:+0.0;-0.0}%  {Median(g.Select(r => r.ServerCpu)),10:0.0} / {Median(g.Select(r => r.ClientCpu)):0.0}  {perUpdate,12}");
            }
        }
    }

    static double Median(IEnumerable<double> values) => Percentile(values.Where(v => !double.IsNaN(v)).ToList(), 0.5);

    static double Rate(List<(long Step, DateTimeOffset At)> steps) =>
        steps.Count > 1 ? (steps[^1].Step - steps[0].Step) / (steps[^1].At - steps[0].At).TotalSeconds : double.NaN;

    static double Percentile(List<double> values, double q)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToArray();
        return sorted[(int)Math.Clamp(Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using NASiam.Core;
using NASiam.Core.Options;
using NASiam.Web.LoadBench;

// Measurements on loopback (not a test): (a) engine event → SignalR client latency over a quick-demo
// run; (b) training steps/s of one quick-demo run while 0..N dashboards are subscribed to it.
// Usage: dotnet run -c Release --project bench/NASiam.Web.LoadBench -- [--clients 0,1,10,50,100,200]
//        [--steps 24] [--skip-latency] [--web-dll PATH]
//   or  ... -- --pages [--viewers 0,1,10,50] [--steps 24] [--opens 5]: the run page in headless Chromium (PageBench).
//   or  ... -- --circuits 0,1,10,50,100 [--steps 48]: the run page held by browserless Blazor circuit clients (CircuitBench).
var inv = CultureInfo.InvariantCulture;
string Arg(string name, string fallback) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback; }
var clientCounts = Arg("--clients", "0,1,10,50,100,200").Split(',').Select(s => int.Parse(s, inv)).ToArray();
if (clientCounts.Any(c => c is < 0 or > 1000)) throw new ArgumentException("--clients: each count must be between 0 and 1000");
long loadSteps = long.Parse(Arg("--steps", "24"), inv);
var appRoot = FindAppRoot();
var webDll = Arg("--web-dll", Path.Combine(appRoot, "src", "NASiam.Web", "bin", BuildConfiguration(), "net10.0", "NASiam.Web.dll"));

Console.WriteLine($"NASiam.Web load benchmark · {Environment.ProcessorCount} cores · load average {File.ReadAllText("/proc/loadavg").Trim()} · server {webDll}");
bool pages = args.Contains("--pages");
if (args.Contains("--circuits"))
{
    var circuits = Arg("--circuits", "0,1,10,50").Split(',').Select(s => int.Parse(s, inv)).ToArray();
    if (circuits.Any(c => c is < 0 or > 1000)) throw new ArgumentException("--circuits: each count must be between 0 and 1000");
    // Development, like --pages: the same server configuration as the Chromium figures.
    await using var circuitServer = await BenchServer.StartAsync(webDll, appRoot, null, "Development");
    await CircuitBench.RunAsync(circuitServer, circuits, loadSteps);
    Console.WriteLine($"load average after: {File.ReadAllText("/proc/loadavg").Trim()}");
    return 0;
}
Guid longRun = Guid.Empty;
await using var server = await BenchServer.StartAsync(webDll, appRoot, pages ? data => longRun = PageBench.SeedLongRun(data) : null,
    pages ? "Development" : "Production");
if (pages)
{
    // The run page users watch (headless Chromium circuits) instead of the hub.
    var viewers = Arg("--viewers", "0,1,10,50").Split(',').Select(s => int.Parse(s, inv)).ToArray();
    await PageBench.RunAsync(server, longRun, viewers, loadSteps, int.Parse(Arg("--opens", "5"), inv));
    Console.WriteLine($"load average after: {File.ReadAllText("/proc/loadavg").Trim()}");
    return 0;
}
using var http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromMinutes(5) };
var demo = RunPresets.QuickDemoFor(Framework.SimSiam);

if (!args.Contains("--skip-latency"))
{
    // (a) one dashboard over a whole quick demo.
    var (latencies, stepsPerSecond, run) = await Measure(demo with { Name = "bench latency" }, clients: 1);
    Console.WriteLine();
    Console.WriteLine($"(a) latency engine event (At) → SignalR client, quick demo ({run.Steps} steps, {run.Events} events, {latencies.Count} live):");
    Console.WriteLine($"    median {Percentile(latencies, 0.5):0.0} ms · p95 {Percentile(latencies, 0.95):0.0} ms · max {latencies.DefaultIfEmpty().Max():0.0} ms · {stepsPerSecond:0.00} steps/s");
}

// (b) the same run shape capped at loadSteps, with 0..N dashboards.
Console.WriteLine();
Console.WriteLine($"(b) quick demo capped at {loadSteps} steps, N dashboards subscribed to it:");
Console.WriteLine("    clients  steps/s  vs 0 clients  all events to all clients  latency median / p95 (ms)");
double? baseline = null;
foreach (var n in clientCounts)
{
    var (latencies, stepsPerSecond, run) = await Measure(demo with { Name = $"bench {n} clients", MaxStepsPerStage = loadSteps }, n);
    baseline ??= stepsPerSecond;
    var change = (stepsPerSecond / baseline.Value - 1) * 100;
    var complete = n == 0 ? "-" : $"{run.CompleteClients}/{n}{(run.Gaps > 0 ? $" ({run.Gaps} gaps)" : "")}";
    var lat = n == 0 ? "-" : $"{Percentile(latencies, 0.5):0} / {Percentile(latencies, 0.95):0}";
    Console.WriteLine($"    {n,7}  {stepsPerSecond,7:0.00}  {change,+11:+0.0;-0.0}%  {complete,25}  {lat}");
}
return 0;

async Task<(List<double> Latencies, double StepsPerSecond, RunStats Run)> Measure(RunOptions options, int clients)
{
    var dashboards = Enumerable.Range(0, clients).Select(_ => new DashboardClient(server.BaseAddress)).ToList();
    try
    {
        foreach (var batch in dashboards.Chunk(20)) await Task.WhenAll(batch.Select(d => d.StartAsync()));
        using var json = JsonDocument.Parse(options.ToJson());
        var created = await http.PostAsJsonAsync("/api/runs", new { options = json.RootElement });
        created.EnsureSuccessStatusCode();
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        await Task.WhenAll(dashboards.Select(d => d.SubscribeAsync(id)));

        var sw = Stopwatch.StartNew();
        string status;
        while ((status = (await http.GetFromJsonAsync<JsonElement>($"/api/runs/{id}")).GetProperty("run").GetProperty("status").GetString()!) is "Queued" or "Running")
        {
            if (sw.Elapsed > TimeSpan.FromMinutes(5)) throw new TimeoutException($"run {id} still {status} after 5 minutes");
            await Task.Delay(250);
        }
        if (status != "Succeeded") throw new InvalidOperationException($"run {id} ended {status}");

        var metrics = await http.GetFromJsonAsync<JsonElement>($"/api/runs/{id}/metrics?maxPoints=100000");
        var events = metrics.GetProperty("events").EnumerateArray().ToList();
        long lastSequence = metrics.GetProperty("lastSequence").GetInt64();
        var steps = events.Where(e => e.GetProperty("type").GetString() == "step")
            .Select(e => (Step: e.GetProperty("step").GetInt64(), At: e.GetProperty("at").GetDateTimeOffset())).ToList();
        // Engine time between the first and last step: excludes model build, data synthesis and queueing.
        double sps = steps.Count > 1 ? (steps[^1].Step - steps[0].Step) / (steps[^1].At - steps[0].At).TotalSeconds : double.NaN;

        var until = DateTime.UtcNow.AddSeconds(10);
        while (dashboards.Any(d => d.LastSequence < lastSequence) && DateTime.UtcNow < until) await Task.Delay(100);
        var stats = new RunStats(steps.Count, events.Count, dashboards.Count(d => d.LastSequence == lastSequence && d.Gaps == 0), dashboards.Sum(d => d.Gaps));
        return (dashboards.SelectMany(d => d.Latencies).ToList(), sps, stats);
    }
    finally
    {
        foreach (var d in dashboards) await d.DisposeAsync();
    }
}

static double Percentile(List<double> values, double q)
{
    if (values.Count == 0) return double.NaN;
    var sorted = values.Order().ToArray();
    return sorted[(int)Math.Clamp(Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];
}

static string FindAppRoot()
{
    for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        if (File.Exists(Path.Combine(d.FullName, "NASiam.Web.sln"))) return d.FullName;
    throw new InvalidOperationException("NASiam.Web.sln not found above " + AppContext.BaseDirectory);
}

static string BuildConfiguration() =>
    AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}") ? "Release" : "Debug";

/// <summary>What one measured run produced: step and event counts, dashboards that got every event, gaps seen.</summary>
sealed record RunStats(int Steps, int Events, int CompleteClients, int Gaps);

using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using NASiam.Core.Engine;

namespace NASiam.Web.Tests.Fakes;

/// <summary>
/// The real app on a TestServer with its own data directory; with <paramref name="engine"/> null it
/// runs the app's own registration (the real NasiamEngine, each run in a child process), else that
/// engine (a scripted one) inside the test process (Nasiam:RunIsolation=inprocess; a setting passed
/// in <paramref name="settings"/> wins).
/// </summary>
public sealed class NasiamAppFactory(string dataDirectory, IRunEngine? engine, string storage = "inmemory", string? accessKey = null,
    IReadOnlyDictionary<string, string>? settings = null)
    : WebApplicationFactory<Program>
{
    public string DataDirectory => dataDirectory;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("Nasiam:DataDirectory", dataDirectory);
        builder.UseSetting("Nasiam:Storage", storage);
        builder.UseSetting("Nasiam:QueuePollSeconds", "0.1");
        builder.UseSetting("Nasiam:AccessKey", accessKey ?? "");
        if (engine is not null) builder.UseSetting("Nasiam:RunIsolation", "inprocess");
        foreach (var (key, value) in settings ?? new Dictionary<string, string>()) builder.UseSetting(key, value);
        if (engine is not null) builder.ConfigureTestServices(s => s.Replace(ServiceDescriptor.Singleton(engine)));
    }

    public HttpClient Api(string? key = null)
    {
        var c = CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        if (key is not null) c.DefaultRequestHeaders.Add("X-Api-Key", key);
        return c;
    }

    public HubConnection Hub(string? key = null) => new HubConnectionBuilder()
        .WithUrl(new Uri(Server.BaseAddress, "/hubs/runs"), o =>
        {
            o.Transports = HttpTransportType.WebSockets;
            o.HttpMessageHandlerFactory = _ => Server.CreateHandler();
            o.WebSocketFactory = async (ctx, ct) =>
            {
                var ws = Server.CreateWebSocketClient();
                if (key is not null) ws.ConfigureRequest = r => r.Headers["X-Api-Key"] = key;
                return await ws.ConnectAsync(ctx.Uri, ct);
            };
            if (key is not null) o.Headers["X-Api-Key"] = key;
        }).Build();

    /// <summary>Polls <paramref name="probe"/> every 50 ms; on timeout the exception names <paramref name="what"/> and, when given, the <paramref name="state"/> seen last.</summary>
    public static async Task WaitUntil(Func<Task<bool>> probe, TimeSpan timeout, string what, Func<string>? state = null)
    {
        var until = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < until)
        {
            if (await probe()) return;
            await Task.Delay(50);
        }
        throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0} s waiting for {what}." + (state is null ? "" : $" Last state: {state()}"));
    }

    public static async Task<JsonElement> RunJson(HttpClient c, Guid id) =>
        (await c.GetFromJsonAsync<JsonElement>($"/api/runs/{id}")).GetProperty("run");

    public static async Task<JsonElement> WaitForStatus(HttpClient c, Guid id, string status, int seconds = 30)
    {
        JsonElement last = default;
        await WaitUntil(async () => (last = await RunJson(c, id)).GetProperty("status").GetString() == status,
            TimeSpan.FromSeconds(seconds), $"run {id} to be {status}");
        return last;
    }

    public static async Task<Guid> CreateQuickDemo(HttpClient c)
    {
        var r = await c.PostAsJsonAsync("/api/runs", new { preset = "quick-demo" });
        if (!r.IsSuccessStatusCode) throw new InvalidOperationException($"create failed: {(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");
        return (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
    }

    /// <summary>Stored events of a run as (sequence, type, step) tuples.</summary>
    public static async Task<List<(long Seq, string Type, long? Step)>> Events(HttpClient c, Guid id, string? types = null)
    {
        var m = await c.GetFromJsonAsync<JsonElement>($"/api/runs/{id}/metrics?maxPoints=100000" + (types is null ? "" : $"&types={types}"));
        return m.GetProperty("events").EnumerateArray().Select(e => (e.GetProperty("sequence").GetInt64(), e.GetProperty("type").GetString()!,
            e.TryGetProperty("step", out var s) ? s.GetInt64() : (long?)null)).ToList();
    }
}

using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using NASiam.Web.Tests.Fakes;
using NASiam.Web.Tests.ScaleOut;

namespace NASiam.Web.Tests.Api;

/// <summary>
/// The run database becomes unreachable (PostgreSQL behind a TCP proxy the test stops): /healthz said
/// 200 {"status":"ok"} on web and worker while every API call was a generic 500. Health now checks the
/// store and answers 503 naming it, and an API call failing for that reason is a 503 problem naming it.
/// </summary>
public class StorageOutageTests : IDisposable
{
    readonly string _data = Directory.CreateTempSubdirectory("nasiam-outage-").FullName;

    [PostgresFact]
    public async Task DatabaseUnreachable_HealthAndApiAnswer503NamingTheStorage_OnWebAndWorker()
    {
        var direct = new Npgsql.NpgsqlConnectionStringBuilder(PostgresCluster.NewDatabase("outage"));
        using var proxy = new TcpProxy(direct.Port);
        var viaProxy = new Npgsql.NpgsqlConnectionStringBuilder(direct.ConnectionString) { Port = proxy.Port, Timeout = 3 }.ConnectionString;
        var settings = new Dictionary<string, string> { ["Nasiam:ConnectionString"] = viaProxy, ["Nasiam:LiveEvents"] = "none" };
        await using var web = new NasiamAppFactory(_data, new ScriptedRunEngine(), storage: "postgresql", settings: settings)
            .WithWebHostBuilder(b => b.UseEnvironment("Production")); // the exception handler is off in Development
        await using var worker = new NasiamAppFactory(_data, new ScriptedRunEngine(), storage: "postgresql",
            settings: new Dictionary<string, string>(settings) { ["Nasiam:Role"] = "worker" });
        using var w = web.CreateClient();
        using var k = worker.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await w.GetAsync("/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await k.GetAsync("/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await w.GetAsync("/api/runs")).StatusCode);

        proxy.Stop();
        foreach (var c in new[] { w, k })
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var health = await c.GetAsync("/healthz");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"/healthz took {clock.Elapsed}");
            var body = JsonDocument.Parse(await health.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal("unavailable", body.GetProperty("status").GetString());
            Assert.Contains("PostgreSQL at Nasiam:ConnectionString", body.GetProperty("storage").GetString());
        }

        var api = await w.GetAsync("/api/runs");
        var text = await api.Content.ReadAsStringAsync();
        Assert.True(api.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)api.StatusCode} {text}");
        var problem = JsonDocument.Parse(text).RootElement;
        Assert.Equal("Storage unavailable", problem.GetProperty("title").GetString());
        Assert.Contains($"port {proxy.Port}", problem.GetProperty("detail").GetString());
    }

    public void Dispose()
    {
        try { Directory.Delete(_data, true); } catch (IOException) { }
    }
}

/// <summary>A loopback TCP forwarder to a local port; <see cref="Stop"/> refuses new connections and cuts the open ones (an outage).</summary>
sealed class TcpProxy : IDisposable
{
    readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    readonly List<TcpClient> _open = [];
    readonly CancellationTokenSource _stop = new();
    readonly int _target;

    public TcpProxy(int target)
    {
        _target = target;
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _ = AcceptAll();
    }

    public int Port { get; }

    async Task AcceptAll()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception) { return; }
            var server = new TcpClient();
            try { await server.ConnectAsync(IPAddress.Loopback, _target); }
            catch (SocketException) { client.Dispose(); server.Dispose(); continue; }
            lock (_open) { _open.Add(client); _open.Add(server); }
            _ = Pump(client, server);
            _ = Pump(server, client);
        }
    }

    static async Task Pump(TcpClient from, TcpClient to)
    {
        try { await from.GetStream().CopyToAsync(to.GetStream()); }
        catch (Exception) { }
        finally { from.Dispose(); to.Dispose(); }
    }

    public void Stop()
    {
        _stop.Cancel();
        _listener.Stop();
        lock (_open) foreach (var c in _open) c.Dispose();
    }

    public void Dispose() => Stop();
}

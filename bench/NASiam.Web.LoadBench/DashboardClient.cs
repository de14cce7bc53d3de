using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using NASiam.Web.Hubs;

namespace NASiam.Web.LoadBench;

/// <summary>
/// One simulated dashboard: a SignalR connection subscribed to one run. It records, per event that
/// arrives by a delta, the delay from the engine's At stamp to receipt, and checks the numbering
/// (strictly increasing, no gaps) the way the real page merges snapshot and deltas.
/// </summary>
public sealed class DashboardClient : IAsyncDisposable
{
    readonly HubConnection _connection;
    readonly object _gate = new();
    readonly List<double> _latenciesMs = [];
    long _last = -1;
    bool _snapshot;
    readonly List<RunDelta> _early = [];

    public int Gaps { get; private set; }
    public int Received { get; private set; }
    public long LastSequence { get { lock (_gate) return _last; } }
    /// <summary>Steps seen as (engine step, engine time) from step events.</summary>
    public List<(long Step, DateTimeOffset At)> Steps { get; } = [];

    public DashboardClient(Uri baseAddress)
    {
        _connection = new HubConnectionBuilder()
            .WithUrl(new Uri(baseAddress, "/hubs/runs"), o => o.Transports = HttpTransportType.WebSockets)
            .Build();
        _connection.On<RunDelta>("Delta", OnDelta);
    }

    public Task StartAsync() => _connection.StartAsync();

    public async Task SubscribeAsync(Guid runId)
    {
        var snapshot = await _connection.InvokeAsync<RunSnapshot>("Subscribe", runId);
        lock (_gate)
        {
            Apply(snapshot.Events, DateTimeOffset.UtcNow, live: false);
            _last = Math.Max(_last, snapshot.LastSequence);
            _snapshot = true;
            foreach (var d in _early) Apply(d.Events, DateTimeOffset.UtcNow, live: true);
            _early.Clear();
        }
    }

    void OnDelta(RunDelta delta)
    {
        var now = DateTimeOffset.UtcNow;
        lock (_gate)
        {
            if (!_snapshot) { _early.Add(delta); return; }
            Apply(delta.Events, now, live: true);
        }
    }

    void Apply(IReadOnlyList<JsonElement> events, DateTimeOffset receivedAt, bool live)
    {
        foreach (var e in events)
        {
            long seq = e.GetProperty("sequence").GetInt64();
            if (seq <= _last) continue;
            if (seq != _last + 1) Gaps++;
            _last = seq;
            Received++;
            var at = e.GetProperty("at").GetDateTimeOffset();
            if (live) _latenciesMs.Add((receivedAt - at).TotalMilliseconds);
            if (e.GetProperty("type").GetString() == "step") Steps.Add((e.GetProperty("step").GetInt64(), at));
        }
    }

    public IReadOnlyList<double> Latencies { get { lock (_gate) return _latenciesMs.ToArray(); } }

    public async ValueTask DisposeAsync() => await _connection.DisposeAsync();
}

using NASiam.Web.Runs.Storage;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using NASiam.Web.Options;
using NASiam.Web.Runs;
using Npgsql;

namespace NASiam.Web.Live;

/// <summary>
/// Live run events between nodes over PostgreSQL LISTEN/NOTIFY on Nasiam:ConnectionString, for
/// deployments without Redis (Nasiam:LiveEvents=postgresql, or auto with Nasiam:Storage=postgresql;
/// docs/live-events.md). Same messages and relay as <see cref="RedisRunEventBus"/>; a NOTIFY
/// payload holds at most 8000 bytes, so a larger batch is sent as its sequence range and the
/// receivers read it from the store (where it was written before it was sent). Sending goes
/// through one queue and one connection (NOTIFYs of one session are delivered in order); receiving
/// through one LISTEN connection, reconnected after a drop (what was missed is filled from the
/// store with the next message). Start-up with PostgreSQL unreachable fails naming the setting.
/// </summary>
public sealed class PostgresRunEventBus(IOptions<NasiamWebOptions> options, IServiceProvider services, ILogger<PostgresRunEventBus> log)
    : IHostedService, IRunEventOutbox, IAsyncDisposable
{
    public const string Channel = "nasiam_live_v1";
    /// <summary>NOTIFY's limit is 8000 bytes; a little is kept for the framing.</summary>
    public const int MaxPayloadBytes = 7900;

    public string Node { get; } = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}";

    NpgsqlDataSource? _source;
    volatile Channel<byte[]>? _outbound;
    readonly Channel<string> _inbound = System.Threading.Channels.Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    readonly CancellationTokenSource _stop = new();
    Task _sender = Task.CompletedTask, _listener = Task.CompletedTask, _relayLoop = Task.CompletedTask;

    public bool Active => _outbound is not null;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Value.EffectiveLiveEvents != "postgresql") return;
        try { _source = NpgsqlDataSource.Create(options.Value.ConnectionString!); }
        catch (ArgumentException e) { throw new BackingServiceUnavailableException($"Nasiam:ConnectionString is not a valid PostgreSQL connection string ({e.Message}).", e); }
        NpgsqlConnection first;
        try { first = await Listen(cancellationToken); }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException)
        {
            var b = new NpgsqlConnectionStringBuilder(options.Value.ConnectionString);
            throw new BackingServiceUnavailableException(
                $"Live events use PostgreSQL (Nasiam:LiveEvents) but PostgreSQL at {b.Host}:{b.Port} (Nasiam:ConnectionString) cannot be reached ({e.Message}).", e);
        }
        var relay = services.GetRequiredService<RunEventRelay>();
        _listener = Task.Run(() => ListenLoop(first, _stop.Token));
        _relayLoop = Task.Run(() => RelayLoop(relay, _stop.Token));
        var outbound = System.Threading.Channels.Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true });
        _sender = Task.Run(() => SendLoop(outbound.Reader, _stop.Token));
        _outbound = outbound;
        log.LogInformation("Live events across nodes over PostgreSQL NOTIFY (node {Node})", Node);
    }

    /// <summary>Queues the message; never blocks (the send loop makes the round trips).</summary>
    public void Send(RunUpdate update) => _outbound?.Writer.TryWrite(RunEventWire.Encode(Node, update, MaxPayloadBytes));

    async Task<NpgsqlConnection> Listen(CancellationToken ct)
    {
        var c = await _source!.OpenConnectionAsync(ct);
        c.Notification += (_, e) => _inbound.Writer.TryWrite(e.Payload);
        await using (var cmd = new NpgsqlCommand($"LISTEN {Channel}", c)) await cmd.ExecuteNonQueryAsync(ct);
        return c;
    }

    async Task ListenLoop(NpgsqlConnection? c, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                c ??= await Listen(ct);
                await c.WaitAsync(ct); // raises Notification, in order, on this loop
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { break; }
            catch (Exception e)
            {
                log.LogWarning("PostgreSQL LISTEN connection lost ({Error}): live events of other nodes pause; gaps are filled from the store after it is back", e.Message);
                if (c is not null) await c.DisposeAsync();
                c = null;
                try { await Task.Delay(1000, ct); } catch (OperationCanceledException) { break; }
            }
        }
        if (c is not null) await c.DisposeAsync();
    }

    async Task RelayLoop(RunEventRelay relay, CancellationToken ct)
    {
        try
        {
            await foreach (var payload in _inbound.Reader.ReadAllAsync(ct))
            {
                try
                {
                    var bytes = Encoding.UTF8.GetBytes(payload);
                    if (RunEventWire.NodeOf(bytes) == Node) continue;
                    await relay.DeliverAsync(RunEventWire.Decode(bytes));
                }
                catch (Exception e) { log.LogWarning(e, "Could not relay a live message from PostgreSQL"); }
            }
        }
        catch (OperationCanceledException) { }
    }

    async Task SendLoop(ChannelReader<byte[]> reader, CancellationToken ct)
    {
        NpgsqlConnection? c = null;
        long failures = 0;
        try
        {
            while (await reader.WaitToReadAsync(ct))
            {
                // Everything queued goes in one round trip (a batch of NOTIFYs, in order).
                var batch = new List<byte[]>();
                while (reader.TryRead(out var m)) batch.Add(m);
                try
                {
                    c ??= await _source!.OpenConnectionAsync(ct);
                    await using var b = new NpgsqlBatch(c);
                    foreach (var m in batch)
                    {
                        var cmd = new NpgsqlBatchCommand("SELECT pg_notify($1, $2)");
                        cmd.Parameters.Add(new NpgsqlParameter { Value = Channel });
                        cmd.Parameters.Add(new NpgsqlParameter { Value = Encoding.UTF8.GetString(m) });
                        b.BatchCommands.Add(cmd);
                    }
                    await b.ExecuteNonQueryAsync(ct);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // Lost: receivers fill the gap from the store with the next message.
                    if (failures++ % 100 == 0) log.LogWarning("Could not NOTIFY {Count} live messages ({Error})", batch.Count, e.Message);
                    if (c is not null) await c.DisposeAsync();
                    c = null;
                }
            }
        }
        catch (OperationCanceledException) { }
        finally { if (c is not null) await c.DisposeAsync(); }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        var outbound = _outbound;
        _outbound = null;
        if (outbound is null) return;
        outbound.Writer.TryComplete();
        // Let the queue drain (the pump's last batch), then stop listening.
        await Task.WhenAny(_sender, Task.Delay(TimeSpan.FromSeconds(5), cancellationToken));
        _stop.Cancel();
        _inbound.Writer.TryComplete();
        await Task.WhenAll(_listener, _relayLoop).WaitAsync(TimeSpan.FromSeconds(5), cancellationToken).ContinueWith(_ => { });
    }

    /// <summary>Idempotent: the container disposes it once as itself and once as the hosted service.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        _stop.Cancel();
        if (_source is not null) await _source.DisposeAsync();
    }

    int _disposed;
}

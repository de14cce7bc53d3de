using NASiam.Web.Runs.Storage;
using Microsoft.Extensions.Options;
using NASiam.Web.Options;
using NASiam.Web.Runs;
using StackExchange.Redis;

namespace NASiam.Web.Live;

/// <summary>
/// Live run events and status changes between nodes over Redis pub/sub (Nasiam:Redis; design,
/// settings and measured latency in docs/live-events.md). Every node publishes what it executes
/// and subscribes to one channel; a node skips its own messages (delivered in process already)
/// and hands the others to <see cref="RunEventRelay"/>, one message at a time in the order Redis
/// delivers them (one connection per node, so per publisher the order they were published).
/// Active when Nasiam:LiveEvents resolves to redis (Nasiam:Redis set); otherwise it does nothing.
/// Start-up with Nasiam:Redis set but unreachable fails with a message naming the setting.
/// </summary>
public sealed class RedisRunEventBus(IOptions<NasiamWebOptions> options, IServiceProvider services, ILogger<RedisRunEventBus> log)
    : IHostedService, IRunEventOutbox, IAsyncDisposable
{
    /// <summary>The one channel (pub/sub ignores Redis database numbers: deployments that share a server set channelPrefix= in the connection string).</summary>
    public static readonly RedisChannel Channel = RedisChannel.Literal("nasiam:live:v1");

    /// <summary>This node's name on the wire: unique per process start.</summary>
    public string Node { get; } = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}";

    ConnectionMultiplexer? _redis;
    volatile ISubscriber? _publisher;
    ChannelMessageQueue? _queue;
    long _sendErrors;

    /// <summary>True once connected and subscribed.</summary>
    public bool Active => _publisher is not null;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Value.EffectiveLiveEvents != "redis") return;
        var connection = options.Value.Redis!;
        ConfigurationOptions config;
        try { config = ConfigurationOptions.Parse(connection); }
        catch (ArgumentException e) { throw new BackingServiceUnavailableException($"Nasiam:Redis is not a valid Redis connection string ({e.Message}).", e); }
        config.AbortOnConnectFail = true; // the first connect fails loudly; later drops reconnect on their own
        config.ClientName ??= "nasiam-live";
        string where = string.Join(", ", config.EndPoints.Select(e => e.ToString()));
        try
        {
            _redis = await ConnectionMultiplexer.ConnectAsync(config);
        }
        catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException or TimeoutException)
        {
            throw new BackingServiceUnavailableException(
                $"Nasiam:Redis is set but Redis at {where} cannot be reached ({e.Message.Split(". ")[0].TrimEnd('.')}). " +
                "Start Redis, correct Nasiam:Redis, or leave it empty to run on one machine.", e);
        }
        _redis.ConnectionFailed += (_, e) => log.LogWarning("Redis connection lost ({Failure}): live events of other nodes pause; gaps are filled from the database after it is back", e.FailureType);
        _redis.ConnectionRestored += (_, _) => log.LogInformation("Redis connection restored: live events of other nodes flow again");

        var relay = services.GetRequiredService<RunEventRelay>();
        var subscriber = _redis.GetSubscriber();
        _queue = await subscriber.SubscribeAsync(Channel);
        // OnMessage with a Task handler runs one message at a time, in order (the Action overload would not).
        _queue.OnMessage(async message =>
        {
            try
            {
                byte[]? bytes = message.Message;
                if (bytes is null || RunEventWire.NodeOf(bytes) == Node) return;
                await relay.DeliverAsync(RunEventWire.Decode(bytes));
            }
            catch (Exception e)
            {
                log.LogWarning(e, "Could not relay a live message from Redis");
            }
        });
        _publisher = subscriber;
        log.LogInformation("Live events across nodes over Redis at {Where} (node {Node})", where, Node);
    }

    /// <summary>
    /// Fire and forget: queued on the node's one connection in call order, never awaited, so the
    /// progress pump never waits on the network. A message lost while Redis is away is filled in
    /// from the database by the receivers (<see cref="RunSequenceGate"/>).
    /// </summary>
    public void Send(RunUpdate update)
    {
        var publisher = _publisher;
        if (publisher is null) return;
        try
        {
            publisher.Publish(Channel, RunEventWire.Encode(Node, update), CommandFlags.FireAndForget);
        }
        catch (Exception e)
        {
            if (Interlocked.Increment(ref _sendErrors) % 100 == 1)
                log.LogWarning(e, "Could not publish live events of run {RunId} to Redis ({Count} failures so far)", update.RunId, _sendErrors);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _publisher = null;
        if (_queue is not null) { try { await _queue.UnsubscribeAsync(); } catch (Exception) { /* closing anyway */ } }
        if (_redis is not { } redis) return;
        try { await redis.CloseAsync(); }
        catch (NullReferenceException e)
        {
            // StackExchange.Redis races in its own close (WaitAllIgnoreErrors, upstream issue #2754, open; seen in CI
            // with 2.8.16): the connection is going anyway, and the host's shutdown must not fail because of it.
            log.LogWarning(e, "Redis connection close raced inside StackExchange.Redis (upstream issue #2754); disposing it");
        }
    }

    /// <summary>Idempotent: the container disposes it once as itself and once as the hosted service.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _redis, null) is { } redis) await redis.DisposeAsync();
    }
}

namespace NASiam.Web.Live;

public static class LiveServiceCollectionExtensions
{
    /// <summary>
    /// The cross-node transports of live run events (docs/live-events.md): both registered, at most
    /// one active (Nasiam:LiveEvents: Redis pub/sub, PostgreSQL NOTIFY, or none). Register them
    /// before the progress pump and the workers: hosted services start in registration order, and
    /// a run's first events must find the transport up.
    /// </summary>
    public static IServiceCollection AddRunEventTransport(this IServiceCollection services)
    {
        services.AddSingleton<RunEventRelay>();
        services.AddSingleton<RedisRunEventBus>();
        services.AddSingleton<PostgresRunEventBus>();
        services.AddSingleton<IRunEventOutbox, RunEventOutbox>();
        services.AddHostedService(sp => sp.GetRequiredService<RedisRunEventBus>());
        services.AddHostedService(sp => sp.GetRequiredService<PostgresRunEventBus>());
        return services;
    }
}

namespace NASiam.Web.Live;

public static class LiveServiceCollectionExtensions
{
    /// <summary>
    /// The cross-node transport of live run events (docs/live-events.md): always registered, active
    /// only with Nasiam:Redis set. Register it before the progress pump and the workers: hosted
    /// services start in registration order, and a run's first events must find the transport up.
    /// </summary>
    public static IServiceCollection AddRunEventTransport(this IServiceCollection services)
    {
        services.AddSingleton<RunEventRelay>();
        services.AddSingleton<RedisRunEventBus>();
        services.AddSingleton<IRunEventOutbox>(sp => sp.GetRequiredService<RedisRunEventBus>());
        services.AddHostedService(sp => sp.GetRequiredService<RedisRunEventBus>());
        return services;
    }
}

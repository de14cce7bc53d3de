using NASiam.Web.Runs;

namespace NASiam.Web.Live;

/// <summary>Where <see cref="RunNotificationService.Publish"/> sends updates for the other nodes. Must never block.</summary>
public interface IRunEventOutbox
{
    void Send(RunUpdate update);
}

/// <summary>Hands an update to whichever transport is active (at most one is: Nasiam:LiveEvents); none active costs two field reads.</summary>
public sealed class RunEventOutbox(RedisRunEventBus redis, PostgresRunEventBus postgres) : IRunEventOutbox
{
    public void Send(RunUpdate update)
    {
        redis.Send(update);
        postgres.Send(update);
    }
}

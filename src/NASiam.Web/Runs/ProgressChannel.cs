using System.Threading.Channels;
using NASiam.Core.Reporting;

namespace NASiam.Web.Runs;

/// <summary>
/// The queue between engine threads and <see cref="Jobs.ProgressPump"/>. Unbounded on purpose:
/// every metric point must reach the database, and the pump drains far faster than a training
/// step produces events. A barrier lets a job wait until its events are stored.
/// </summary>
public sealed class ProgressChannel
{
    readonly Channel<object> _channel = Channel.CreateUnbounded<object>(new UnboundedChannelOptions { SingleReader = true });

    internal ChannelReader<object> Reader => _channel.Reader;

    /// <summary>Never blocks: safe to call on the training thread.</summary>
    public void Publish(TrainingEvent e) => _channel.Writer.TryWrite(e);

    /// <summary>Completes once every event published before it has been stored and broadcast.</summary>
    public Task Barrier()
    {
        var b = new BarrierItem();
        if (!_channel.Writer.TryWrite(b)) b.Done.TrySetResult();
        return b.Done.Task;
    }

    internal sealed class BarrierItem
    {
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

/// <summary>The engine's observer in the web app: queues each event and returns at once.</summary>
public sealed class ChannelObserver(ProgressChannel channel) : ITrainingObserver
{
    public void On(TrainingEvent e) => channel.Publish(e);
}

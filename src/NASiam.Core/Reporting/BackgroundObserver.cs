using System.Threading.Channels;

namespace NASiam.Core.Reporting;

/// <summary>
/// Hands events to an inner observer on a background task, so a slow consumer (disk, console,
/// network) never stalls the training thread: <see cref="On"/> only enqueues. Order is kept.
/// Should the queue reach its capacity, further events are dropped and counted
/// (<see cref="Dropped"/>) rather than blocking. <see cref="Dispose"/> drains the queue.
/// </summary>
public sealed class BackgroundObserver : ITrainingObserver, IDisposable
{
    readonly ITrainingObserver _inner;
    readonly Channel<TrainingEvent> _queue;
    readonly Task _pump;
    long _dropped;

    /// <param name="inner">Receives the events, on the pump task.</param>
    /// <param name="capacity">Events held at most before dropping.</param>
    public BackgroundObserver(ITrainingObserver inner, int capacity = 100_000)
    {
        _inner = inner;
        _queue = Channel.CreateBounded<TrainingEvent>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.DropWrite,
        }, _ => Interlocked.Increment(ref _dropped));
        _pump = Task.Run(PumpAsync);
    }

    /// <summary>Events dropped because the queue was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public void On(TrainingEvent e) => _queue.Writer.TryWrite(e);

    async Task PumpAsync()
    {
        await foreach (var e in _queue.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            try { _inner.On(e); }
            catch { /* an observer must never break training */ }
        }
    }

    /// <summary>Waits until every queued event reached the inner observer, then stops (bounded wait).</summary>
    public void Dispose()
    {
        _queue.Writer.TryComplete();
        _pump.Wait(TimeSpan.FromSeconds(30));
        (_inner as IDisposable)?.Dispose();
    }
}

using NASiam.Core.Reporting;

namespace NASiam.Core.Engine.Runs;

/// <summary>
/// The one place that stamps an event's envelope: the run id, a gap-free sequence number, the
/// time and the stage, then hands it to the observer. Code that reports builds the event's own
/// fields only and calls <see cref="Emit"/>. Observer exceptions are swallowed: reporting never
/// breaks training. Events are emitted from one thread at a time (the training thread).
/// </summary>
public sealed class EventEmitter(Guid runId, long firstSequence, ITrainingObserver observer)
{
    long _next = firstSequence;

    public Guid RunId { get; } = runId;
    /// <summary>The sequence number this attempt started at (after its newest checkpoint, when resuming).</summary>
    public long FirstSequence { get; } = firstSequence;
    /// <summary>The sequence number the next event gets.</summary>
    public long NextSequence => Interlocked.Read(ref _next);

    /// <summary>Continues numbering after a resumed run's last event.</summary>
    public void ContinueFrom(long sequence)
    {
        if (sequence > NextSequence) Interlocked.Exchange(ref _next, sequence);
    }

    /// <summary>Stamps <paramref name="e"/> (envelope fields set by the caller are replaced) and emits it.</summary>
    public TrainingEvent Emit(string stage, TrainingEvent e)
    {
        var stamped = e with { RunId = RunId, Sequence = Interlocked.Increment(ref _next) - 1, At = DateTimeOffset.UtcNow, Stage = stage };
        try { observer.On(stamped); }
        catch { /* an observer must never break training */ }
        return stamped;
    }

    public void Log(string stage, string level, string message) => Emit(stage, new LogMessage { Level = level, Message = message });

    public void Warn(string stage, string kind, string message, long step) =>
        Emit(stage, new WarningRaised { Kind = kind, Message = message, Step = step });
}

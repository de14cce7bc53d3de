using NASiam.Core.Reporting;

namespace NASiam.Core.Engine.Runs;

/// <summary>
/// Stamps events with the run id, a gap-free sequence number and the time, and hands them to the
/// observer. Observer exceptions are swallowed: reporting never breaks training.
/// </summary>
public sealed class EventEmitter(Guid runId, long firstSequence, ITrainingObserver observer)
{
    long _next = firstSequence;

    public Guid RunId { get; } = runId;
    /// <summary>The sequence number the next event gets.</summary>
    public long NextSequence => Interlocked.Read(ref _next);
    /// <summary>Takes the next sequence number (use once per event).</summary>
    public long Next() => Interlocked.Increment(ref _next) - 1;
    public DateTimeOffset Now => DateTimeOffset.UtcNow;

    /// <summary>Continues numbering after a resumed run's last event.</summary>
    public void ContinueFrom(long sequence)
    {
        if (sequence > NextSequence) Interlocked.Exchange(ref _next, sequence);
    }

    public void Emit(TrainingEvent e)
    {
        try { observer.On(e); }
        catch { /* an observer must never break training */ }
    }

    public void Log(string stage, string level, string message) => Emit(new LogMessage
    {
        RunId = RunId, Sequence = Next(), At = Now, Stage = stage, Level = level, Message = message,
    });

    public void Warn(string stage, string kind, string message, long step) => Emit(new WarningRaised
    {
        RunId = RunId, Sequence = Next(), At = Now, Stage = stage, Kind = kind, Message = message, Step = step,
    });
}

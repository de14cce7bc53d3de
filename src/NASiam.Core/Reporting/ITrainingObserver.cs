namespace NASiam.Core.Reporting;

/// <summary>
/// Receives the engine's events synchronously on the training thread. Implementations must not
/// block (queue the event and return) and must not throw.
/// </summary>
public interface ITrainingObserver
{
    void On(TrainingEvent e);
}

/// <summary>Discards every event.</summary>
public sealed class NullObserver : ITrainingObserver
{
    public static readonly NullObserver Instance = new();
    public void On(TrainingEvent e) { }
}

/// <summary>Forwards every event to several observers; one failing observer does not stop the others.</summary>
public sealed class CompositeObserver(params ITrainingObserver[] observers) : ITrainingObserver
{
    public void On(TrainingEvent e)
    {
        foreach (var o in observers)
        {
            try { o.On(e); }
            catch { /* an observer must never break training */ }
        }
    }
}

/// <summary>Keeps every event in memory (tests, small runs).</summary>
public sealed class RecordingObserver : ITrainingObserver
{
    readonly List<TrainingEvent> _events = [];
    public IReadOnlyList<TrainingEvent> Events { get { lock (_events) return _events.ToArray(); } }
    public void On(TrainingEvent e) { lock (_events) _events.Add(e); }
}

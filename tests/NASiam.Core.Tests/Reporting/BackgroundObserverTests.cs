using System.Diagnostics;
using NASiam.Core.Reporting;

namespace NASiam.Core.Tests.Reporting;

public class BackgroundObserverTests
{
    sealed class GatedObserver : ITrainingObserver
    {
        public readonly ManualResetEventSlim Gate = new(false);
        public readonly List<long> Seen = [];
        public void On(TrainingEvent e) { Gate.Wait(); lock (Seen) Seen.Add(e.Sequence); }
    }

    [Fact]
    public void On_ReturnsImmediately_WhileTheInnerObserverIsBlocked_AndDisposeDeliversAllInOrder()
    {
        var inner = new GatedObserver();
        var observer = new BackgroundObserver(inner);
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < 1000; i++) observer.On(ObserverTestEvents.Step(i));
        Assert.True(clock.ElapsedMilliseconds < 1000, $"enqueueing took {clock.ElapsedMilliseconds} ms");
        Assert.Empty(inner.Seen);
        inner.Gate.Set();
        observer.Dispose();
        Assert.Equal(Enumerable.Range(0, 1000).Select(i => (long)i), inner.Seen);
    }

    [Fact]
    public void On_DropsAndCounts_WhenTheQueueIsFull()
    {
        var inner = new GatedObserver();
        var observer = new BackgroundObserver(inner, capacity: 4);
        for (int i = 0; i < 20; i++) observer.On(ObserverTestEvents.Step(i));
        Assert.InRange(observer.Dropped, 15, 16); // the pump may already hold one event
        inner.Gate.Set();
        observer.Dispose();
    }

    [Fact]
    public void Pump_KeepsGoing_WhenTheInnerObserverThrows()
    {
        var recorder = new RecordingObserver();
        var throwing = new ThrowingThenRecording(recorder);
        using (var observer = new BackgroundObserver(throwing))
        {
            observer.On(ObserverTestEvents.Step(1));
            observer.On(ObserverTestEvents.Step(2));
        }
        Assert.Equal([2L], recorder.Events.Select(e => e.Sequence));
    }

    sealed class ThrowingThenRecording(RecordingObserver recorder) : ITrainingObserver
    {
        bool _thrown;
        public void On(TrainingEvent e)
        {
            if (!_thrown) { _thrown = true; throw new InvalidOperationException("boom"); }
            recorder.On(e);
        }
    }
}

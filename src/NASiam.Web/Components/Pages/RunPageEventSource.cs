using System.Diagnostics.Tracing;

namespace NASiam.Web.Components.Pages;

/// <summary>
/// Opt-in timings of the run page's server work, for benchmarks (bench/NASiam.Web.LoadBench reads
/// them over EventPipe; <c>dotnet-trace collect --providers NASiam-Web-RunPage</c> works too). Costs
/// nothing while no listener is enabled: the page does not even start a stopwatch then.
/// </summary>
[EventSource(Name = "NASiam-Web-RunPage")]
public sealed class RunPageEventSource : EventSource
{
    public static readonly RunPageEventSource Log = new();

    /// <summary>A live update: events applied to the view plus the synchronous render (diff and batch serialisation), ms.</summary>
    [Event(1, Level = EventLevel.Informational)]
    public void UpdateRendered(double milliseconds, int events)
    {
        if (IsEnabled()) WriteEvent(1, milliseconds, events);
    }

    /// <summary>The run's stored events read once and folded into the view, then rendered, ms.</summary>
    [Event(2, Level = EventLevel.Informational)]
    public void HistoryLoaded(double milliseconds, long events)
    {
        if (IsEnabled()) WriteEvent(2, milliseconds, events);
    }
}

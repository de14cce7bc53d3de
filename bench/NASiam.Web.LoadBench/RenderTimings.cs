using System.Diagnostics.Tracing;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing;

namespace NASiam.Web.LoadBench;

/// <summary>
/// The run page's own timings, read from the server process over EventPipe (the diagnostics IPC
/// socket; nothing is added to the app's HTTP surface): every <c>UpdateRendered</c> (a live update
/// applied and rendered on the server, ms) and <c>HistoryLoaded</c> (a page's one read of the stored
/// events, folded and rendered, ms) that <c>NASiam-Web-RunPage</c> (RunPageEventSource) writes while
/// this session is open. The page times nothing when no session listens.
/// </summary>
public sealed class RenderTimings : IAsyncDisposable
{
    readonly EventPipeSession _session;
    readonly Task _reader;
    readonly object _gate = new();
    readonly List<double> _updates = [];
    readonly List<double> _histories = [];

    RenderTimings(EventPipeSession session)
    {
        _session = session;
        var source = new EventPipeEventSource(session.EventStream);
        source.Dynamic.All += e =>
        {
            if (e.ProviderName != "NASiam-Web-RunPage") return;
            var ms = Convert.ToDouble(e.PayloadByName("milliseconds"), System.Globalization.CultureInfo.InvariantCulture);
            lock (_gate) (e.EventName == "UpdateRendered" ? _updates : e.EventName == "HistoryLoaded" ? _histories : []).Add(ms);
        };
        _reader = Task.Run(source.Process);
    }

    public static RenderTimings Start(int processId)
    {
        var client = new DiagnosticsClient(processId);
        var session = client.StartEventPipeSession([new EventPipeProvider("NASiam-Web-RunPage", EventLevel.Informational)], requestRundown: false, circularBufferMB: 64);
        return new RenderTimings(session);
    }

    /// <summary>Update render times (ms) since the last call, then forgets them.</summary>
    public List<double> TakeUpdates() { lock (_gate) { var u = _updates.ToList(); _updates.Clear(); return u; } }

    /// <summary>History loads (ms) since the last call, then forgets them.</summary>
    public List<double> TakeHistories() { lock (_gate) { var h = _histories.ToList(); _histories.Clear(); return h; } }

    public async ValueTask DisposeAsync()
    {
        try { _session.Stop(); } catch (ServerNotAvailableException) { } catch (EndOfStreamException) { } catch (IOException) { }
        await Task.WhenAny(_reader, Task.Delay(5000));
        _session.Dispose();
    }
}

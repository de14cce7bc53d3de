namespace NASiam.Web.Components.Shared;

/// <summary>
/// Limits a live page's renders to one per interval, on the trailing edge: a request inside the
/// interval schedules one render at its end instead of being dropped, so the last change of a burst
/// (a run's final status, its last step) is always drawn. Used on the component's dispatcher (inside
/// InvokeAsync), so no locking is needed. Why limit at all: each render costs the server about 2 ms
/// of CPU per open page (bench/NASiam.Web.LoadBench --circuits), and a run can publish ten batches a second.
/// </summary>
/// <param name="interval">The shortest time between two renders (read at each request, so options may change it).</param>
public sealed class RenderThrottle(Func<TimeSpan> interval)
{
    DateTime _last = DateTime.MinValue;
    bool _pending, _stopped;

    /// <summary>Renders now when the interval has passed (or <paramref name="now"/>), else once at its end; a request while one is scheduled is folded into it.</summary>
    public async Task Request(Action render, bool now = false)
    {
        var wait = interval() - (DateTime.UtcNow - _last);
        if (!now && wait > TimeSpan.Zero)
        {
            if (_pending) return;
            _pending = true;
            await Task.Delay(wait);
            _pending = false;
        }
        if (_stopped) return;
        _last = DateTime.UtcNow;
        render();
    }

    /// <summary>No render after this (the component is disposed); a scheduled one is skipped.</summary>
    public void Stop() => _stopped = true;
}

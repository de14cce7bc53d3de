using System.Collections.Concurrent;

namespace NASiam.Web.Jobs;

/// <summary>
/// The runs executing in this process, each with its own cancellation source. Guards against a
/// run executing twice at once (a job fetched again after the invisibility timeout, or a stray old
/// job) and lets Cancel stop the engine within a step without waiting for Hangfire's polling.
/// With process isolation it also knows each run's child process, so an operator (or a test) can
/// find the process that trains a run: to watch its memory, or to kill it.
/// </summary>
public sealed class RunExecutionRegistry
{
    readonly ConcurrentDictionary<Guid, CancellationTokenSource> _running = new();
    readonly ConcurrentDictionary<Guid, int> _processes = new();

    /// <summary>Returns a source for a run not already executing here, or null if it is.</summary>
    public CancellationTokenSource? TryStart(Guid runId)
    {
        var cts = new CancellationTokenSource();
        if (_running.TryAdd(runId, cts)) return cts;
        cts.Dispose();
        return null;
    }

    public void Finish(Guid runId, CancellationTokenSource cts)
    {
        _running.TryRemove(new KeyValuePair<Guid, CancellationTokenSource>(runId, cts));
        cts.Dispose();
    }

    public bool IsRunning(Guid runId) => _running.ContainsKey(runId);

    /// <summary>Signals the engine of a running run; false if it is not executing here.</summary>
    public bool Cancel(Guid runId)
    {
        if (!_running.TryGetValue(runId, out var cts)) return false;
        try { cts.Cancel(); } catch (ObjectDisposedException) { return false; }
        return true;
    }

    /// <summary>The pid of the child process executing the run now, or null (not running, or running in-process).</summary>
    public int? ProcessId(Guid runId) => _processes.TryGetValue(runId, out var pid) ? pid : null;

    public void SetProcess(Guid runId, int pid) => _processes[runId] = pid;

    public void ClearProcess(Guid runId, int pid) => _processes.TryRemove(new KeyValuePair<Guid, int>(runId, pid));
}

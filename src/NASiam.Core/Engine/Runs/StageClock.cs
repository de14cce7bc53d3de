using System.Diagnostics;

namespace NASiam.Core.Engine.Runs;

/// <summary>
/// Accumulates data and compute seconds and images over an epoch for the throughput event, and ticks the
/// run's <see cref="CpuThreadGovernor"/> (if any) after each step, handing its change lines to
/// <paramref name="log"/>.
/// </summary>
public sealed class StageClock(CpuThreadGovernor? governor = null, Action<string>? log = null)
{
    readonly Stopwatch _watch = new();
    double _data, _compute;
    long _images;
    int _steps;

    /// <summary>Starts timing a step's data phase.</summary>
    public void StartData() => _watch.Restart();

    /// <summary>Ends the data phase and starts the compute phase.</summary>
    public void DataDone()
    {
        _data += _watch.Elapsed.TotalSeconds;
        _watch.Restart();
    }

    /// <summary>
    /// Ends the step's compute phase; <paramref name="images"/> counts every image the step consumed.
    /// Also reads the process's resident memory (a /proc read, ~30 µs): the training working set,
    /// before the engine's periodic collection and the epoch's monitors; then lets the thread governor
    /// decide (outside the step's time).
    /// </summary>
    public void StepDone(long images)
    {
        _compute += _watch.Elapsed.TotalSeconds;
        _images += images;
        _steps++;
        LastStepRssMib = NativeMemory.ProcessStatusMib("VmRSS");
        if (governor?.AfterStep() is { } change) log?.Invoke(change);
    }

    /// <summary>Resident memory after the latest step, MiB; NaN before the first step or where /proc cannot be read.</summary>
    public double LastStepRssMib { get; private set; } = double.NaN;

    /// <summary>(images/s, data s/step, compute s/step) since the last reset, then resets.</summary>
    public (double ImagesPerSecond, double DataPerStep, double ComputePerStep, int Steps) TakeEpoch()
    {
        var total = _data + _compute;
        var result = _steps == 0 ? (0, 0, 0, 0) : (total > 0 ? _images / total : 0, _data / _steps, _compute / _steps, _steps);
        _data = _compute = 0;
        _images = 0;
        _steps = 0;
        return result;
    }
}

/// <summary>Raised inside a stage when a loss is NaN or infinite; the stage ends as failed.</summary>
public sealed class NonFiniteLossException(string message) : Exception(message);

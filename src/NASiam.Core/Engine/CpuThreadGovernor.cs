using System.Diagnostics;
using System.Globalization;

namespace NASiam.Core.Engine;

/// <summary>
/// CPU time on the cores this process may run on, read from /proc: every process's busy time on those
/// cores (user, nice, system, irq, softirq and steal; idle and iowait are not busy) and this process's
/// own, both in seconds since boot, with the wall clock they were read at.
/// </summary>
public readonly record struct CpuSample(double WallSeconds, double BusySeconds, double OwnSeconds);

/// <summary>
/// Lowers torch's intra-op thread count while other processes keep the run's cores busy, and raises it
/// again when they are idle. Why: the engine lets OpenMP threads spin briefly before they sleep
/// (<see cref="TorchRuntime.EngineSpinCount"/>), which makes a step 9-13 % faster on free cores, but
/// spinning threads on shared cores lose to everything else: SimSiam ResNet-18 search at batch 32 on
/// 2 cores beside one busy process took 4.6 s a step at 2 spinning threads, 3.3 s at 2 passive threads
/// and 3.1 s at 1 thread (bench/README.md, fourteenth session). One thread per free core has no team
/// to wait for, so it wins both ways.
/// The decision: every <see cref="WindowSeconds"/> (checked after each step), "foreign" CPU = busy time
/// on the allowed cores minus this process's own, in cores; the target is
/// ceil(cores − foreign − <see cref="Margin"/>), between 1 and the run's thread count. It lowers the
/// count at once and raises it only after two windows in a row ask for more, so a short burst
/// elsewhere does not make it flap. Two governed processes settle at their fair shares: under
/// contention each measures the other's actual share, not its wish.
/// Changing the thread count changes the order of some fp32 reductions, so a run whose count changed
/// is not bit-for-bit repeatable; each change is logged with its reason.
/// </summary>
public sealed class CpuThreadGovernor
{
    /// <summary>Seconds between two decisions (at the first step boundary after it).</summary>
    public const double WindowSeconds = 5;

    /// <summary>
    /// Cores of headroom kept free of spinning threads: with 2 cores, foreign load above 0.4 cores
    /// (a busy process gets ≥ 0.67 of one when it shares 2 cores with 2 spinning threads) means 1 thread.
    /// </summary>
    public const double Margin = 0.6;

    readonly int _max;
    readonly int _cores;
    readonly Func<CpuSample?> _sample;
    readonly Action<int> _apply;
    CpuSample _last;
    int _raiseVotes;

    /// <param name="threads">The run's thread count: the most this governor uses.</param>
    /// <param name="cores">Cores the process may run on (its affinity mask).</param>
    /// <param name="first">The first sample; the first window starts there.</param>
    /// <param name="sample">Reads the next sample; null when /proc became unreadable (the governor then stops, with a notice).</param>
    /// <param name="apply">Sets torch's thread count (called on the training thread: OpenMP's count is per thread).</param>
    public CpuThreadGovernor(int threads, int cores, CpuSample first, Func<CpuSample?> sample, Action<int> apply)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(cores, 1);
        (_max, _cores, _last, _sample, _apply) = (threads, cores, first, sample, apply);
        Threads = threads;
    }

    /// <summary>The thread count in force.</summary>
    public int Threads { get; private set; }

    /// <summary>False once /proc could not be read; the count then stays where it was.</summary>
    public bool Active { get; private set; } = true;

    /// <summary>
    /// For a run on the CPU: a governor over the real /proc when the engine set the OpenMP wait policy
    /// (<see cref="TorchRuntime.EngineManagesWaiting"/>), the run has more than one thread and /proc is
    /// readable (Linux); otherwise null, and the thread count stays as set.
    /// </summary>
    public static CpuThreadGovernor? ForRun(int threads)
    {
        TorchRuntime.Initialise();
        if (threads < 2 || !TorchRuntime.EngineManagesWaiting) return null;
        var cores = ProcCpu.AllowedCpus();
        if (cores is null || ProcCpu.Read(cores) is not { } first) return null;
        return new CpuThreadGovernor(threads, cores.Count, first, () => ProcCpu.Read(cores), n => TorchRuntime.SetThreads(n));
    }

    /// <summary>
    /// The line a CPU stage logs when it starts: its thread count and whether the governor adjusts it
    /// (<paramref name="governor"/> from <see cref="ForRun"/>), and why not.
    /// </summary>
    public static string Describe(int threads, CpuThreadGovernor? governor) =>
        governor is not null
            ? $"CPU threads: up to {threads}; OpenMP threads spin ~0.1 ms before they sleep, and the thread governor runs fewer while other processes keep this run's {governor._cores} cores busy"
            : threads < 2 ? $"CPU threads: {threads} (no OpenMP team to wait for, so no thread governor)"
            : $"CPU threads: {threads}, fixed; OpenMP wait {TorchRuntime.WaitDescription}";

    /// <summary>
    /// Call after each training step, on the training thread; cheap unless a window has passed. Returns
    /// the line for the run's log when the count changed (or the governor had to stop), else null.
    /// </summary>
    public string? AfterStep()
    {
        if (!Active || ProcCpu.Now() - _last.WallSeconds < WindowSeconds) return null;
        if (_sample() is not { } now)
        {
            Active = false;
            return $"CPU threads: /proc/stat could not be read any more; staying at {Threads} thread(s).";
        }
        Observe(now, out var change);
        return change;
    }

    /// <summary>
    /// One decision on the window from the previous sample to <paramref name="now"/> (a window shorter
    /// than <see cref="WindowSeconds"/> is left to grow). Returns the window's foreign load in cores, or
    /// null when it was too short.
    /// </summary>
    /// <param name="now">The sample that closes the window.</param>
    /// <param name="change">The log line when the count changed, else null.</param>
    public double? Observe(CpuSample now, out string? change)
    {
        change = null;
        double wall = now.WallSeconds - _last.WallSeconds;
        if (wall < WindowSeconds) return null;
        double foreign = Math.Max(0, (now.BusySeconds - _last.BusySeconds - (now.OwnSeconds - _last.OwnSeconds)) / wall);
        _last = now;
        int target = Math.Clamp((int)Math.Ceiling(_cores - foreign - Margin), 1, _max);
        if (target < Threads)
        {
            change = Change(target, string.Create(CultureInfo.InvariantCulture,
                $"CPU threads {Threads} → {target}: other processes kept {foreign:0.0} of this run's {_cores} cores busy over the last {wall:0} s; threads waiting on shared cores slow every step. Back up when the cores are free."));
        }
        else if (target > Threads && ++_raiseVotes >= 2)
        {
            change = Change(target, string.Create(CultureInfo.InvariantCulture,
                $"CPU threads {Threads} → {target}: the cores are free again ({foreign:0.0} cores busy elsewhere over the last {wall:0} s)."));
        }
        else if (target <= Threads) _raiseVotes = 0;
        return foreign;
    }

    string Change(int target, string message)
    {
        _raiseVotes = 0;
        Threads = target;
        _apply(target);
        return message;
    }
}

/// <summary>Reads <see cref="CpuSample"/>s from Linux's /proc.</summary>
public static class ProcCpu
{
    /// <summary>
    /// The CPUs this process may run on, from Cpus_allowed_list in /proc/self/status ("0-3,8"); null
    /// where /proc cannot be read or the line is missing or malformed.
    /// </summary>
    public static IReadOnlySet<int>? AllowedCpus()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal));
            return line is null ? null : ParseCpuList(line["Cpus_allowed_list:".Length..]);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>Parses a kernel CPU list ("0-3,8,10-11"); null when malformed or empty.</summary>
    public static IReadOnlySet<int>? ParseCpuList(string text)
    {
        var set = new SortedSet<int>();
        foreach (var part in text.Trim().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var ends = part.Split('-');
            if (ends.Length is < 1 or > 2
                || !int.TryParse(ends[0], NumberStyles.None, CultureInfo.InvariantCulture, out int from)
                || !int.TryParse(ends[^1], NumberStyles.None, CultureInfo.InvariantCulture, out int to)
                || to < from) return null;
            for (int c = from; c <= to; c++) set.Add(c);
        }
        return set.Count == 0 ? null : set;
    }

    /// <summary>
    /// Busy seconds on <paramref name="cpus"/> from the text of /proc/stat (its "cpuN" lines, in clock
    /// ticks of <paramref name="ticksPerSecond"/>); null when one of the CPUs has no line.
    /// </summary>
    public static double? BusySeconds(string procStat, IReadOnlySet<int> cpus, double ticksPerSecond)
    {
        long ticks = 0;
        int seen = 0;
        foreach (var line in procStat.Split('\n'))
        {
            if (!line.StartsWith("cpu", StringComparison.Ordinal) || line.Length < 4 || !char.IsAsciiDigit(line[3])) continue;
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (!int.TryParse(f[0].AsSpan(3), NumberStyles.None, CultureInfo.InvariantCulture, out int cpu) || !cpus.Contains(cpu)) continue;
            if (f.Length < 9) return null;
            // user nice system idle iowait irq softirq steal: busy = all but idle (4) and iowait (5).
            foreach (int i in (ReadOnlySpan<int>)[1, 2, 3, 6, 7, 8]) ticks += long.Parse(f[i], CultureInfo.InvariantCulture);
            seen++;
        }
        return seen == cpus.Count ? ticks / ticksPerSecond : null;
    }

    /// <summary>Linux's USER_HZ, the unit of /proc/stat (100 on every Linux ABI .NET runs on).</summary>
    public const double TicksPerSecond = 100;

    /// <summary>The clock of <see cref="CpuSample.WallSeconds"/>: a monotonic timestamp, seconds.</summary>
    public static double Now() => Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency;

    /// <summary>A sample now: /proc/stat on <paramref name="cpus"/> and this process's CPU time; null where /proc cannot be read.</summary>
    public static CpuSample? Read(IReadOnlySet<int> cpus)
    {
        try
        {
            var wall = Now();
            var busy = BusySeconds(File.ReadAllText("/proc/stat"), cpus, TicksPerSecond);
            using var self = Process.GetCurrentProcess();
            return busy is { } b ? new CpuSample(wall, b, self.TotalProcessorTime.TotalSeconds) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { return null; }
    }
}

using System.Diagnostics;
using System.Runtime.InteropServices;
using NASiam.Core.Engine;

namespace NASiam.Core.Tests.Engine;

public sealed class CpuThreadGovernorTests
{
    /// <summary>A governor over scripted samples: each window is <see cref="CpuThreadGovernor.WindowSeconds"/> long.</summary>
    sealed class Script
    {
        public readonly List<int> Applied = [];
        public readonly List<string> Notices = [];
        public CpuSample Last = new(0, 0, 0);
        public CpuThreadGovernor Governor { get; }

        public Script(int threads, int cores) =>
            Governor = new CpuThreadGovernor(threads, cores, Last, () => null, Applied.Add);

        /// <summary>One window in which other processes used <paramref name="foreign"/> cores and this one <paramref name="own"/>.</summary>
        public double? Window(double foreign, double own = 1.5)
        {
            const double seconds = CpuThreadGovernor.WindowSeconds;
            Last = new CpuSample(Last.WallSeconds + seconds, Last.BusySeconds + (foreign + own) * seconds, Last.OwnSeconds + own * seconds);
            var load = Governor.Observe(Last, out var change);
            if (change is not null) Notices.Add(change);
            return load;
        }
    }

    [Fact]
    public void QuietCores_KeepTheThreadCount()
    {
        var s = new Script(threads: 2, cores: 2);
        for (int i = 0; i < 5; i++) Assert.Equal(0.05, s.Window(foreign: 0.05, own: 1.9)!.Value, 6);
        Assert.Equal(2, s.Governor.Threads);
        Assert.Empty(s.Applied);
        Assert.Empty(s.Notices);
    }

    [Fact]
    public void ABusyProcess_LowersTheCountAtOnce_AndSaysWhy()
    {
        var s = new Script(threads: 2, cores: 2);
        s.Window(foreign: 0.7);
        Assert.Equal(1, s.Governor.Threads);
        Assert.Equal([1], s.Applied);
        var notice = Assert.Single(s.Notices);
        Assert.Contains("CPU threads 2 → 1", notice);
        Assert.Contains("0.7 of this run's 2 cores", notice);
        // At 1 thread the busy process has a whole core: the count stays.
        s.Window(foreign: 1.0, own: 1.0);
        Assert.Equal([1], s.Applied);
    }

    [Fact]
    public void ForeignLoadBelowTheMargin_KeepsEveryThread()
    {
        var s = new Script(threads: 2, cores: 2);
        s.Window(foreign: 0.35);
        Assert.Equal(2, s.Governor.Threads);
        s.Window(foreign: 0.45);
        Assert.Equal(1, s.Governor.Threads);
    }

    [Fact]
    public void RaisingNeedsTwoFreeWindowsInARow()
    {
        var s = new Script(threads: 2, cores: 2);
        s.Window(foreign: 1.0);
        s.Window(foreign: 0.0); // one free window: not yet
        Assert.Equal(1, s.Governor.Threads);
        s.Window(foreign: 0.9); // busy again: the vote is void
        s.Window(foreign: 0.0);
        Assert.Equal(1, s.Governor.Threads);
        s.Window(foreign: 0.1);
        Assert.Equal(2, s.Governor.Threads);
        Assert.Equal([1, 2], s.Applied);
        Assert.Equal("CPU threads 1 → 2: the cores are free again (0.1 cores busy elsewhere over the last 5 s).", s.Notices[^1]);
    }

    [Fact]
    public void ManyCores_KeepOneThreadPerFreeCore_AndNeverMoreThanTheRunAsked()
    {
        var s = new Script(threads: 63, cores: 64);
        s.Window(foreign: 10.0, own: 40);
        Assert.Equal(54, s.Governor.Threads); // ceil(64 - 10 - 0.6)
        s.Window(foreign: 0.0, own: 50);
        s.Window(foreign: 0.0, own: 50);
        Assert.Equal(63, s.Governor.Threads);
        s.Window(foreign: 70.0, own: 10); // more than the cores (steal): one thread, not zero
        Assert.Equal(1, s.Governor.Threads);
    }

    [Fact]
    public void AShortWindow_IsLeftToGrow_AndMeasuredWhole()
    {
        // 1 s of 2 busy cores is too short to judge; the next sample closes a 6 s window from the first: (2.0·1 + 0.1·5) / 6 cores.
        var first = new CpuSample(0, 0, 0);
        var g = new CpuThreadGovernor(2, 2, first, () => null, _ => { });
        Assert.Null(g.Observe(new CpuSample(1, 2.0 + 1.5, 1.5), out _));
        Assert.Equal(2, g.Threads);
        Assert.Equal((2.0 + 0.5) / 6, g.Observe(new CpuSample(6, 2.0 + 1.5 + 0.5 + 7.5, 9.0), out _)!.Value, 9);
    }

    [Fact]
    public void OwnCpuAboveTheBusyTotal_ReadsAsNoForeignLoad()
    {
        var s = new Script(threads: 2, cores: 2);
        Assert.Equal(0.0, s.Window(foreign: -0.3)!.Value);
        Assert.Equal(2, s.Governor.Threads);
    }

    [Fact]
    public void AnUnreadableProc_StopsTheGovernor_WithANotice()
    {
        var g = new CpuThreadGovernor(2, 2, new CpuSample(ProcCpu.Now() - 60, 0, 0), () => null, _ => throw new InvalidOperationException("no change expected"));
        Assert.Contains("could not be read", g.AfterStep());
        Assert.Null(g.AfterStep()); // said once
        Assert.False(g.Active);
        Assert.Equal(2, g.Threads);
    }

    [Fact]
    public void AfterStep_ReadsNothingWithinAWindow()
    {
        int reads = 0;
        var g = new CpuThreadGovernor(2, 2, new CpuSample(ProcCpu.Now(), 0, 0), () => { reads++; return null; }, _ => { });
        for (int i = 0; i < 100; i++) Assert.Null(g.AfterStep());
        Assert.Equal(0, reads);
        Assert.True(g.Active);
    }

    [Theory]
    [InlineData("0-1", new[] { 0, 1 })]
    [InlineData(" 0-3,8,10-11\n", new[] { 0, 1, 2, 3, 8, 10, 11 })]
    [InlineData("5", new[] { 5 })]
    public void ParseCpuList_ReadsTheKernelFormat(string text, int[] cpus) =>
        Assert.Equal(cpus, ProcCpu.ParseCpuList(text)!.Order());

    [Theory]
    [InlineData("")]
    [InlineData("3-1")]
    [InlineData("0-a")]
    [InlineData("1-2-3")]
    public void ParseCpuList_RefusesMalformedText(string text) => Assert.Null(ProcCpu.ParseCpuList(text));

    const string ProcStat = """
        cpu  900 10 300 5000 20 5 6 7 0 0
        cpu0 400 0 100 2500 10 1 2 3 0 0
        cpu1 500 10 200 2500 10 4 4 4 0 0
        intr 12345 0 0
        ctxt 999
        """;

    [Fact]
    public void BusySeconds_SumsTheAllowedCpusWithoutIdleAndIowait()
    {
        // cpu1: user 500 + nice 10 + system 200 + irq 4 + softirq 4 + steal 4 = 722 ticks.
        Assert.Equal(7.22, ProcCpu.BusySeconds(ProcStat, new HashSet<int> { 1 }, 100)!.Value, 9);
        Assert.Equal(7.22 + 5.06, ProcCpu.BusySeconds(ProcStat, new HashSet<int> { 0, 1 }, 100)!.Value, 9);
        Assert.Null(ProcCpu.BusySeconds(ProcStat, new HashSet<int> { 0, 2 }, 100)); // cpu2 has no line
    }

    [Fact]
    public void RealProc_SeesABusyProcess()
    {
        Assert.True(OperatingSystem.IsLinux(), "the engine's CPU governor reads Linux's /proc");
        var cpus = ProcCpu.AllowedCpus();
        Assert.NotNull(cpus);
        Assert.Equal(Environment.ProcessorCount, Math.Min(cpus!.Count, Environment.ProcessorCount));
        var before = ProcCpu.Read(cpus)!.Value;
        using var busy = Process.Start(new ProcessStartInfo("sh", ["-c", "while :; do :; done"]) { UseShellExecute = false })!;
        try
        {
            Thread.Sleep(1500);
            var after = ProcCpu.Read(cpus)!.Value;
            double foreign = (after.BusySeconds - before.BusySeconds - (after.OwnSeconds - before.OwnSeconds)) / (after.WallSeconds - before.WallSeconds);
            // The loop has at least half a core of the 1.5 s (it competes with whatever else runs here).
            Assert.True(foreign >= 0.5, $"foreign CPU {foreign:0.00} cores with a busy process beside");
        }
        finally { busy.Kill(); }
    }

    [Fact]
    public void WaitVariables_TheEngineSpinsBriefly_UnlessTheUserChose()
    {
        Assert.Equal(new Dictionary<string, string> { ["OMP_WAIT_POLICY"] = "PASSIVE", ["GOMP_SPINCOUNT"] = TorchRuntime.EngineSpinCount },
            TorchRuntime.WaitVariablesToSet(null, null));
        Assert.Equal(new Dictionary<string, string> { ["OMP_WAIT_POLICY"] = "PASSIVE" }, TorchRuntime.WaitVariablesToSet(null, "30000"));
        Assert.Empty(TorchRuntime.WaitVariablesToSet("ACTIVE", null));
        Assert.Empty(TorchRuntime.WaitVariablesToSet("PASSIVE", "0"));
    }

    [Fact]
    public void ForRun_GovernsOnlyWhenTheEngineManagesWaiting_AndThereIsMoreThanOneThread()
    {
        Assert.Null(CpuThreadGovernor.ForRun(1));
        var g = CpuThreadGovernor.ForRun(2);
        Assert.Equal(TorchRuntime.EngineManagesWaiting, g is not null);
        Assert.StartsWith("CPU threads: 1 (no OpenMP team", CpuThreadGovernor.Describe(1, null));
        Assert.StartsWith("CPU threads: 2, fixed; OpenMP wait ", CpuThreadGovernor.Describe(2, null));
        if (g is not null) Assert.StartsWith("CPU threads: up to 2; OpenMP threads spin ~0.1 ms", CpuThreadGovernor.Describe(2, g));
    }

    /// <summary>Runs <see cref="WaitPolicyChild"/> in a fresh process with OMP_WAIT_POLICY and GOMP_SPINCOUNT as given (null: unset).</summary>
    static Dictionary<string, string> Child(string? policy, string? spin)
    {
        var assembly = typeof(WaitPolicyChild).Assembly.Location;
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h) ? h : "dotnet";
        var env = new Dictionary<string, string> { ["DOTNET_STARTUP_HOOKS"] = assembly, [WaitPolicyChild.Variable] = "1" };
        var unset = new List<string>();
        foreach (var (name, value) in new[] { ("OMP_WAIT_POLICY", policy), ("GOMP_SPINCOUNT", spin) })
            if (value is null) unset.Add(name); else env[name] = value;
        var r = NASiam.Core.Tests.Parity.ParityProcess.Run(host, ["exec", assembly], env, TimeSpan.FromMinutes(2), unset);
        Assert.True(r.ExitCode == 0 && !r.TimedOut, $"wait-policy child {r.Describe()}: {r.Output}");
        return r.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(l => l.Split(' ', 2)).Where(kv => kv.Length == 2 && kv[0].All(c => char.IsAsciiLetterUpper(c) || c == '_'))
            .ToDictionary(kv => kv[0], kv => kv[1]); // the child's KEY value lines (stdout and stderr come together)
    }

    [Fact]
    public void AFreshProcess_GetsTheEngineSpin_BeforeOpenMpLoads()
    {
        var r = Child(null, null);
        Assert.Equal("True", r["MANAGES"]);
        Assert.Equal(TorchRuntime.EngineSpinCount, r["SPIN"]);
        Assert.Equal("PASSIVE", r["POLICY"]);
        Assert.Equal("False", r["GOMP_BEFORE"]); // libgomp was not loaded when the variables were set ...
        Assert.Equal("True", r["GOMP_AFTER"]);   // ... and is after the first tensor: it read them
        Assert.Contains("thread governor on", r["WAIT"]);
    }

    [Fact]
    public void AUsersWaitPolicy_IsLeftAlone_AndTurnsTheGovernorOff()
    {
        var r = Child("ACTIVE", null);
        Assert.Equal("False", r["MANAGES"]);
        Assert.Equal("ACTIVE", r["POLICY"]);
        Assert.Equal("(unset)", r["SPIN"]);
        Assert.Contains("thread governor off", r["WAIT"]);
        r = Child(null, "2000");
        Assert.Equal("False", r["MANAGES"]);
        Assert.Equal(("PASSIVE", "2000"), (r["POLICY"], r["SPIN"]));
    }
}

/// <summary>
/// The child of the wait-policy tests: started through <c>StartupHook</c> (ParityChild.cs) when
/// <see cref="Variable"/> is set; prints what the engine set in the native environment, whether libgomp
/// was mapped before and after the first tensor, and exits.
/// </summary>
internal static class WaitPolicyChild
{
    public const string Variable = "NASIAM_WAIT_CHILD";

    [DllImport("libc", EntryPoint = "getenv")]
    static extern IntPtr NativeGetEnv(string name);

    static string Native(string name) => Marshal.PtrToStringAnsi(NativeGetEnv(name)) ?? "(unset)";

    static bool GompMapped() => File.ReadLines("/proc/self/maps").Any(l => l.Contains("libgomp", StringComparison.Ordinal));

    public static void RunIfAsked()
    {
        if (Environment.GetEnvironmentVariable(Variable) != "1") return;
        bool before = GompMapped();
        TorchRuntime.Initialise();
        Console.WriteLine($"MANAGES {TorchRuntime.EngineManagesWaiting}");
        Console.WriteLine($"SPIN {Native("GOMP_SPINCOUNT")}");
        Console.WriteLine($"POLICY {Native("OMP_WAIT_POLICY")}");
        Console.WriteLine($"WAIT {TorchRuntime.WaitDescription}");
        using (var t = TorchSharp.torch.ones(4, 4)) using (var m = t.matmul(t)) { }
        Console.WriteLine($"GOMP_BEFORE {before}");
        Console.WriteLine($"GOMP_AFTER {GompMapped()}");
        Console.Out.Flush();
        Environment.Exit(0);
    }
}

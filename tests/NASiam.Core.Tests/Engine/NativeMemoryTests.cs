using NASiam.Core.Engine;
using NASiam.Core.Engine.Benchmarks;
using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Tests.Engine;

public class NativeMemoryTests
{
    static bool UserSetMalloc => new[] { "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_" }
        .Any(v => Environment.GetEnvironmentVariable(v) is not null) || Environment.GetEnvironmentVariable(NativeMemory.AllocatorTuningVariable) == "0";

    [Fact]
    public void Initialise_TunesMalloc_OnLinux_UnlessTheUserChose()
    {
        TorchRuntime.Initialise();
        if (!OperatingSystem.IsLinux()) Assert.Equal("off (not Linux)", NativeMemory.AllocatorTuning);
        else if (UserSetMalloc) Assert.StartsWith("off (", NativeMemory.AllocatorTuning);
        else Assert.Equal("on", NativeMemory.AllocatorTuning);
    }

    [Fact]
    public void MinorFaults_AgreesWithGetrusage_AndGrowsWhenFreshMemoryIsTouched()
    {
        if (!OperatingSystem.IsLinux()) { Assert.Equal(-1, NativeMemory.MinorFaults()); return; }
        // The kernel's other account of the same counter: the /proc/self/stat field read must lie between two getrusage readings.
        long a = RusageMinorFaults();
        long mine = NativeMemory.MinorFaults();
        long b = RusageMinorFaults();
        Assert.InRange(mine, a, b);
        // 64 MiB mapped fresh from the kernel (mmap, not malloc: with the engine's malloc tuning a heap
        // block freed by an earlier test can be reused already faulted in), so touching it faults pages in:
        // 16 k with 4 KiB pages, as few as a handful with transparent huge pages (a CI host once counted 6),
        // so only "more" is asserted.
        const long size = 64L << 20;
        var p = Mmap(IntPtr.Zero, (nuint)size, 3 /* PROT_READ | PROT_WRITE */, 0x22 /* MAP_PRIVATE | MAP_ANONYMOUS */, -1, 0);
        Assert.NotEqual(new IntPtr(-1), p);
        try
        {
            for (long o = 0; o < size; o += 4096) System.Runtime.InteropServices.Marshal.WriteByte(p, (int)o, 1);
            Assert.True(NativeMemory.MinorFaults() > b, "no page fault counted for 64 MiB of fresh memory");
        }
        finally
        {
            Assert.Equal(0, Munmap(p, (nuint)size));
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "mmap")]
    static extern IntPtr Mmap(IntPtr addr, nuint length, int prot, int flags, int fd, long offset);

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "munmap")]
    static extern int Munmap(IntPtr addr, nuint length);

    static long RusageMinorFaults()
    {
        Assert.Equal(0, GetRusage(0, out var u)); // RUSAGE_SELF
        return u.MinFlt;
    }

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    struct RUsage
    {
        public long UtimeSec, UtimeUsec, StimeSec, StimeUsec, MaxRss, IxRss, IdRss, IsRss, MinFlt, MajFlt, NSwap, InBlock, OuBlock, MsgSnd, MsgRcv, NSignals, NvCsw, NivCsw;
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "getrusage")]
    static extern int GetRusage(int who, out RUsage usage);

    [Fact]
    public void HeadsBenchmark_MeasuresEveryVariant()
    {
        var o = new HeadsBenchmarkOptions { BatchSize = 4, Steps = 2, Warmup = 1, Threads = 1, FeatureDim = 8, Dim = 16, PredDim = 8, EncoderLayers = 2, PredictorLayers = 2 };
        var timings = HeadsBenchmark.Run(o, [HeadsBenchmark.SearchCells, HeadsBenchmark.SearchCells with { Name = "again" }]);
        Assert.Equal(["search-cells", "again"], timings.Select(t => t.Variant));
        Assert.All(timings, t => Assert.True(t.Forward > 0 && t.Backward > 0 && t.Optimizer > 0 && t.CpuForwardBackward >= 0));
    }
}

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
    public void MinorFaults_CountsFreshlyTouchedMemory()
    {
        if (!OperatingSystem.IsLinux()) { Assert.Equal(-1, NativeMemory.MinorFaults()); return; }
        long before = NativeMemory.MinorFaults();
        Assert.True(before > 0);
        // 64 MiB (above any mmap threshold): mapped fresh, so touching it faults ~16 k pages in.
        using (var t = ones(16 << 20)) Assert.Equal(1f, t[0].item<float>());
        Assert.True(NativeMemory.MinorFaults() - before > 4000, $"only {NativeMemory.MinorFaults() - before} faults for 64 MiB");
    }

    [Fact]
    public void HeadsBenchmark_MeasuresEveryVariant()
    {
        var o = new HeadsBenchmarkOptions { BatchSize = 4, Steps = 2, Warmup = 1, Threads = 1, FeatureDim = 8, Dim = 16, PredDim = 8, EncoderLayers = 2, PredictorLayers = 2 };
        var timings = HeadsBenchmark.Run(o, [HeadsBenchmark.SearchCells, HeadsBenchmark.SearchCells with { Name = "again" }]);
        Assert.Equal(["search-cells", "again"], timings.Select(t => t.Variant));
        Assert.All(timings, t => Assert.True(t.Forward > 0 && t.Backward > 0 && t.Optimizer > 0 && t.CpuForwardBackward >= 0));
    }
}

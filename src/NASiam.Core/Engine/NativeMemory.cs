using System.Runtime.InteropServices;
using TorchSharp;

namespace NASiam.Core.Engine;

/// <summary>
/// Keeps native memory flat over long runs without a collection every step.
/// Root cause of the growth, measured (MoCo ResNet-18 search, mallinfo2 next to RSS): the C heap in
/// use after a step stays at ~295 MiB while RSS climbed by ~100 MiB a step (1.85 GiB at step 5,
/// 3.49 GiB at step 30, batch 32, no GC), because glibc keeps the freed activations in its arenas
/// (after the first large free it raises its mmap threshold, so activations come from the heap) and
/// small native blocks that only the GC frees were allocated between them, so the free space could
/// neither be reused for the next step's large blocks nor trimmed. Those blocks were TorchSharp's:
/// a native Scalar for every number it converts (BatchNorm's num_batches_tracked.add_(1), ELU's α,
/// Adam's coefficients, the alpha of a one-argument add_) and a marshalled callback thunk (~128
/// bytes) for every <c>shape</c> read (Conv2d.forward, <c>Tensor.zero_()</c> in zero_grad) — ~1,300 a
/// step, found in a heap dump. The engine's training path now makes none: <see cref="Scalars"/>, the
/// in-place optimizers and their zero_grad, ScalarSafeBatchNorm2d, ScalarSafeElu, ConvCall, and the
/// NASIAM002 analyzer against new ones. RSS then stays flat without any collection (bench/README.md,
/// eleventh session). The data path did the same (~200 hidden alpha Scalars a search step in the
/// augmentation's Tensor + and Scalar − Tensor, a deleter thunk per <c>tensor(array)</c>, a stride
/// callback per <c>item&lt;T&gt;()</c>); it now uses <see cref="TensorMath"/> (twelfth session). A
/// collection (GC + finalizers, no trim) still runs every <see cref="CollectEvery"/> steps as a safety
/// net for code outside the step, and a malloc_trim(0) after each epoch's monitors (their inference
/// activations). The periodic collection no longer trims (thirteenth session): with nothing left to
/// fragment the heap, a trim every 50 steps only handed pages back that the next 20-30 steps faulted in
/// again (~0.3 GiB a cycle), which made RSS after an epoch depend on where the last trim fell.
/// </summary>
public static class NativeMemory
{
    /// <summary>Steps between two forced collections (the issue's limit: at most one every 50 steps).</summary>
    public const int CollectEvery = 50;

    /// <summary>Runs <see cref="Collect"/> when <paramref name="counter"/> is a multiple of <see cref="CollectEvery"/>.</summary>
    public static void MaybeCollect(long counter)
    {
        if (counter % CollectEvery == 0) Collect();
    }

    /// <summary>
    /// Full blocking collection plus finalizers (frees native blocks that only a finalizer releases). No
    /// trim: the C heap keeps its free pages for the next steps; <see cref="Trim"/> hands them back at
    /// epoch ends.
    /// </summary>
    public static void Collect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
    }

    /// <summary><see cref="Collect"/>, then <see cref="Trim"/>: RSS down to what is in use (measurements' baselines).</summary>
    public static void CollectAndTrim()
    {
        Collect();
        Trim();
    }

    /// <summary>Environment variable that turns <see cref="TuneAllocator"/> off when set to 0.</summary>
    public const string AllocatorTuningVariable = "NASIAM_MALLOC_TUNING";

    /// <summary>glibc's mmap threshold the engine sets: 32 MiB (glibc's own upper bound for its dynamic threshold).</summary>
    public const int MmapThresholdBytes = 32 << 20;

    /// <summary>glibc's trim threshold the engine sets: 1 GiB, so a step's freed activations stay mapped for the next step.</summary>
    public const int TrimThresholdBytes = 1 << 30;

    /// <summary>What <see cref="TuneAllocator"/> did (null until it ran): "on", or why it was skipped.</summary>
    public static string? AllocatorTuning { get; private set; }

    /// <summary>
    /// Sets glibc malloc up for training loops (called once by <see cref="TorchRuntime.Initialise"/>):
    /// mmap threshold 32 MiB (fixed, not dynamic) and trim threshold 1 GiB. Why, measured (SimSiam
    /// ResNet-18 search, batch 32, one thread): with glibc's defaults every step gives its freed
    /// activations back to the kernel (munmap of
    /// chunks above the dynamic mmap threshold; heap-top trimming above twice that), and the next step
    /// faults them in again, zeroed by the kernel: 556 k minor faults in the run and 15-25 % of the
    /// step's CPU in page-fault handling and clear_page; with these settings 323 k faults and the weight
    /// step's process CPU 3.6 → 2.4 s, pre-training 2.7 → 1.8 s (loaded host). Memory is still given
    /// back: <see cref="Trim"/> runs after every epoch, and between trims RSS stays at about one
    /// step's peak. Skipped where the user chose (any MALLOC_MMAP_THRESHOLD_,
    /// MALLOC_TRIM_THRESHOLD_ or MALLOC_TOP_PAD_ set, or NASIAM_MALLOC_TUNING=0) and off glibc.
    /// </summary>
    public static void TuneAllocator()
    {
        if (AllocatorTuning is not null) return;
        if (!OperatingSystem.IsLinux()) { AllocatorTuning = "off (not Linux)"; return; }
        if (Environment.GetEnvironmentVariable(AllocatorTuningVariable) == "0") { AllocatorTuning = $"off ({AllocatorTuningVariable}=0)"; return; }
        var user = new[] { "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_" }.Where(v => Environment.GetEnvironmentVariable(v) is not null).ToArray();
        if (user.Length > 0) { AllocatorTuning = $"off ({string.Join(", ", user)} set by the user)"; return; }
        try
        {
            // mallopt returns 1 on success; M_MMAP_THRESHOLD = -3, M_TRIM_THRESHOLD = -1.
            bool ok = MallOpt(-3, MmapThresholdBytes) == 1 & MallOpt(-1, TrimThresholdBytes) == 1;
            AllocatorTuning = ok ? "on" : "off (mallopt refused)";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { AllocatorTuning = "off (no glibc mallopt)"; }
    }

    /// <summary>A kB field of /proc/self/status (VmRSS, VmHWM, ...) in MiB; NaN off Linux or where it cannot be read.</summary>
    public static double ProcessStatusMib(string field)
    {
        if (!OperatingSystem.IsLinux()) return double.NaN;
        try
        {
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith(field + ":", StringComparison.Ordinal));
            if (line is null) return double.NaN;
            var kb = long.Parse(line.Split(':', StringSplitOptions.TrimEntries)[1].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
            return kb / 1024.0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { return double.NaN; }
    }

    /// <summary>Minor page faults of this process so far (/proc/self/stat field 10); -1 where unavailable.</summary>
    public static long MinorFaults()
    {
        try
        {
            var stat = File.ReadAllText("/proc/self/stat");
            // Fields after the command name, which is in parentheses and may contain spaces: state is field 3, minflt field 10.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[7], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException) { return -1; }
    }

    static bool _trimUnavailable;

    /// <summary>glibc's malloc_trim(0): releases free pages anywhere in the arenas. A no-op elsewhere (musl, macOS, Windows).</summary>
    public static void Trim()
    {
        if (_trimUnavailable || !OperatingSystem.IsLinux()) return;
        try { MallocTrim(0); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { _trimUnavailable = true; }
    }

    /// <summary>The C heap now (glibc's mallinfo2; null elsewhere): bytes in use (small + mmapped) and free bytes held in the arenas.</summary>
    public static (double InUseMib, double ArenaFreeMib)? Heap()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            var m = MallInfo2();
            return ((m.Uordblks + (double)m.Hblkhd) / 1048576.0, m.Fordblks / 1048576.0);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return null; }
    }

    [StructLayout(LayoutKind.Sequential)]
    struct MallInfo2Struct
    {
        public nuint Arena, Ordblks, Smblks, Hblks, Hblkhd, Usmblks, Fsmblks, Uordblks, Fordblks, Keepcost;
    }

    [DllImport("libc", EntryPoint = "malloc_trim")]
    static extern int MallocTrim(nuint pad);

    [DllImport("libc", EntryPoint = "mallopt")]
    static extern int MallOpt(int param, int value);

    [DllImport("libc", EntryPoint = "mallinfo2")]
    static extern MallInfo2Struct MallInfo2();
}

/// <summary>
/// Native Scalars the engine's hot paths reuse. TorchSharp turns every .NET number passed to a
/// tensor op (and the implicit alpha of <c>a + b</c>) into a new native Scalar that only the
/// finalizer frees: about a thousand per search step, and a finalizer may free one while libtorch
/// still reads it (the JIT can drop the temporary after taking its handle), which is how
/// "Unknown scalar type" appeared once in div(Tensor, Scalar). A static Scalar is never collected;
/// one-off values use <c>using var s = x.ToScalar()</c>, whose Dispose keeps it alive past the call.
/// </summary>
public static class Scalars
{
    /// <summary>0 (a gradient zeroed in place).</summary>
    public static readonly Scalar Zero = 0.0.ToScalar();
    /// <summary>1 (the alpha of a plain tensor sum).</summary>
    public static readonly Scalar One = 1.0.ToScalar();
    /// <summary>0.5 (SimSiam's symmetric loss).</summary>
    public static readonly Scalar Half = 0.5.ToScalar();
    /// <summary>1 as an int64 Scalar (an in-place add to an int64 tensor, such as a BatchNorm's num_batches_tracked).</summary>
    public static readonly Scalar OneInt64 = 1L.ToScalar();
}

using System.Runtime.InteropServices;
using TorchSharp;

namespace NASiam.Core.Engine;

/// <summary>
/// Keeps native memory flat over long runs without a collection every step.
/// Root cause of the growth, measured (MoCo ResNet-18 search, mallinfo2 next to RSS): after a step
/// only ~182 MiB of the C heap is in use, yet RSS was 1.6-1.8 GiB at batch 32 (0.8 GiB at batch 8)
/// because glibc malloc keeps the freed activations: after the first large free it raises its mmap
/// threshold (up to 32 MiB), so activations come from the heap arenas, and a heap returns memory to
/// the OS only from its top. TorchSharp's finalizer-only native objects (about a thousand Scalars
/// per step: implicit number conversions, batch-norm counters, optimizer arithmetic) sit between
/// and above those blocks, so the free space can neither be trimmed nor coalesced and the arenas
/// creep. The forced GC that held RSS down did so only indirectly (finalizing those objects let
/// glibc trim the heap tops), and paid for it with re-faulted memory on the next step (29-43 k
/// minor faults and 0.23-0.35 s system time per step with a GC every 4 steps against 4.5-10 k and
/// 0.04-0.1 s without, batch 8). A collection frees less than 1 MiB of in-use native memory.
/// Hence: the engine's own hot paths create no implicit Scalars (<see cref="Scalars"/>, the
/// in-place optimizers), and every <see cref="CollectEvery"/> steps one collection runs followed by
/// malloc_trim(0), which returns the free pages inside the arenas, not just their tops.
/// </summary>
public static class NativeMemory
{
    /// <summary>Steps between a collection + trim (the limit: at most one every 50 steps).</summary>
    public const int CollectEvery = 50;

    /// <summary>Collects when <paramref name="counter"/> is a multiple of <see cref="CollectEvery"/>.</summary>
    public static void MaybeCollect(long counter)
    {
        if (counter % CollectEvery == 0) Collect();
    }

    /// <summary>Full blocking collection plus finalizers, then hands the C heap's free pages back (glibc only).</summary>
    public static void Collect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Trim();
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
    /// <summary>1 (the alpha of a plain tensor sum).</summary>
    public static readonly Scalar One = 1.0.ToScalar();
    /// <summary>0.5 (SimSiam's symmetric loss).</summary>
    public static readonly Scalar Half = 0.5.ToScalar();
}

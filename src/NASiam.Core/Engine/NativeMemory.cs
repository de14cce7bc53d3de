namespace NASiam.Core.Engine;

/// <summary>
/// Keeps native memory flat over long runs. Measured with TorchSharp 0.107: even with every step
/// inside a dispose scope, RSS grows without a GC (ResNet-18 search at batch 8: about 12 MiB per
/// step; pre-training nearly flat once the forward runs in its own scope, see
/// SiameseModel.ComputeLossForBackward). The leaked memory is not held by Tensor wrappers: the live
/// wrapper count and the count created outside scopes stay constant step after step, so it is some
/// other finalizable native object of the search path. A forced collection costs about 3 ms (vs
/// 1.8 s per ResNet-18 search step at batch 32), and with one every 4 steps RSS stayed at 545-549 MiB
/// from step 100 to step 700 of a resnet-tiny search (`nasiam bench --gc-every 4`).
/// </summary>
public static class NativeMemory
{
    /// <summary>Steps between forced collections.</summary>
    public const int CollectEvery = 4;

    /// <summary>Collects when <paramref name="counter"/> is a multiple of <see cref="CollectEvery"/>.</summary>
    public static void MaybeCollect(long counter)
    {
        if (counter % CollectEvery == 0) Collect();
    }

    /// <summary>Full blocking collection plus finalizers (releases the native memory those objects hold).</summary>
    public static void Collect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
    }
}

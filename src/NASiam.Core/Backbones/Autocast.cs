using System.Runtime.InteropServices;
using NASiam.Core.Options;
using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Backbones;

/// <summary>
/// libtorch's autocast for one block of code on this thread (TorchSharp 0.107 wraps no autocast
/// API; libtorch_cpu exports the switches Python's torch.autocast uses, called here the same way:
/// enable + dtype + nesting on entry, cache clear on the outermost exit, previous state restored).
/// Inside, convolutions and matrix products run in the lower precision; ops autocast keeps in fp32
/// stay fp32. The state is thread-local, as in PyTorch.
/// </summary>
public sealed class Autocast : IDisposable
{
    readonly sbyte _device;
    readonly bool _previousEnabled;
    readonly sbyte _previousDtype;

    Autocast(DeviceType device, ScalarType dtype)
    {
        _device = (sbyte)device;
        _previousEnabled = IsEnabled(_device);
        _previousDtype = GetDtype(_device);
        SetEnabled(_device, true);
        SetDtype(_device, (sbyte)dtype);
        IncrementNesting();
    }

    /// <summary>An autocast scope for <paramref name="precision"/> on <paramref name="device"/>; null for fp32 (nothing to do).</summary>
    public static Autocast? For(BackbonePrecision precision, Device device) => precision switch
    {
        BackbonePrecision.Fp32 => null,
        BackbonePrecision.Bf16 => new Autocast(device.type == DeviceType.CUDA ? DeviceType.CUDA : DeviceType.CPU, ScalarType.BFloat16),
        _ => throw new ArgumentOutOfRangeException(nameof(precision)),
    };

    /// <summary>Leaves the scope: clears the cast-weight cache when it was the outermost, restores the previous state.</summary>
    public void Dispose()
    {
        if (DecrementNesting() == 0) ClearCache();
        SetEnabled(_device, _previousEnabled);
        SetDtype(_device, _previousDtype);
    }

    const string Lib = "libtorch_cpu";

    [DllImport(Lib, EntryPoint = "_ZN2at8autocast20set_autocast_enabledEN3c1010DeviceTypeEb")]
    static extern void SetEnabled(sbyte device, [MarshalAs(UnmanagedType.U1)] bool enabled);

    [DllImport(Lib, EntryPoint = "_ZN2at8autocast19is_autocast_enabledEN3c1010DeviceTypeE")]
    [return: MarshalAs(UnmanagedType.U1)]
    static extern bool IsEnabled(sbyte device);

    [DllImport(Lib, EntryPoint = "_ZN2at8autocast18set_autocast_dtypeEN3c1010DeviceTypeENS1_10ScalarTypeE")]
    static extern void SetDtype(sbyte device, sbyte dtype);

    [DllImport(Lib, EntryPoint = "_ZN2at8autocast18get_autocast_dtypeEN3c1010DeviceTypeE")]
    static extern sbyte GetDtype(sbyte device);

    [DllImport(Lib, EntryPoint = "_ZN2at8autocast17increment_nestingEv")]
    static extern long IncrementNesting();

    [DllImport(Lib, EntryPoint = "_ZN2at8autocast17decrement_nestingEv")]
    static extern long DecrementNesting();

    [DllImport(Lib, EntryPoint = "_ZN2at8autocast11clear_cacheEv")]
    static extern void ClearCache();
}

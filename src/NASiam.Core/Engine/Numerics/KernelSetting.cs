using NASiam.Core.Backbones;

namespace NASiam.Core.Engine.Numerics;

/// <summary>Memory layout of a ResNet trunk's activations on the CPU.</summary>
public enum ConvLayout
{
    /// <summary>Plain contiguous NCHW: libtorch's native (and, for a 1x1 stride-1 conv, oneDNN) kernels.</summary>
    Nchw,
    /// <summary>NHWC in memory (<see cref="ChannelsLast"/>): libtorch's oneDNN brgemm kernels.</summary>
    ChannelsLast,
}

/// <summary>
/// One candidate way of running a backbone's convolutions on the CPU: the activation layout, and
/// whether strided 1x1 shortcuts run as stride-1 convolutions on the subsampled input
/// (<see cref="Strided1x1"/>). Both leave shapes, parameters and the mathematical function unchanged.
/// </summary>
public sealed record KernelSetting(ConvLayout Layout, bool Strided1x1Workaround)
{
    /// <summary>Every candidate, in the order of the cheap rule (no timing): NCHW first (faster than channels-last on the AVX-512 EPYC host of docs/kernel-faults.md), then without the workaround first.</summary>
    public static IReadOnlyList<KernelSetting> All { get; } =
    [
        new(ConvLayout.Nchw, false), new(ConvLayout.Nchw, true),
        new(ConvLayout.ChannelsLast, false), new(ConvLayout.ChannelsLast, true),
    ];

    /// <summary>
    /// The candidates the kernel self-check chooses among by default: the NCHW ones only. Channels-last
    /// stays available to force (<c>nasiam bench --conv-setting</c>, the parity suite's layout variable)
    /// but is never chosen, because its faults are not all visible to the check: on an AMD EPYC Zen 4
    /// host it passed every per-shape check and was chosen for the ImageNet stem, yet the PyTorch parity
    /// suite found its weight gradients up to 1.9e-1 off (against 5e-6 in NCHW, float64 replay), see
    /// docs/kernel-faults.md fault 3. Its gain where it was faster was 3–10 %.
    /// </summary>
    public static IReadOnlyList<KernelSetting> Automatic { get; } = [new(ConvLayout.Nchw, false), new(ConvLayout.Nchw, true)];

    /// <summary>"nchw", "nchw+s1x1", "channels-last" or "channels-last+s1x1".</summary>
    public string Name => (Layout == ConvLayout.Nchw ? "nchw" : "channels-last") + (Strided1x1Workaround ? "+s1x1" : "");

    /// <summary>Parses <see cref="Name"/> (case-insensitive); throws <see cref="ArgumentException"/> listing the valid names.</summary>
    public static KernelSetting Parse(string name) =>
        All.FirstOrDefault(s => s.Name.Equals(name.Trim(), StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"Unknown convolution setting '{name}'. Valid settings: {string.Join(", ", All.Select(s => s.Name))}.");

    /// <summary>Applies the setting to a trunk (layout of its activations and the shortcut workaround).</summary>
    public void ApplyTo(ResNet trunk)
    {
        if (Layout == ConvLayout.ChannelsLast) trunk.UseChannelsLast(); else trunk.UseNchw();
        trunk.UseStrided1x1Workaround(Strided1x1Workaround);
    }

    public override string ToString() => Name;
}

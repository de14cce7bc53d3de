using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NASiam.Core.Backbones;

/// <summary>A residual block whose last BN can be zero-initialised (zero_init_residual).</summary>
public interface IResidualBlock
{
    /// <summary>The BN closing the residual branch (bn2 for basic, bn3 for bottleneck blocks).</summary>
    ScalarSafeBatchNorm2d LastBatchNorm { get; }

    /// <summary>
    /// When true, a strided 1x1 projection shortcut runs as a 1x1 stride-1 convolution on the
    /// subsampled input (<see cref="Strided1x1.Forward"/>): the same function and the same
    /// parameters (state-dict keys unchanged), but it avoids libtorch 2.10's faulty oneDNN strided
    /// 1x1 kernels on some AVX-512 CPUs (docs/kernel-faults.md). Off by default.
    /// </summary>
    bool Strided1x1Workaround { get; set; }
}

/// <summary>
/// The identity behind the strided-1x1 workaround: a 1x1 convolution with stride s and no padding
/// reads only the pixels (s·i, s·j), so it equals a 1x1 stride-1 convolution on x[:, :, ::s, ::s]
/// (same sums per output element). On the ResNet-18/50 shortcut shapes in float64 the tests find
/// outputs and input gradients bit-identical and weight gradients equal to 1e-13 (their reduction
/// order may differ). Gradients follow through the slice (zeros at the skipped pixels), as for the
/// strided convolution.
/// </summary>
public static class Strided1x1
{
    /// <summary>True when <paramref name="conv"/> is a 1x1, stride &gt; 1, unpadded, undilated, ungrouped convolution.</summary>
    public static bool Applies(Conv2d conv) => Applies(conv.kernel_size, conv.stride, conv.padding, conv.dilation, conv.groups);

    /// <summary>Shape test behind <see cref="Applies(Conv2d)"/> (square kernels, strides and paddings as libtorch's long[2]).</summary>
    public static bool Applies(long[] kernel, long[] stride, long[]? padding, long[] dilation, long groups) =>
        kernel.All(k => k == 1) && stride.Any(s => s > 1) && (padding is null || padding.All(p => p == 0)) && dilation.All(d => d == 1) && groups == 1;

    /// <summary>
    /// conv2d(x, weight, stride) for a 1x1 unpadded weight [Cout, Cin, 1, 1], computed as a stride-1
    /// convolution of x[:, :, ::sh, ::sw]. x: [N, Cin, H, W] (any layout) → [N, Cout, ⌈H/sh⌉, ⌈W/sw⌉].
    /// </summary>
    public static Tensor Forward(Tensor x, Tensor weight, long strideH, long strideW, Tensor? bias = null)
    {
        using var sub = x[TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(null, null, strideH), TensorIndex.Slice(null, null, strideW)];
        return nn.functional.conv2d(sub, weight, bias);
    }

    /// <summary>Runs a projection shortcut (the downsample Sequential's conv, then its BN): through the workaround when it applies, else as it is.</summary>
    internal static Tensor Shortcut(Conv2d conv, ScalarSafeBatchNorm2d bn, Tensor x, bool workaround) =>
        workaround && Applies(conv) ? bn.call(Forward(x, conv.weight!, conv.stride[0], conv.stride[1], conv.bias)) : bn.call(ConvCall.Forward(conv, x));
}

/// <summary>
/// A Conv2d module's own convolution, called without TorchSharp's input check: Conv2d.forward reads
/// <c>input.shape</c> twice, and each read hands libtorch a fresh managed callback whose native thunk
/// (~128 bytes of C heap) lives until the next garbage collection. Allocated between one step's freed
/// activations, those blocks fragmented glibc's heap until a GC ran (bench/README.md, eleventh
/// session). Same kernel, weights and arguments as <c>conv.call(x)</c>; other padding modes go
/// through the module. Forward hooks registered on the Conv2d do not run (the engine registers none).
/// </summary>
public static class ConvCall
{
    /// <summary>conv(x) for x: [N, Cin, H, W] → [N, Cout, H', W'].</summary>
    public static Tensor Forward(Conv2d conv, Tensor x) =>
        conv.padding_mode == PaddingModes.Zeros && conv.padding_type is null && conv.padding is not null
            ? nn.functional.conv2d(x, conv.weight!, conv.bias, conv.stride, conv.padding, conv.dilation, conv.groups)
            : conv.call(x);
}

/// <summary>
/// torchvision's BasicBlock: 3x3 conv-BN-ReLU, 3x3 conv-BN, plus the (optionally projected)
/// shortcut, then ReLU. [N, in, H, W] → [N, planes, H/stride, W/stride]. Children are named as
/// torchvision's (conv1, bn1, conv2, bn2, downsample.0/1) so state-dict keys match.
/// </summary>
public sealed class BasicBlock : nn.Module<Tensor, Tensor>, IResidualBlock
{
    public const int Expansion = 1;
    readonly Conv2d conv1, conv2;
    readonly ScalarSafeBatchNorm2d bn1, bn2;
    readonly Sequential? downsample;
    // The shortcut's modules, reachable without re-registering them (a field of a non-module type is not a child).
    readonly ShortcutParts? parts;

    public ScalarSafeBatchNorm2d LastBatchNorm => bn2;
    public bool Strided1x1Workaround { get; set; }

    public BasicBlock(int inPlanes, int planes, int stride) : base(nameof(BasicBlock))
    {
        conv1 = nn.Conv2d(inPlanes, planes, 3, stride: stride, padding: 1, bias: false);
        bn1 = new ScalarSafeBatchNorm2d(planes);
        conv2 = nn.Conv2d(planes, planes, 3, stride: 1, padding: 1, bias: false);
        bn2 = new ScalarSafeBatchNorm2d(planes);
        if (stride != 1 || inPlanes != planes * Expansion)
        {
            parts = new ShortcutParts(nn.Conv2d(inPlanes, planes * Expansion, 1, stride: stride, bias: false), new ScalarSafeBatchNorm2d(planes * Expansion));
            downsample = nn.Sequential(parts.Conv, parts.Bn);
        }
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var identity = downsample is null ? x : Strided1x1.Shortcut(parts!.Conv, parts.Bn, x, Strided1x1Workaround);
        // In place, as torchvision: BN's backward needs its input, not its output, and ReLU's
        // backward reads its own output, so overwriting the BN output saves a full activation.
        var y = bn1.call(ConvCall.Forward(conv1, x)).relu_();
        y = bn2.call(ConvCall.Forward(conv2, y));
        return y.add_(identity, Engine.Scalars.One).relu_();
    }
}

/// <summary>
/// torchvision's Bottleneck (ResNet-50, stride on the 3x3 conv, "v1.5"): 1x1 → 3x3 → 1x1 (4x wider)
/// with BN after each, plus the shortcut, then ReLU. [N, in, H, W] → [N, 4·planes, H/stride, W/stride].
/// </summary>
public sealed class Bottleneck : nn.Module<Tensor, Tensor>, IResidualBlock
{
    public const int Expansion = 4;
    readonly Conv2d conv1, conv2, conv3;
    readonly ScalarSafeBatchNorm2d bn1, bn2, bn3;
    readonly Sequential? downsample;
    readonly ShortcutParts? parts;

    public ScalarSafeBatchNorm2d LastBatchNorm => bn3;
    public bool Strided1x1Workaround { get; set; }

    public Bottleneck(int inPlanes, int planes, int stride) : base(nameof(Bottleneck))
    {
        conv1 = nn.Conv2d(inPlanes, planes, 1, bias: false);
        bn1 = new ScalarSafeBatchNorm2d(planes);
        conv2 = nn.Conv2d(planes, planes, 3, stride: stride, padding: 1, bias: false);
        bn2 = new ScalarSafeBatchNorm2d(planes);
        conv3 = nn.Conv2d(planes, planes * Expansion, 1, bias: false);
        bn3 = new ScalarSafeBatchNorm2d(planes * Expansion);
        if (stride != 1 || inPlanes != planes * Expansion)
        {
            parts = new ShortcutParts(nn.Conv2d(inPlanes, planes * Expansion, 1, stride: stride, bias: false), new ScalarSafeBatchNorm2d(planes * Expansion));
            downsample = nn.Sequential(parts.Conv, parts.Bn);
        }
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var identity = downsample is null ? x : Strided1x1.Shortcut(parts!.Conv, parts.Bn, x, Strided1x1Workaround);
        var y = bn1.call(ConvCall.Forward(conv1, x)).relu_();
        y = bn2.call(ConvCall.Forward(conv2, y)).relu_();
        y = bn3.call(ConvCall.Forward(conv3, y));
        return y.add_(identity, Engine.Scalars.One).relu_();
    }
}

/// <summary>The conv and BN of a projection shortcut (held outside the module tree; the Sequential owns them).</summary>
sealed record ShortcutParts(Conv2d Conv, ScalarSafeBatchNorm2d Bn);

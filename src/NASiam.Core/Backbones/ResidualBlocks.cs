using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NASiam.Core.Backbones;

/// <summary>A residual block whose last BN can be zero-initialised (zero_init_residual).</summary>
public interface IResidualBlock
{
    /// <summary>The BN closing the residual branch (bn2 for basic, bn3 for bottleneck blocks).</summary>
    BatchNorm2d LastBatchNorm { get; }
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
    readonly BatchNorm2d bn1, bn2;
    readonly Sequential? downsample;

    public BatchNorm2d LastBatchNorm => bn2;

    public BasicBlock(int inPlanes, int planes, int stride) : base(nameof(BasicBlock))
    {
        conv1 = nn.Conv2d(inPlanes, planes, 3, stride: stride, padding: 1, bias: false);
        bn1 = nn.BatchNorm2d(planes);
        conv2 = nn.Conv2d(planes, planes, 3, stride: 1, padding: 1, bias: false);
        bn2 = nn.BatchNorm2d(planes);
        if (stride != 1 || inPlanes != planes * Expansion)
            downsample = nn.Sequential(nn.Conv2d(inPlanes, planes * Expansion, 1, stride: stride, bias: false),
                nn.BatchNorm2d(planes * Expansion));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var identity = downsample is null ? x : downsample.call(x);
        // In place, as torchvision: BN's backward needs its input, not its output, and ReLU's
        // backward reads its own output, so overwriting the BN output saves a full activation.
        var y = bn1.call(conv1.call(x)).relu_();
        y = bn2.call(conv2.call(y));
        return y.add_(identity).relu_();
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
    readonly BatchNorm2d bn1, bn2, bn3;
    readonly Sequential? downsample;

    public BatchNorm2d LastBatchNorm => bn3;

    public Bottleneck(int inPlanes, int planes, int stride) : base(nameof(Bottleneck))
    {
        conv1 = nn.Conv2d(inPlanes, planes, 1, bias: false);
        bn1 = nn.BatchNorm2d(planes);
        conv2 = nn.Conv2d(planes, planes, 3, stride: stride, padding: 1, bias: false);
        bn2 = nn.BatchNorm2d(planes);
        conv3 = nn.Conv2d(planes, planes * Expansion, 1, bias: false);
        bn3 = nn.BatchNorm2d(planes * Expansion);
        if (stride != 1 || inPlanes != planes * Expansion)
            downsample = nn.Sequential(nn.Conv2d(inPlanes, planes * Expansion, 1, stride: stride, bias: false),
                nn.BatchNorm2d(planes * Expansion));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var identity = downsample is null ? x : downsample.call(x);
        var y = bn1.call(conv1.call(x)).relu_();
        y = bn2.call(conv2.call(y)).relu_();
        y = bn3.call(conv3.call(y));
        return y.add_(identity).relu_();
    }
}

using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NASiam.Core.Backbones;

/// <summary>Block type of a <see cref="ResNet"/>.</summary>
public enum BlockKind { Basic, Bottleneck }

/// <summary>Architecture of a ResNet trunk: block type, blocks per stage, stage widths (planes).</summary>
public sealed record ResNetConfig(string Name, BlockKind Block, IReadOnlyList<int> BlocksPerStage, IReadOnlyList<int> Planes)
{
    /// <summary>Output channels of a block per plane: 1 for basic blocks, 4 for bottlenecks.</summary>
    public int Expansion => Block == BlockKind.Basic ? BasicBlock.Expansion : Bottleneck.Expansion;

    /// <summary>Width of the pooled output feature: last planes × block expansion.</summary>
    public int FeatureDim => Planes[^1] * Expansion;
}

/// <summary>
/// A ResNet trunk without its classifier (method doc 3): [N, 3, H, W] → pooled, flattened [N, D].
/// CIFAR stem: 3x3 stride-1 conv, no max-pool (the reference's convert_cifar; this conv keeps
/// PyTorch's default conv init because the reference swaps it in after torchvision's init).
/// ImageNet stem: 7x7 stride-2 conv + 3x3 stride-2 max-pool (224-pixel inputs).
/// Other convs: kaiming_normal (fan_out, ReLU) as torchvision; BN γ=1, β=0; with
/// zeroInitResidual the last BN γ of every residual block starts at 0.
/// Children are named as torchvision's (conv1, bn1, relu, [maxpool], layer1..4, avgpool), so
/// parameter names match a torchvision state dict. Built on the CPU.
/// </summary>
public sealed class ResNet : nn.Module<Tensor, Tensor>
{
    readonly Conv2d conv1;
    readonly ScalarSafeBatchNorm2d bn1;
    // Applied in place in forward, but kept as a child: the reference's index-based keys (SimCLR "f.N") count it.
    readonly ReLU relu = nn.ReLU();
    readonly MaxPool2d? maxpool;
    readonly Sequential layer1, layer2, layer3, layer4;
    readonly AdaptiveAvgPool2d avgpool = nn.AdaptiveAvgPool2d(1);

    /// <summary>The architecture.</summary>
    public ResNetConfig Config { get; }
    /// <summary>True for the 3x3 stride-1 stem without max-pool.</summary>
    public bool CifarStem { get; }
    /// <summary>Output feature width D (512 for R18, 2048 for R50).</summary>
    public int FeatureDim => Config.FeatureDim;

    /// <summary>
    /// True after <see cref="UseChannelsLast"/>: inputs are re-laid channels-last, so libtorch runs
    /// its NHWC (oneDNN brgemm) convolution and batch-norm kernels and every activation stays NHWC;
    /// shapes and results are unchanged. The weights themselves stay plain contiguous NCHW (libtorch
    /// takes the NHWC path when either input or weight is channels-last and returns weight gradients
    /// in the weight's layout), so checkpoints, optimizer state and state dicts see ordinary tensors.
    /// </summary>
    public bool IsChannelsLast { get; private set; }

    /// <summary>Switches the trunk's activations to channels-last (see <see cref="IsChannelsLast"/>).</summary>
    public void UseChannelsLast() => IsChannelsLast = true;

    /// <summary>Back to NCHW activations (comparison runs).</summary>
    public void UseNchw() => IsChannelsLast = false;

    /// <summary>
    /// True when every strided 1x1 projection shortcut (downsample.0 of the first block of
    /// layer2..4) runs as a stride-1 convolution on the subsampled input. Same function, same
    /// parameters and state-dict keys; chosen by the kernel self-check on hosts where libtorch's
    /// strided 1x1 kernels are wrong or crash (see <see cref="Strided1x1"/>).
    /// </summary>
    public bool UsesStrided1x1Workaround { get; private set; }

    /// <summary>Turns the strided-1x1 workaround (see <see cref="UsesStrided1x1Workaround"/>) on or off in every block.</summary>
    public void UseStrided1x1Workaround(bool on)
    {
        foreach (var block in modules().OfType<IResidualBlock>()) block.Strided1x1Workaround = on;
        UsesStrided1x1Workaround = on;
    }

    public ResNet(ResNetConfig config, bool cifarStem, bool zeroInitResidual) : base(config.Name)
    {
        if (config.BlocksPerStage.Count != 4 || config.Planes.Count != 4)
            throw new ArgumentException($"ResNet '{config.Name}' needs 4 stages, got {config.BlocksPerStage.Count} block counts and {config.Planes.Count} widths.");
        Config = config;
        CifarStem = cifarStem;
        int stem = config.Planes[0];
        conv1 = cifarStem
            ? nn.Conv2d(3, stem, 3, stride: 1, padding: 1, bias: false)
            : nn.Conv2d(3, stem, 7, stride: 2, padding: 3, bias: false);
        bn1 = new ScalarSafeBatchNorm2d(stem);
        if (!cifarStem) maxpool = nn.MaxPool2d(3, stride: 2, padding: 1);
        int inPlanes = stem;
        Sequential Stage(int i)
        {
            var blocks = new List<nn.Module<Tensor, Tensor>>();
            for (int b = 0; b < config.BlocksPerStage[i]; b++)
            {
                int stride = b == 0 && i > 0 ? 2 : 1;
                nn.Module<Tensor, Tensor> block = config.Block == BlockKind.Basic
                    ? new BasicBlock(inPlanes, config.Planes[i], stride)
                    : new Bottleneck(inPlanes, config.Planes[i], stride);
                inPlanes = config.Planes[i] * config.Expansion;
                blocks.Add(block);
            }
            return nn.Sequential(blocks.ToArray());
        }
        layer1 = Stage(0);
        layer2 = Stage(1);
        layer3 = Stage(2);
        layer4 = Stage(3);
        // Field order = registration order = torchvision's child order.
        RegisterComponents();
        Initialise(zeroInitResidual);
    }

    void Initialise(bool zeroInitResidual)
    {
        using var _ = no_grad();
        foreach (var m in modules())
        {
            switch (m)
            {
                case Conv2d conv when !ReferenceEquals(conv, conv1) || !CifarStem:
                    nn.init.kaiming_normal_(conv.weight, mode: nn.init.FanInOut.FanOut, nonlinearity: nn.init.NonlinearityType.ReLU);
                    break;
                case ScalarSafeBatchNorm2d bn:
                    nn.init.ones_(bn.weight);
                    nn.init.zeros_(bn.bias);
                    break;
            }
        }
        if (!zeroInitResidual) return;
        foreach (var m in modules())
            if (m is IResidualBlock block) nn.init.zeros_(block.LastBatchNorm.weight);
    }

    /// <summary>x: [N, 3, H, W] → [N, D].</summary>
    public override Tensor forward(Tensor x)
    {
        if (IsChannelsLast) x = ChannelsLast.Convert(x);
        var y = bn1.call(ConvCall.Forward(conv1, x)).relu_(); // in place: see BasicBlock.forward
        if (maxpool is not null) y = maxpool.call(y);
        y = layer4.call(layer3.call(layer2.call(layer1.call(y))));
        return avgpool.call(y).flatten(1);
    }
}

using System.Text.Json.Serialization;
using NASiam.Core.Backbones;

namespace NASiam.Core.Engine.Numerics;

/// <summary>
/// One 2-D convolution as a backbone runs it: square kernel, stride and zero padding; input
/// [N, InChannels, Height, Width], weight [OutChannels, InChannels, Kernel, Kernel], no bias, no groups.
/// </summary>
public sealed record ConvShape(int InChannels, int OutChannels, int Kernel, int Stride, int Padding, int Height, int Width)
{
    /// <summary>Output height: ⌊(H + 2p − k) / s⌋ + 1.</summary>
    [JsonIgnore] public int OutHeight => (Height + 2 * Padding - Kernel) / Stride + 1;
    /// <summary>Output width: ⌊(W + 2p − k) / s⌋ + 1.</summary>
    [JsonIgnore] public int OutWidth => (Width + 2 * Padding - Kernel) / Stride + 1;
    /// <summary>True for a 1x1 stride &gt; 1 unpadded convolution: the strided-1x1 workaround changes how it runs.</summary>
    [JsonIgnore] public bool IsStrided1x1 => Kernel == 1 && Stride > 1 && Padding == 0;
    /// <summary>Multiply-accumulates of the forward pass per image: OutHeight·OutWidth·InChannels·OutChannels·Kernel².</summary>
    [JsonIgnore] public long Macs => (long)OutHeight * OutWidth * InChannels * OutChannels * Kernel * Kernel;

    /// <summary>E.g. "1x1 s2 p0 256→512 @8x8".</summary>
    public override string ToString() => $"{Kernel}x{Kernel} s{Stride} p{Padding} {InChannels}→{OutChannels} @{Height}x{Width}";
}

/// <summary>A distinct convolution shape and the layers (torchvision names, e.g. "layer4.0.downsample.0") that run it.</summary>
public sealed record ConvUse(ConvShape Shape, IReadOnlyList<string> Layers)
{
    public override string ToString() => $"{Shape} ({string.Join(", ", Layers.Take(3))}{(Layers.Count > 3 ? $", +{Layers.Count - 3}" : "")})";
}

/// <summary>
/// The convolutions of a <see cref="ResNet"/> trunk, derived from its <see cref="ResNetConfig"/> the
/// way <see cref="ResNet"/> builds it (stem, then per stage: BasicBlock conv1/conv2 or Bottleneck
/// conv1/conv2/conv3, and the projection shortcut "downsample.0" of blocks that change stride or width).
/// </summary>
public static class BackboneConvShapes
{
    /// <summary>
    /// Every convolution layer of <paramref name="backbone"/> (a <see cref="BackboneFactory"/> name) on a
    /// square <paramref name="inputSize"/>-pixel input, in forward order, as (layer name, shape).
    /// Throws <see cref="ArgumentException"/> for an unknown backbone or an input too small for it.
    /// </summary>
    public static IReadOnlyList<(string Layer, ConvShape Shape)> Layers(string backbone, bool cifarStem, int inputSize)
    {
        var config = BackboneFactory.Config(backbone);
        if (inputSize < (cifarStem ? 8 : 32)) throw new ArgumentException($"Input size {inputSize} px is too small for {config.Name} with the {(cifarStem ? "CIFAR" : "ImageNet")} stem.");
        var layers = new List<(string, ConvShape)>();
        int h = inputSize;
        int stem = config.Planes[0];
        if (cifarStem)
        {
            layers.Add(("conv1", new ConvShape(3, stem, 3, 1, 1, h, h)));
        }
        else
        {
            var c = new ConvShape(3, stem, 7, 2, 3, h, h);
            layers.Add(("conv1", c));
            h = (c.OutHeight + 2 - 3) / 2 + 1; // max-pool 3x3, stride 2, padding 1
        }
        int inPlanes = stem;
        for (int i = 0; i < 4; i++)
        {
            int planes = config.Planes[i];
            for (int b = 0; b < config.BlocksPerStage[i]; b++)
            {
                int stride = b == 0 && i > 0 ? 2 : 1;
                string p = $"layer{i + 1}.{b}.";
                int outPlanes = planes * config.Expansion;
                ConvShape strided;
                if (config.Block == BlockKind.Basic)
                {
                    strided = new ConvShape(inPlanes, planes, 3, stride, 1, h, h);
                    layers.Add((p + "conv1", strided));
                    layers.Add((p + "conv2", new ConvShape(planes, planes, 3, 1, 1, strided.OutHeight, strided.OutWidth)));
                }
                else
                {
                    layers.Add((p + "conv1", new ConvShape(inPlanes, planes, 1, 1, 0, h, h)));
                    strided = new ConvShape(planes, planes, 3, stride, 1, h, h);
                    layers.Add((p + "conv2", strided));
                    layers.Add((p + "conv3", new ConvShape(planes, outPlanes, 1, 1, 0, strided.OutHeight, strided.OutWidth)));
                }
                if (stride != 1 || inPlanes != outPlanes)
                    layers.Add((p + "downsample.0", new ConvShape(inPlanes, outPlanes, 1, stride, 0, h, h)));
                h = strided.OutHeight;
                inPlanes = outPlanes;
            }
        }
        return layers;
    }

    /// <summary>
    /// Multiply-accumulates of the trunk's convolutions (<see cref="Layers"/>, projection shortcuts included;
    /// batch-norm, ReLU, pooling and the residual adds not counted) for one image of the forward pass.
    /// <c>Stem</c> is the first convolution's share: its input needs no gradient, so a backward pass skips
    /// its grad-input. ResNet-18 with the CIFAR stem at 32 px: 0.555 G; ResNet-18 / ResNet-50 with the
    /// ImageNet stem at 224 px: 1.81 G / 4.09 G (torchvision's and He et al. 2016's counts, less the
    /// classifier). Throws as <see cref="Layers"/> does.
    /// </summary>
    public static (long Total, long Stem) Macs(string backbone, bool cifarStem, int inputSize)
    {
        var layers = Layers(backbone, cifarStem, inputSize);
        return (layers.Sum(l => l.Shape.Macs), layers[0].Shape.Macs);
    }

    /// <summary>
    /// The distinct shapes of <see cref="Layers"/> over one or more input sizes, each with the layers
    /// that use it, in first-use order.
    /// </summary>
    public static IReadOnlyList<ConvUse> Distinct(string backbone, bool cifarStem, params int[] inputSizes)
    {
        var order = new List<ConvShape>();
        var uses = new Dictionary<ConvShape, List<string>>();
        foreach (var size in inputSizes)
            foreach (var (layer, shape) in Layers(backbone, cifarStem, size))
            {
                if (!uses.TryGetValue(shape, out var list)) { uses[shape] = list = []; order.Add(shape); }
                var name = inputSizes.Length > 1 ? $"{layer}@{size}px" : layer;
                if (!list.Contains(name)) list.Add(name);
            }
        return order.Select(s => new ConvUse(s, uses[s])).ToList();
    }
}

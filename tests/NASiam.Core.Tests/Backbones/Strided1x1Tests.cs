using NASiam.Core.Backbones;
using NASiam.Core.Engine.Numerics;
using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Tests.Backbones;

/// <summary>
/// The strided-1x1 workaround (a 1x1 stride-s unpadded conv = a 1x1 stride-1 conv on x[:, :, ::s, ::s])
/// on the real ResNet-18/50 shortcut shapes. Compared in float64, where both forms run on libtorch's
/// own (non-oneDNN) kernels: in float32 the strided form itself crashes on the hosts the workaround is for.
/// </summary>
public class Strided1x1Tests
{
    public static TheoryData<string, bool, int> Backbones => new()
    {
        { "resnet18", true, 32 }, { "resnet50", true, 32 }, { "resnet18", false, 224 }, { "resnet50", false, 224 },
    };

    [Theory]
    [MemberData(nameof(Backbones))]
    public void Workaround_EqualsTheStridedConv_ForwardAndBackward_OnTheBackbonesShortcutShapes(string backbone, bool cifarStem, int size)
    {
        var shapes = BackboneConvShapes.Distinct(backbone, cifarStem, size).Where(u => u.Shape.IsStrided1x1).ToList();
        Assert.Equal(3, shapes.Count); // layer2..4 .0.downsample.0
        foreach (var use in shapes)
        {
            using var scope = NewDisposeScope();
            var s = use.Shape;
            using var g = new Generator(5);
            var x = randn([2, s.InChannels, s.Height, s.Width], float64, generator: g);
            var w = randn([s.OutChannels, s.InChannels, 1, 1], float64, generator: g);
            var gy = randn([2, s.OutChannels, s.OutHeight, s.OutWidth], float64, generator: g);

            var x1 = x.clone().requires_grad_(); var w1 = w.clone().requires_grad_();
            var y1 = nn.functional.conv2d(x1, w1, strides: [s.Stride, s.Stride]);
            y1.backward([gy]);
            var x2 = x.clone().requires_grad_(); var w2 = w.clone().requires_grad_();
            var y2 = Strided1x1.Forward(x2, w2, s.Stride, s.Stride);
            y2.backward([gy]);

            Assert.Equal(y1.shape, y2.shape);
            Assert.True(y1.equal(y2).all().item<bool>(), $"{use}: outputs differ by {(y1 - y2).abs().max().item<double>()}");
            Assert.True(x1.grad!.equal(x2.grad!).all().item<bool>(), $"{use}: input gradients differ by {(x1.grad! - x2.grad!).abs().max().item<double>()}");
            var dw = KernelProbe.RelativeError(w2.grad!, w1.grad!);
            Assert.True(dw < 1e-13, $"{use}: weight gradients differ by {dw}");
        }
    }

    [Fact]
    public void Applies_OnlyToUnpaddedStrided1x1Convolutions()
    {
        Assert.True(Strided1x1.Applies(nn.Conv2d(4, 8, 1, stride: 2, bias: false)));
        Assert.False(Strided1x1.Applies(nn.Conv2d(4, 8, 1, stride: 1, bias: false)));
        Assert.False(Strided1x1.Applies(nn.Conv2d(4, 8, 3, stride: 2, padding: 1, bias: false)));
        Assert.False(Strided1x1.Applies(nn.Conv2d(4, 8, 1, stride: 2, padding: 1, bias: false)));
    }

    [Theory]
    [InlineData("resnet18", 8)]
    [InlineData("resnet50", 8)]
    public void Trunk_WithWorkaround_KeepsStateDictKeys_AndComputesTheSameFunction(string backbone, int size)
    {
        manual_seed(2);
        using var plain = BackboneFactory.Create(backbone);
        manual_seed(2);
        using var patched = BackboneFactory.Create(backbone);
        patched.UseStrided1x1Workaround(true);
        Assert.True(patched.UsesStrided1x1Workaround);
        Assert.All(patched.modules().OfType<IResidualBlock>(), b => Assert.True(b.Strided1x1Workaround));

        var keys = patched.state_dict().Keys.ToList();
        Assert.Equal(plain.state_dict().Keys, keys);
        Assert.Contains("layer4.0.downsample.0.weight", keys);
        Assert.Contains("layer4.0.downsample.1.running_var", keys);
        Assert.DoesNotContain(keys, k => k.Contains("parts", StringComparison.OrdinalIgnoreCase));

        // Float64 (libtorch's own kernels, no oneDNN), train mode, outputs and every gradient.
        plain.to(float64);
        patched.to(float64);
        // Small inputs keep float64 affordable; every stage, shortcut included, still runs (layer4 on 2x2 or 1x1).
        using var x = randn(2, 3, size, size, float64, generator: new Generator(9));
        using var y1 = plain.call(x);
        using var y2 = patched.call(x);
        Assert.True(KernelProbe.RelativeError(y2, y1) < 1e-12, $"outputs differ by {KernelProbe.RelativeError(y2, y1)}");
        y1.square().sum().backward();
        y2.square().sum().backward();
        var grads = plain.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!);
        foreach (var (name, p) in patched.named_parameters())
            Assert.True(KernelProbe.RelativeError(p.grad!, grads[name]) < 1e-10, $"gradient of {name} differs");
    }
}

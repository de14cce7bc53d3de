using NASiam.Core.Backbones;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NASiam.Core.Tests.Backbones;

public class ResNetTests
{
    static long ParamCount(nn.Module m) => m.parameters().Sum(p => p.numel());

    // Method doc 2.8.
    [Theory]
    [InlineData("resnet18", true, 11_168_832)]
    [InlineData("resnet50", false, 23_508_032)]
    [InlineData("resnet50", true, 23_500_352)]
    public void ParameterCount_MatchesMethodDoc(string name, bool cifarStem, long expected)
    {
        using var net = BackboneFactory.Create(name, cifarStem);
        Assert.Equal(expected, ParamCount(net));
    }

    [Theory]
    [InlineData("resnet-tiny", true, 32, 128)]
    [InlineData("resnet18", true, 32, 512)]
    [InlineData("resnet-tiny", false, 64, 128)]
    public void Forward_GivesPooledFeatures(string name, bool cifarStem, int size, int dim)
    {
        using var net = BackboneFactory.Create(name, cifarStem);
        Assert.Equal(dim, net.FeatureDim);
        using var y = net.call(randn(2, 3, size, size));
        Assert.Equal(new long[] { 2, dim }, y.shape);
    }

    [Fact]
    public void Constructor_ZeroInitialisesLastBatchNormOfEachBlock_WhenAsked()
    {
        using var zeroed = BackboneFactory.Create("resnet-tiny", zeroInitResidual: true);
        using var plain = BackboneFactory.Create("resnet-tiny", zeroInitResidual: false);
        var zeroedLast = zeroed.modules().OfType<IResidualBlock>().Select(b => b.LastBatchNorm.weight!.abs().sum().item<float>()).ToArray();
        Assert.Equal(4, zeroedLast.Length);
        Assert.All(zeroedLast, v => Assert.Equal(0f, v));
        Assert.All(plain.modules().OfType<IResidualBlock>(), b => Assert.Equal(1f, b.LastBatchNorm.weight!.mean().item<float>()));
        Assert.Equal(16f, zeroed.state_dict()["bn1.weight"].sum().item<float>()); // stem BN untouched
    }

    [Fact]
    public void StateDict_UsesTorchvisionNames()
    {
        using var r50 = BackboneFactory.Create("resnet50", cifarStem: false);
        var keys = r50.state_dict().Keys.ToHashSet();
        Assert.Contains("conv1.weight", keys);
        Assert.Contains("layer1.0.downsample.1.running_var", keys);
        Assert.Contains("layer4.2.bn3.num_batches_tracked", keys);
        Assert.Equal(new long[] { 64, 3, 7, 7 }, r50.state_dict()["conv1.weight"].shape);
        Assert.DoesNotContain(keys, k => k.StartsWith("fc"));
    }

    [Fact]
    public void Constructor_UsesKaimingFanOutForBlockConvs()
    {
        manual_seed(5);
        using var net = BackboneFactory.Create("resnet18");
        var conv = net.state_dict()["layer4.0.conv2.weight"]; // 512x512x3x3: fan_out = 512*9
        Assert.Equal(Math.Sqrt(2.0 / (512 * 9)), conv.std().item<float>(), 3);
    }

    [Fact]
    public void Create_Throws_ListingNames_WhenBackboneUnknown()
    {
        var e = Assert.Throws<ArgumentException>(() => BackboneFactory.Create("vgg16"));
        Assert.Contains("resnet-tiny", e.Message);
    }
}

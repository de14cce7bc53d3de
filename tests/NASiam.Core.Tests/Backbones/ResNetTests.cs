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
    [Fact]
    public void ScalarSafeBatchNorm2d_EqualsTorchSharpBatchNorm2d_InTrainingAndEval()
    {
        using var mine = new ScalarSafeBatchNorm2d(6);
        using var theirs = nn.BatchNorm2d(6);
        Assert.Equal(theirs.state_dict().Keys, mine.state_dict().Keys);
        var g = new Generator(5);
        using (no_grad())
        {
            var w = randn([6], generator: g);
            mine.weight!.copy_(w);
            theirs.weight!.copy_(w);
        }
        for (int step = 0; step < 3; step++)
        {
            var x = randn([4, 6, 5, 5], generator: g);
            var xa = x.clone().requires_grad_(true);
            var xb = x.clone().requires_grad_(true);
            var ya = mine.call(xa);
            var yb = theirs.call(xb);
            Assert.Equal(0f, (ya - yb).abs().max().item<float>());
            ya.sum().backward();
            yb.sum().backward();
            Assert.Equal(0f, (xa.grad! - xb.grad!).abs().max().item<float>());
        }
        foreach (var key in theirs.state_dict().Keys)
            Assert.True(theirs.state_dict()[key].allclose(mine.state_dict()[key], 0, 0), key);
        Assert.Equal(3L, mine.num_batches_tracked!.item<long>());
        mine.eval();
        theirs.eval();
        var probe = randn([2, 6, 3, 3], generator: g);
        Assert.Equal(0f, (mine.call(probe) - theirs.call(probe)).abs().max().item<float>());
        Assert.Equal(3L, mine.num_batches_tracked!.item<long>()); // eval does not count
        Assert.Throws<ArgumentException>(() => mine.call(randn(2, 6)));
    }

    [Fact]
    public void ConvCall_EqualsTheModulesOwnForward()
    {
        foreach (var conv in new[] { nn.Conv2d(3, 8, 3, stride: 1, padding: 1, bias: false), nn.Conv2d(3, 8, 7, stride: 2, padding: 3, bias: true), nn.Conv2d(3, 8, 1, stride: 2, bias: false) })
        {
            using (conv)
            {
                var x = randn(2, 3, 12, 12);
                Assert.Equal(0f, (ConvCall.Forward(conv, x) - conv.call(x)).abs().max().item<float>());
            }
        }
    }
}

using NASiam.Core.Backbones;
using NASiam.Core.Methods;
using NASiam.Core.Options;
using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Tests.Backbones;

public class AutocastTests
{
    [Fact]
    public void Bf16Scope_RunsConvolutionsInBfloat16_AndRestoresFp32OnExit()
    {
        using var conv = nn.Conv2d(3, 4, 3);
        using var x = randn(2, 3, 8, 8);
        using (Autocast.For(BackbonePrecision.Bf16, CPU))
        {
            using var y = conv.call(x);
            Assert.Equal(ScalarType.BFloat16, y.dtype);
            using (Autocast.For(BackbonePrecision.Bf16, CPU)) { } // a nested scope leaves the outer one on
            using var y2 = conv.call(x);
            Assert.Equal(ScalarType.BFloat16, y2.dtype);
        }
        using var z = conv.call(x);
        Assert.Equal(ScalarType.Float32, z.dtype);
        Assert.Null(Autocast.For(BackbonePrecision.Fp32, CPU));
    }

    [Theory]
    [InlineData(Framework.SimSiam)]
    [InlineData(Framework.MoCo)]
    public void Bf16Backbone_GivesAnFp32LossNearTheFp32One_AndFp32Gradients(Framework framework)
    {
        var heads = RunPresets.ForFramework(framework).Heads with { Dim = 32, PredDim = 16, QueueSize = 64 };
        SiameseModel Build()
        {
            manual_seed(5);
            return ModelFactory.Create(new ModelSpec(framework, "resnet-tiny", true, null, heads, new CompatOptions()));
        }
        using var fp32 = Build();
        using var bf16 = Build();
        bf16.BackbonePrecision = BackbonePrecision.Bf16;
        fp32.train();
        bf16.train();
        manual_seed(9);
        using var x1 = randn(8, 3, 32, 32);
        using var x2 = randn(8, 3, 32, 32);
        using var a = fp32.ComputeLoss(x1, x2, StepKind.Weight);
        using var b = bf16.ComputeLoss(x1, x2, StepKind.Weight);
        Assert.Equal(ScalarType.Float32, b.dtype);
        Assert.True(float.IsFinite(b.item<float>()));
        // bfloat16 keeps 8 mantissa bits: the loss moves, but only a little.
        Assert.InRange(Math.Abs(a.item<float>() - b.item<float>()), 0, 0.05 * Math.Max(1, Math.Abs(a.item<float>())));
        b.backward();
        var conv = bf16.Backbone.parameters().First();
        using var grad = conv.grad;
        Assert.NotNull(grad);
        Assert.Equal(ScalarType.Float32, grad!.dtype);
        Assert.True(grad.abs().sum().item<float>() > 0);
    }
}

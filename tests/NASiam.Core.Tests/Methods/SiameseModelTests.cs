using NASiam.Core.Methods;
using static NASiam.Core.Tests.Methods.ModelTestSupport;
using static TorchSharp.torch;

namespace NASiam.Core.Tests.Methods;

public class SiameseModelTests
{
    // The heads' trainable parameters at ResNet-18 (D = 512), counted by hand from the official builders the
    // baselines follow (method doc 3): SimSiam's projector 512→512→512 (no bias) + BN + fc 512→2048 (its bias
    // frozen) + BN(affine=False), predictor 2048→512 (no bias) + BN + 512→2048:
    // 2·262144 + 2·1024 + 1048576 + 1048576 + 1024 + 1048576 + 2048 = 3,675,136.
    // The backbone (and MoCo's momentum key encoder) is not counted.
    [Fact]
    public void HeadParameterCount_OfSimSiamStandardHeads_IsTheOfficialBuildersCount()
    {
        // No genotype and no search: the framework's standard heads.
        var spec = new ModelSpec(Framework.SimSiam, "resnet18", false, null,
            new NASiam.Core.Options.HeadOptions { Dim = 2048, PredDim = 512 }, new NASiam.Core.Options.CompatOptions());
        using var model = ModelFactory.Create(spec);
        Assert.Equal(3_675_136, model.HeadParameterCount());
        Assert.Equal(ParamCount(model) - ParamCount((TorchSharp.torch.nn.Module)model.Backbone) - 2048, model.HeadParameterCount()); // 2048: fc's frozen bias
    }

    [Theory]
    [InlineData(Framework.SimSiam, StepKind.Weight)]
    [InlineData(Framework.SimSiam, StepKind.Architecture)]
    [InlineData(Framework.SimClr, StepKind.Weight)]
    public void ComputeLossForBackward_GivesTheSameLossAndGradients_AsComputeLoss(Framework framework, StepKind kind)
    {
        manual_seed(7);
        using var plain = ModelFactory.Create(Spec(framework, search: true));
        manual_seed(7);
        using var scoped = ModelFactory.Create(Spec(framework, search: true));
        plain.train();
        scoped.train();
        using var g = new Generator(11);
        using var x1 = randn(4, 3, 16, 16, generator: g);
        using var x2 = randn(4, 3, 16, 16, generator: g);

        using var outer = NewDisposeScope();
        var expected = plain.ComputeLoss(x1, x2, kind);
        var actual = scoped.ComputeLossForBackward(x1, x2, kind);
        expected.backward();
        actual.backward();

        Assert.Equal(expected.item<float>(), actual.item<float>(), 1e-5f);
        // The gradients the step's optimiser uses are the same; the other side's are not computed.
        var reference = plain.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        int compared = 0;
        foreach (var (name, p) in scoped.named_parameters())
        {
            var r = reference[name];
            if (kind == StepKind.Architecture) { Assert.Null(p.grad); continue; }
            Assert.Equal(r.grad is null, p.grad is null);
            if (p.grad is null) continue;
            Assert.True(p.grad.allclose(r.grad!, rtol: 1e-5, atol: 1e-5), $"gradient of {name} differs");
            compared++;
        }
        foreach (var (a, b) in scoped.ArchParameters().Zip(plain.ArchParameters()))
        {
            if (kind == StepKind.Weight) { Assert.Null(a.grad); continue; }
            Assert.True(a.grad!.allclose(b.grad!, rtol: 1e-5, atol: 1e-5), "alpha gradients differ");
        }
        Assert.True(compared > 0 || kind == StepKind.Architecture);
    }
}

using NASiam.Core.Methods;
using static NASiam.Core.Tests.Methods.ModelTestSupport;
using static TorchSharp.torch;

namespace NASiam.Core.Tests.Methods;

public class SiameseModelTests
{
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

using NASiam.Core.Methods;
using static NASiam.Core.Tests.Methods.ModelTestSupport;

namespace NASiam.Core.Tests.Methods;

public class ReferenceStateDictTests
{
    [Fact]
    public void SimSiam_UsesEncoderAndPredictorNames_InBothForms()
    {
        using var fixedModel = ModelFactory.Create(Spec(Framework.SimSiam, false, PresetFor(Framework.SimSiam)));
        var d = fixedModel.ReferenceStateDict();
        Assert.Contains("encoder.conv1.weight", d.Keys);
        Assert.Contains("encoder.fc.0._ops.0.0.0.weight", d.Keys);     // C_e layer 0: linear_relu → Sequential(Lin, BN, act)
        Assert.Contains("cell_encoder._ops.0.0.0.weight", d.Keys);
        Assert.Contains("encoder.fc.1.bias", d.Keys);
        Assert.Contains("encoder.fc.2.running_var", d.Keys);
        Assert.Contains("predictor.0._ops.3.0.weight", d.Keys);         // expansion: plain Linear
        Assert.Equal(fixedModel.state_dict().Count,
            d.Count - d.Keys.Count(k => k.StartsWith("cell_"))); // every tensor once, plus the reference's duplicates

        using var search = ModelFactory.Create(Spec(Framework.SimSiam, true));
        Assert.Contains("encoder.fc.0._ops.5._ops.3.0.weight", search.ReferenceStateDict().Keys);

        using var standard = ModelFactory.Create(Spec(Framework.SimSiam, false));
        var s = standard.ReferenceStateDict().Keys.ToHashSet();
        Assert.Contains("encoder.fc.3.weight", s);
        Assert.Contains("encoder.fc.6.weight", s);
        Assert.Contains("encoder.fc.7.running_mean", s);
        Assert.Contains("predictor.3.bias", s);
    }

    /// <summary>
    /// Method doc 2.2: in an expansion layer the reference's identity op is Sequential(Lin(b), Identity),
    /// so its keys are "_ops.2.0.weight"/"_ops.2.0.bias" (a bare Linear gave "_ops.2.weight", which a
    /// strict load into the reference rejects); the linear_* ops there stay a bare Linear ("_ops.3.weight").
    /// Search (SimSiam C_p's last layer, pred→dim) and derived cells alike.
    /// </summary>
    [Fact]
    public void IdentityInAnExpansionLayer_ExportsUnderTheReferenceSequentialKeys()
    {
        using var search = ModelFactory.Create(Spec(Framework.SimSiam, true));
        var s = search.ReferenceStateDict().Keys.ToHashSet();
        foreach (var prefix in new[] { "predictor.0._ops.3.", "cell_predictor._ops.3." })
        {
            Assert.Contains(prefix + "_ops.2.0.weight", s);
            Assert.Contains(prefix + "_ops.2.0.bias", s);
            Assert.DoesNotContain(prefix + "_ops.2.weight", s);
            Assert.Contains(prefix + "_ops.3.weight", s); // linear_relu: plain Linear
            Assert.Contains(prefix + "_ops.1.0.weight", s); // avgpool: Sequential(Lin(b), Sequential(pool, BN))
            Assert.Contains(prefix + "_ops.1.1.1.running_mean", s);
        }

        var genotype = new NASiam.Core.Genotypes.Genotype([["identity"], ["identity"]], [["identity"], ["identity"]]);
        using var derived = ModelFactory.Create(Spec(Framework.SimSiam, false, genotype));
        var d = derived.ReferenceStateDict().Keys.ToHashSet();
        Assert.Contains("predictor.0._ops.1.0.0.weight", d); // layer 1 (8→32): identity expands
        Assert.Contains("predictor.0._ops.1.0.0.bias", d);
        Assert.Contains("predictor.0._ops.0.0.0.weight", d); // layer 0 (32→8): identity reduces, Lin-BN-ReLU
        Assert.Contains("predictor.0._ops.0.0.1.running_var", d);
        Assert.DoesNotContain(d, k => k.StartsWith("encoder.fc.0.", StringComparison.Ordinal)); // equal width: no parameters
    }

    [Fact]
    public void SimClr_UsesTrunkIndicesAndG()
    {
        using var model = ModelFactory.Create(Spec(Framework.SimClr, false, PresetFor(Framework.SimClr)));
        var d = model.ReferenceStateDict().Keys.ToHashSet();
        Assert.Contains("f.0.weight", d);       // conv1
        Assert.Contains("f.1.running_mean", d); // bn1
        Assert.Contains("f.6.0.conv1.weight", d); // layer4 (CIFAR stem: no maxpool)
        Assert.Contains("g.0._ops.0.0.0.weight", d);
        Assert.Contains("cell_projector._ops.5.0.weight", d); // tiny widths: last layer 8→16 expands (plain Linear)
        using var standard = ModelFactory.Create(Spec(Framework.SimClr, false));
        Assert.Contains("g.3.bias", standard.ReferenceStateDict().Keys);
    }
}

using NASiam.Core.Genotypes;

namespace NASiam.Core.Tests.Genotypes;

public class GenotypeTextTests
{
    /// <summary>Every genotype file of the reference repository, verbatim (the files have no trailing newline).</summary>
    public static TheoryData<string, string, Framework> ReferenceFiles => new()
    {
        { "SimSiam/cifar10_resnet18", "Genotype(encoder=[['linear_relu'], ['linear_silu'], ['linear_elu'], ['identity'], ['identity'], ['linear_relu']], predictor=[['linear_hardswish'], ['avgpool_3x3'], ['avgpool_3x3'], ['linear_hardswish']])", Framework.SimSiam },
        { "SimSiam/cifar10_resnet50", "Genotype(encoder=[['linear_silu'], ['linear_hardswish'], ['linear_hardswish'], ['linear_hardswish'], ['linear_silu'], ['linear_silu']], predictor=[['linear_hardswish'], ['linear_hardswish'], ['avgpool_3x3'], ['linear_silu']])", Framework.SimSiam },
        { "SimSiam/cifar100_resnet50", "Genotype(encoder=[['identity'], ['linear_silu'], ['linear_silu'], ['linear_elu'], ['linear_silu'], ['linear_elu']], predictor=[['linear_elu'], ['linear_elu'], ['linear_elu'], ['linear_hardswish']])", Framework.SimSiam },
        { "MoCo/cifar10_resnet18", "Genotype(encoder=[['avgpool_3x3'], ['avgpool_3x3'], ['avgpool_3x3'], ['avgpool_3x3']])", Framework.MoCo },
        { "MoCo/cifar100_resnet18", "Genotype(encoder=[['avgpool_3x3'], ['avgpool_3x3'], ['avgpool_3x3'], ['avgpool_3x3']])", Framework.MoCo },
        { "MoCo/cifar10_resnet50", "Genotype(encoder=[['identity'], ['avgpool_3x3'], ['avgpool_3x3'], ['avgpool_3x3']])", Framework.MoCo },
        { "SimCLR/cifar10_resnet50", "Genotype(predictor=[['linear_hardswish'], ['linear_hardswish'], ['avgpool_3x3'], ['linear_relu'], ['linear_relu'], ['linear_relu']])", Framework.SimClr },
    };

    [Theory]
    [MemberData(nameof(ReferenceFiles))]
    public void Parse_ReadsEveryReferenceFile_AndWritesItBackByteForByte(string file, string text, Framework framework)
    {
        var g = GenotypeText.Parse(text, framework);
        Assert.Equal(text, GenotypeText.Write(g));
        Assert.Equal(framework, GenotypeRules.InferFramework(g));
        // The shipped preset typed in from the method doc is the same genotype as the reference file.
        var presetName = file.ToLowerInvariant().Replace("simsiam/", "simsiam/").Replace("moco/", "moco/").Replace("simclr/", "simclr/");
        var preset = GenotypePresets.Find(presetName);
        Assert.NotNull(preset);
        Assert.True(g.SameAs(preset.Genotype), $"preset {presetName} differs from the reference file");
    }

    [Fact]
    public void Parse_AcceptsEdgeGenesDoubleQuotesAndWhitespace()
    {
        var g = GenotypeText.Parse("  Genotype( encoder = [ [\"identity\", 'linear_elu'] ,['avgpool_3x3']] )\n");
        Assert.Equal(["identity", "linear_elu"], g.Encoder![0]);
        Assert.Equal(["identity", "avgpool_3x3"], Genotype.LayerOps(g.Encoder));
        Assert.Null(g.Predictor);
    }

    [Fact]
    public void Parse_ReportsUnknownOp_WithLayerPositionAndValidNames()
    {
        var e = Assert.Throws<GenotypeFormatException>(() =>
            GenotypeText.Parse("Genotype(encoder=[['linear_relu'], ['linear_mish']])"));
        Assert.Contains("'linear_mish'", e.Message);
        Assert.Contains("encoder layer 1", e.Message);
        Assert.Contains("character 37", e.Message);
        foreach (var op in NASiam.Core.Search.OperationNames.SimSiamMoCoOrder) Assert.Contains(op, e.Message);
    }

    [Theory]
    [InlineData("Genotype(encoder=[['identity']]", "character 32")]                  // missing ')'
    [InlineData("Genotype(encoder=[['identity'] ['identity']])", "expected ']'")]
    [InlineData("Genotype(encoder=[['identity]])", "unterminated")]
    [InlineData("Genotype(decoder=[['identity']])", "unknown field 'decoder'")]
    [InlineData("Genotype(encoder=[])", "has no layers")]
    [InlineData("Genotype()", "at least one field")]
    [InlineData("Genotype(encoder=[['identity']]) + 1", "after the closing")]
    [InlineData("__import__('os')", "character 1")]
    [InlineData("Genotype(encoder=[['identity', 'identity', 'identity']])", "1 (sparse) or 2 (edge)")]
    public void Parse_RejectsBadSyntax_NamingThePosition(string text, string expected)
    {
        var e = Assert.Throws<GenotypeFormatException>(() => GenotypeText.Parse(text));
        Assert.Contains(expected, e.Message);
        Assert.Contains("linear_hardswish", e.Message);
    }

    [Theory]
    [InlineData("Genotype(encoder=[['identity'], ['identity'], ['identity']])", Framework.MoCo, "must have 4 layers, found 3")]
    [InlineData("Genotype(encoder=[['identity'], ['identity'], ['identity'], ['identity']])", Framework.SimSiam, "needs the 'predictor' field")]
    [InlineData("Genotype(encoder=[['identity'], ['identity'], ['identity'], ['identity']])", Framework.SimClr, "has no 'encoder' field")]
    public void Parse_ChecksFieldsAndLayerCounts_ForTheFramework(string text, Framework framework, string expected)
    {
        var e = Assert.Throws<GenotypeFormatException>(() => GenotypeText.Parse(text, framework));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void ValidateFields_AcceptsACustomDepth()
    {
        var g = GenotypeText.Parse("Genotype(encoder=[['identity'], ['avgpool_3x3'], ['avgpool_3x3']])");
        GenotypeRules.ValidateFields(g, Framework.MoCo);
        Assert.Throws<GenotypeFormatException>(() => GenotypeRules.Validate(g, Framework.MoCo));
        GenotypeRules.Validate(g, Framework.MoCo, encoderLayers: 3);
    }

    [Fact]
    public void ParseAnyDepth_KeepsTheGenotypesOwnDepth_ButChecksFieldsAndNames()
    {
        // The reference's earlier 3-layer MoCo genotype (method doc 2.7).
        var g = GenotypeRules.ParseAnyDepth("Genotype(encoder=[['avgpool_3x3'], ['identity'], ['identity']])", Framework.MoCo);
        Assert.Equal(3, g.Encoder!.Count);
        Assert.Contains("needs the 'predictor' field", Assert.Throws<GenotypeFormatException>(() =>
            GenotypeRules.ParseAnyDepth("Genotype(encoder=[['identity']])", Framework.SimSiam)).Message);
        Assert.Throws<GenotypeFormatException>(() => GenotypeRules.ParseAnyDepth("Genotype(encoder=[['conv_3x3']])", Framework.MoCo));
    }
}

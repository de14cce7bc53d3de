using NASiam.Core.Engine.Evaluation;
using NASiam.Core.Genotypes;
using NASiam.Core.Search;

namespace NASiam.Core.Tests.Engine.Evaluation;

public class AlphaDiagnosticsTests
{
    static double[] Row(int hot, double value = 2.0) => Enumerable.Range(0, 7).Select(i => i == hot ? value : 0.0).ToArray();

    [Fact]
    public void Summarise_UniformRow_HasMaxEntropyZeroMarginAndLastIndexWinner()
    {
        var cell = AlphaDiagnostics.Summarise("encoder", [new double[7]], Framework.SimSiam);
        var layer = Assert.Single(cell.Layers);
        Assert.Equal(Math.Log(7), layer.Entropy, 12);
        Assert.Equal(0.0, layer.Margin, 12);
        Assert.Equal(OperationNames.LinearElu, layer.Winner); // ties go to the highest index
        Assert.Equal(1.0, layer.Weights.Sum(), 12);
    }

    [Fact]
    public void Summarise_UsesSimClrColumnOrder()
    {
        var cell = AlphaDiagnostics.Summarise("predictor", [Row(4)], Framework.SimClr);
        Assert.Equal(OperationNames.LinearHardswish, cell.Layers[0].Winner);
        var p = Math.Exp(2) / (Math.Exp(2) + 6);
        Assert.Equal(p - 1 / (Math.Exp(2) + 6), cell.Layers[0].Margin, 12);
    }

    [Fact]
    public void Derive_BuildsTheArgmaxGenotypeOfEachCell()
    {
        var g = AlphaDiagnostics.Derive(Framework.SimSiam, new Dictionary<string, double[][]>
        {
            ["encoder"] = [Row(3), Row(2)],
            ["predictor"] = [Row(1)],
        });
        Assert.Equal("Genotype(encoder=[['linear_relu'], ['identity']], predictor=[['avgpool_3x3']])", GenotypeText.Write(g));
    }

    [Fact]
    public void ArchitectureWarnings_FlagCellsDominatedByIdentityOrPooling()
    {
        var pooled = AlphaDiagnostics.Summarise("encoder", [Row(1), Row(1), Row(2), Row(3)], Framework.MoCo);
        var learned = AlphaDiagnostics.Summarise("predictor", [Row(3), Row(4), Row(5), Row(0)], Framework.SimSiam);
        var warning = Assert.Single(AlphaDiagnostics.ArchitectureWarnings([pooled, learned]));
        Assert.Contains("encoder", warning);
        Assert.Contains("3 of 4", warning);
    }
}

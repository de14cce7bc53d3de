using NASiam.Core.Genotypes;
using NASiam.Core.Search;

namespace NASiam.Core.Tests.Genotypes;

public class GenotypeDerivationTests
{
    [Fact]
    public void Derive_TakesTheArgmaxPerLayer_InTheFrameworkColumnOrder()
    {
        // Column 4 wins layer 0, column 1 wins layer 1.
        double[][] alphas =
        [
            [0.1, 0.1, 0.1, 0.1, 0.4, 0.1, 0.1],
            [0.0, 0.5, 0.1, 0.1, 0.1, 0.1, 0.1],
        ];
        var simsiam = GenotypeDerivation.Derive(Framework.SimSiam, alphas, null);
        Assert.Equal(["linear_silu", "avgpool_3x3"], Genotype.LayerOps(simsiam.Encoder!));
        // SimCLR swaps columns 4 and 5, so the same column means another op.
        var simclr = GenotypeDerivation.Derive(Framework.SimClr, null, alphas);
        Assert.Equal(["linear_hardswish", "avgpool_3x3"], Genotype.LayerOps(simclr.Predictor!));
    }

    [Fact]
    public void Derive_BreaksTiesTowardTheHighestIndex_AsTheReference()
    {
        double[][] uniform = [Enumerable.Repeat(1.0 / 7, 7).ToArray(), [0.3, 0.3, 0.1, 0.1, 0.1, 0.05, 0.05]];
        var g = GenotypeDerivation.Derive(Framework.MoCo, uniform, null);
        Assert.Equal(["linear_elu", "avgpool_3x3"], Genotype.LayerOps(g.Encoder!));
        Assert.Equal(6, GenotypeDerivation.ArgmaxLastTie([2, 2, 2, 2, 2, 2, 2]));
    }

    [Fact]
    public void DeriveCell_RejectsRowsOfTheWrongWidth()
    {
        var e = Assert.Throws<ArgumentException>(() =>
            GenotypeDerivation.DeriveCell([[1.0, 2.0]], OperationNames.SimSiamMoCoOrder));
        Assert.Contains("row 0 has 2 columns", e.Message);
    }
}

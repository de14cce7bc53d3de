using NASiam.Core.Comparison;
using NASiam.Core.Reporting;

namespace NASiam.Core.Tests.Comparison;

public class SearchStabilityTests
{
    static readonly string[] Ops = ["maxpool_3x3", "avgpool_3x3", "identity", "linear_relu", "linear_silu", "linear_hardswish", "linear_elu"];
    static string Moco(params string[] layers) => "Genotype(encoder=[" + string.Join(", ", layers.Select(l => $"['{l}']")) + "])";

    static IReadOnlyList<CellAlphas> Alphas(double firstWeightOfLayer0) =>
    [
        new CellAlphas("encoder", Ops,
        [
            new AlphaLayer(0, [firstWeightOfLayer0, 1 - firstWeightOfLayer0, 0, 0, 0, 0, 0], "maxpool_3x3", 0, 0),
            new AlphaLayer(1, [0, 0, 1, 0, 0, 0, 0], "identity", 0, 0),
        ]),
    ];

    [Fact]
    public void ThreeSearches_CountsWins_AlphaSpread_AndTheWholeModalGenotype()
    {
        var report = SearchStabilityReport.Analyze(
        [
            new SearchOutcome(2, Moco("linear_relu", "identity"), Alphas(0.3)),
            new SearchOutcome(0, Moco("linear_relu", "identity"), Alphas(0.5)),
            new SearchOutcome(1, Moco("linear_silu", "identity"), Alphas(0.7)),
        ], Framework.MoCo);

        Assert.Equal(3, report.Runs);
        Assert.Equal([0, 1, 2], report.Seeds);
        Assert.True(report.ModalIsWhole);
        Assert.Equal(2, report.ModalCount);
        Assert.Equal(Moco("linear_relu", "identity"), report.ModalGenotypeText);
        var l0 = report.Layers.Single(l => l.Cell == "encoder" && l.Layer == 0);
        Assert.Equal(2, l0.Wins["linear_relu"]);
        Assert.Equal(1, l0.Wins["linear_silu"]);
        Assert.Equal("linear_relu", l0.ModalOperation);
        // weights 0.5, 0.7, 0.3 of op 0: mean 0.5, sample sd 0.2.
        Assert.Equal(0.5, l0.MeanWeights[0], 12);
        Assert.Equal(0.2, l0.StdWeights[0]!.Value, 12);
        Assert.Equal(0.0, report.Layers.Single(l => l.Layer == 1).StdWeights[2]!.Value, 12);
    }

    [Fact]
    public void AllDifferent_AssemblesThePerLayerMode_AndSaysSo()
    {
        var report = SearchStabilityReport.Analyze(
        [
            new SearchOutcome(0, Moco("linear_relu", "identity", "linear_elu"), null),
            new SearchOutcome(1, Moco("linear_relu", "avgpool_3x3", "linear_silu"), null),
            new SearchOutcome(2, Moco("linear_silu", "avgpool_3x3", "linear_elu"), null),
        ], Framework.MoCo);
        Assert.False(report.ModalIsWhole);
        Assert.Equal(Moco("linear_relu", "avgpool_3x3", "linear_elu"), report.ModalGenotypeText);
        Assert.Contains(report.Notices, n => n.Contains("each layer's most frequent operation"));
        Assert.Contains(report.Notices, n => n.Contains("logged no alphas"));
        Assert.Empty(report.Layers[0].MeanWeights);
    }

    [Fact]
    public void BadGenotype_IsAnArgumentError() =>
        Assert.Throws<ArgumentException>(() => SearchStabilityReport.Analyze([new SearchOutcome(0, "Genotype(encoder=[['nope']])", null)], Framework.MoCo));
}

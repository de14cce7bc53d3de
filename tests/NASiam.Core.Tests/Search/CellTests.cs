using NASiam.Core.Genotypes;
using NASiam.Core.Search;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NASiam.Core.Tests.Search;

public class CellTests
{
    static long ParamCount(nn.Module m) => m.parameters().Sum(p => p.numel());

    static Genotype Preset(string name) => GenotypePresets.Find(name)!.Genotype!;

    [Fact]
    public void Constructor_BuildsPresetLayers_SimSiamCifar10Resnet18Predictor()
    {
        // C_p 2048→512→2048: [hardswish 2048→512: Lin(nb)-BN-Hardswish, avgpool: pool+BN, avgpool, hardswish 512→2048: Lin(b)].
        var genes = Preset("simsiam/cifar10_resnet18").Predictor!;
        using var cell = new Cell(new OperationSet(Framework.SimSiam), 64, genes, 16, 64); // small widths, same rules
        Assert.Equal(new[] { "linear_hardswish", "avgpool_3x3", "avgpool_3x3", "linear_hardswish" }, cell.LayerOps);
        var layers = cell.Layers;
        Assert.Equal(new[] { typeof(Linear), typeof(ViewBatchNorm1d), typeof(Hardswish) },
            ((Sequential)layers[0]).children().Select(c => c.GetType()));
        Assert.Equal(new[] { typeof(FeaturePool), typeof(ViewBatchNorm1d) }, ((Sequential)layers[1]).children().Select(c => c.GetType()));
        Assert.IsType<Linear>(layers[3]);
        Assert.Contains("_ops.3.0.bias", cell.state_dict().Keys);
        using var y = cell.call(randn(4, 64));
        Assert.Equal(new long[] { 4, 64 }, y.shape);
    }

    [Fact]
    public void Constructor_UsesFirstNameOfEachGene()
    {
        IReadOnlyList<IReadOnlyList<string>> genes = [["identity", "linear_relu"], ["maxpool_3x3"]];
        using var cell = new Cell(new OperationSet(Framework.SimSiam), 4, genes);
        Assert.Equal(new[] { "identity", "maxpool_3x3" }, cell.LayerOps);
        Assert.Equal(8, ParamCount(cell)); // identity (no params) + maxpool BN(4)
    }

    [Fact]
    public void ParameterCount_MatchesMethodDoc_SimClrCifar10Resnet50Cell()
    {
        using var cell = new Cell(new OperationSet(Framework.SimClr), 2048, Preset("simclr/cifar10_resnet50").Predictor!, 512, 128);
        Assert.Equal(1_905_920, ParamCount(cell));
    }

    [Fact]
    public void ParameterCount_MatchesMethodDoc_MoCoAllAvgPoolCell()
    {
        using var cell = new Cell(new OperationSet(Framework.MoCo), 512, Preset("moco/cifar10_resnet18").Encoder!);
        Assert.Equal(4_096, ParamCount(cell)); // BN affine only
    }
}

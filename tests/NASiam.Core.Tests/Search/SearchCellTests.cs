using NASiam.Core.Engine;
using NASiam.Core.Search;
using static TorchSharp.torch;

namespace NASiam.Core.Tests.Search;

public class SearchCellTests
{
    static long ParamCount(nn.Module m) => m.parameters().Sum(p => p.numel());

    [Fact]
    public void Constructor_CreatesZeroAlphas_OutsideParametersAndStateDict()
    {
        using var sc = new ScalarScope();
        using var cell = new SearchCell(new OperationSet(Framework.SimSiam), 8, 3, 4, 8);
        Assert.Equal(new long[] { 3, 7 }, cell.Alphas.shape);
        Assert.True(cell.Alphas.requires_grad);
        Assert.Equal(0f, cell.Alphas.abs().sum().item<float>());
        Assert.DoesNotContain(cell.parameters(), p => p.Handle == cell.Alphas.Handle);
        Assert.DoesNotContain(cell.state_dict().Keys, k => k.Contains("alpha"));
        Assert.Equal(new[] { (8, 4), (4, 4), (4, 8) }, cell.MixedOps.Select(m => (m.InDim, m.OutDim)));
        using var w = cell.Weights();
        Assert.True(w.allclose(full(3, 7, sc[1f / 7])));
    }

    [Fact]
    public void Backward_ReachesAlphasAndWeights()
    {
        using var sc = new ScalarScope();
        manual_seed(3);
        using var cell = new SearchCell(new OperationSet(Framework.SimSiam), 6, 2, 4, 6);
        cell.train();
        using var x = randn(4, 6);
        using var loss = cell.call(x).pow(sc[2]).mean();
        loss.backward();
        Assert.NotNull(cell.Alphas.grad);
        Assert.True(cell.Alphas.grad!.abs().sum().item<float>() > 0);
        Assert.All(cell.parameters().Where(p => p.requires_grad), p => Assert.NotNull(p.grad));
    }

    [Fact]
    public void Forward_UsesSoftmaxPerLayer()
    {
        manual_seed(4);
        using var cell = new SearchCell(new OperationSet(Framework.SimSiam), 5, 2);
        cell.eval();
        cell.LoadAlphas(randn(2, 7));
        using var x = randn(3, 5);
        using var w = softmax(cell.Alphas.detach(), 1);
        using var expected = cell.MixedOps[1].call(cell.MixedOps[0].call(x, w[0]), w[1]);
        using var y = cell.call(x);
        Assert.True(y.allclose(expected, 1e-5, 1e-6));
    }

    [Fact]
    public void LoadAlphas_CopiesInPlace_AndRejectsWrongShape()
    {
        using var cell = new SearchCell(new OperationSet(Framework.MoCo), 4, 2);
        var before = cell.Alphas;
        cell.LoadAlphas(ones(2, 7));
        Assert.Same(before, cell.Alphas);
        Assert.Equal(14f, cell.Alphas.sum().item<float>());
        Assert.Equal(2, cell.AlphaValues().Length);
        Assert.Contains("[2, 7]", Assert.Throws<ArgumentException>(() => cell.LoadAlphas(ones(3, 7))).Message);
    }

    [Fact]
    public void SharedAlphaCopy_MixesWithOwnersAlphas_AndOwnsNone()
    {
        var ops = new OperationSet(Framework.MoCo);
        using var owner = new SearchCell(ops, 4, 2);
        using var copy = new SearchCell(ops, 4, 2, shareAlphasWith: owner);
        owner.LoadAlphas(randn(2, 7));
        Assert.Same(owner.Alphas, copy.Alphas);
        using var w = copy.Weights();
        Assert.False(w.requires_grad);
        Assert.Throws<InvalidOperationException>(() => copy.LoadAlphas(zeros(2, 7)));
    }

    [Fact]
    public void Constructor_Throws_WhenOneLayerCellCannotReachOutWidth()
    {
        Assert.Throws<ArgumentException>(() => new SearchCell(new OperationSet(Framework.SimSiam), 8, 1, 4, 8));
        Assert.Throws<ArgumentException>(() => new SearchCell(new OperationSet(Framework.SimSiam), 8, 0));
    }

    // Method doc 2.8 sanity values.
    [Theory]
    [InlineData(Framework.SimSiam, 512, 6, 512, 512, 6_328_320)]      // SimSiam search C_e, R18
    [InlineData(Framework.SimSiam, 2048, 4, 512, 2048, 16_821_248)]   // SimSiam search C_p
    [InlineData(Framework.MoCo, 512, 4, 512, 512, 4_218_880)]         // MoCo search C_e, R18
    [InlineData(Framework.SimClr, 2048, 6, 512, 128, 12_029_184)]     // SimCLR search cell
    public void ParameterCount_MatchesMethodDoc(Framework framework, int inDim, int layers, int hidden, int outDim, long expected)
    {
        using var cell = new SearchCell(new OperationSet(framework), inDim, layers, hidden, outDim);
        Assert.Equal(expected, ParamCount(cell));
    }
}

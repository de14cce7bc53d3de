using NASiam.Core.Engine;
using NASiam.Core.Engine.Optimization;
using NASiam.Core.Search;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NASiam.Core.Tests.Engine.Optimization;

/// <summary>The in-place optimizers against TorchSharp's own (the unoptimised path): same seed, same steps, same weights and state.</summary>
public class InPlaceOptimizerTests
{
    /// <summary>Two copies of a search layer (linear, bias and BN tensors).</summary>
    static (MixedOp A, MixedOp B) Twins()
    {
        manual_seed(7);
        var a = new MixedOp(new OperationSet(NASiam.Core.Framework.SimSiam), 16, 24);
        manual_seed(7);
        var b = new MixedOp(new OperationSet(NASiam.Core.Framework.SimSiam), 16, 24);
        return (a, b);
    }

    static void Train(MixedOp model, OptimizerHelper optimizer, int steps)
    {
        using var sc = new ScalarScope();
        var weights = softmax(linspace(-1, 1, 7), 0);
        var g = new Generator(3);
        for (int i = 0; i < steps; i++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            var x = randn([8, 16], generator: g);
            var loss = model.call(x, weights).pow(sc[2]).mean();
            loss.backward();
            optimizer.step();
        }
    }

    static double MaxDiff(IEnumerable<Tensor> a, IEnumerable<Tensor> b) =>
        a.Zip(b).Max(p => (p.First - p.Second).abs().max().to(float64).item<double>());

    [Fact]
    public void InPlaceSgd_EqualsTorchSharpSgd_OverStepsWithMomentumDecayAndTwoGroups()
    {
        var (a, b) = Twins();
        // Plus one tensor that never gets a gradient (skipped by both).
        var pa = a.parameters().Append(new Parameter(ones(2), requires_grad: true)).ToArray();
        var pb = b.parameters().Append(new Parameter(ones(2), requires_grad: true)).ToArray();
        int half = pa.Length / 2;
        using var reference = torch.optim.SGD(new[]
        {
            new TorchSharp.Modules.SGD.ParamGroup(pa[..half], 0.05, 0.9, 0, 5e-4), new TorchSharp.Modules.SGD.ParamGroup(pa[half..], 0.02, 0.9, 0, 5e-4),
        }, 0.05, 0.9, 0, 5e-4);
        using var fast = new InPlace.SGD(new[]
        {
            new TorchSharp.Modules.SGD.ParamGroup(pb[..half], 0.05, 0.9, 0, 5e-4), new TorchSharp.Modules.SGD.ParamGroup(pb[half..], 0.02, 0.9, 0, 5e-4),
        }, 0.05, 0.9, 0, 5e-4);
        Train(a, reference, 6);
        Train(b, fast, 6);
        Assert.True(MaxDiff(pa, pb) <= 1e-5, $"weights differ by {MaxDiff(pa, pb)}");
        Assert.Equal(0.0, MaxDiff(pa, pb)); // the same kernels on the same values: bitwise equal
        Assert.True(MaxDiff(a.buffers(), b.buffers()) == 0);
        // The momentum state is saved and restored through TorchSharp's format: a reference optimizer reads it back.
        using var ms = new MemoryStream();
        fast.save_state_dict(new BinaryWriter(ms));
        ms.Position = 0;
        reference.load_state_dict(new BinaryReader(ms));
        using var back = new MemoryStream();
        reference.save_state_dict(new BinaryWriter(back));
        back.Position = 0;
        fast.load_state_dict(new BinaryReader(back)); // and the other way: checkpoints of either kind resume
    }

    [Fact]
    public void InPlaceAdam_EqualsTorchSharpAdam_OverStepsWithL2Decay()
    {
        var (a, b) = Twins();
        var pa = a.parameters().ToArray();
        var pb = b.parameters().ToArray();
        using var reference = torch.optim.Adam(new[] { new TorchSharp.Modules.Adam.ParamGroup(pa, 1e-2, 0.9, 0.999, 1e-8, 1e-4) }, 1e-2, 0.9, 0.999, 1e-8, 1e-4);
        using var fast = new InPlace.Adam(new[] { new TorchSharp.Modules.Adam.ParamGroup(pb, 1e-2, 0.9, 0.999, 1e-8, 1e-4) }, 1e-2, 0.9, 0.999, 1e-8, 1e-4);
        Train(a, reference, 6);
        Train(b, fast, 6);
        Assert.True(MaxDiff(pa, pb) <= 1e-5, $"weights differ by {MaxDiff(pa, pb)}");
    }

    [Fact]
    public void InPlaceAdamW_EqualsTorchSharpAdamW_OverStepsWithDecoupledDecay_AndSharesItsCheckpointFormat()
    {
        var (a, b) = Twins();
        var pa = a.parameters().ToArray();
        var pb = b.parameters().ToArray();
        using var reference = torch.optim.AdamW(new[] { new TorchSharp.Modules.AdamW.ParamGroup(pa, 6e-3, 0.5, 0.999, 1e-8, 1e-3) }, 6e-3, 0.5, 0.999, 1e-8, 1e-3);
        using var fast = new InPlace.AdamW(new[] { new TorchSharp.Modules.AdamW.ParamGroup(pb, 6e-3, 0.5, 0.999, 1e-8, 1e-3) }, 6e-3, 0.5, 0.999, 1e-8, 1e-3);
        Train(a, reference, 6);
        Train(b, fast, 6);
        Assert.True(MaxDiff(pa, pb) <= 1e-5, $"weights differ by {MaxDiff(pa, pb)}");
        Assert.Equal(0.0, MaxDiff(pa, pb)); // the same kernels on the same values
        using var ms = new MemoryStream();
        fast.save_state_dict(new BinaryWriter(ms));
        ms.Position = 0;
        reference.load_state_dict(new BinaryReader(ms));
        // Resumed from the other's state, both take the same next steps.
        Train(a, reference, 2);
        Train(b, fast, 2);
        Assert.Equal(0.0, MaxDiff(pa, pb));
    }

    [Fact]
    public void ZeroGrad_ZeroesEachGradientInPlace_LikeTorchSharp()
    {
        var (a, _) = Twins();
        var ps = a.parameters().ToArray();
        using var opt = new InPlace.SGD(new[] { new TorchSharp.Modules.SGD.ParamGroup(ps, 0.1, 0.9, 0, 0) }, 0.1, 0.9, 0, 0);
        using (var sc = new ScalarScope())
            a.call(randn(8, 16), softmax(linspace(-1, 1, 7), 0)).pow(sc[2]).mean().backward();
        // Aliases of the gradients as they are now: zeroed in place, they read zero afterwards.
        var aliases = ps.Select(p => p.grad).ToArray();
        Assert.Contains(aliases, g => g is not null && g.abs().sum().item<float>() > 0);
        opt.zero_grad();
        for (int i = 0; i < ps.Length; i++)
        {
            using var g = ps[i].grad;
            Assert.Equal(aliases[i] is null, g is null);
            if (g is null) continue;
            Assert.Equal(0f, aliases[i]!.abs().max().item<float>()); // the same storage, not a new tensor
            Assert.Equal(0f, g.abs().max().item<float>());
        }
    }

    [Fact]
    public void AlphaOptimizer_IsTheInPlaceKind_ForAdamAndAdamW()
    {
        var p = new Parameter(zeros(2, 7), requires_grad: true);
        foreach (var (kind, type) in new[] { (NASiam.Core.Options.OptimizerKind.Adam, typeof(InPlace.Adam)), (NASiam.Core.Options.OptimizerKind.AdamW, typeof(InPlace.AdamW)) })
        {
            using var opt = OptimizerFactory.CreateAlphaOptimizer([p], new NASiam.Core.Options.SearchStageOptions { AlphaOptimizer = kind });
            Assert.IsType(type, opt.Optimizer);
        }
    }

    [Fact]
    public void WeightOptimizer_IsTheInPlaceKind_ForSgdAndAdam()
    {
        var p = new Parameter(ones(3), requires_grad: true);
        using var sgd = OptimizerFactory.CreateWeightOptimizer([new("encoder", [p], false)],
            new WeightOptimizerSettings(NASiam.Core.Options.OptimizerKind.Sgd, 0.1, NASiam.Core.Options.LrScaling.Absolute, 256, 0.9, 1e-4, NASiam.Core.Options.LrSchedule.Constant, 1, false));
        using var adam = OptimizerFactory.CreateWeightOptimizer([new("encoder", [p], false)],
            new WeightOptimizerSettings(NASiam.Core.Options.OptimizerKind.Adam, 0.1, NASiam.Core.Options.LrScaling.Absolute, 256, 0.9, 1e-4, NASiam.Core.Options.LrSchedule.Constant, 1, false));
        Assert.IsType<InPlace.SGD>(sgd.Optimizer);
        Assert.IsType<InPlace.Adam>(adam.Optimizer);
    }
}

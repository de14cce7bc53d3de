using NASiam.Core.Engine;
using NASiam.Core.Genotypes;
using NASiam.Core.Methods;
using NASiam.Core.Options;
using NASiam.Core.Search;
using static NASiam.Core.Tests.Methods.ModelTestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Tests.Methods;

public class ModelFactoryTests
{
    public static TheoryData<Framework, string, string> Forms()
    {
        var data = new TheoryData<Framework, string, string>();
        foreach (var f in Enum.GetValues<Framework>())
            foreach (var form in new[] { "search", "genotype", "standard" })
                data.Add(f, form, "resnet-tiny");
        foreach (var f in Enum.GetValues<Framework>())
        {
            data.Add(f, "search", "resnet18");
            data.Add(f, "genotype", "resnet18");
        }
        return data;
    }

    static ModelSpec SpecFor(Framework f, string form, string backbone) =>
        Spec(f, form == "search", form == "genotype" ? PresetFor(f) : null, backbone);

    [Theory]
    [MemberData(nameof(Forms))]
    public void Create_GivesModelWhoseOutputsHaveTheDocumentedShapes(Framework f, string form, string backbone)
    {
        manual_seed(7);
        using var scope = NewDisposeScope();
        using var model = ModelFactory.Create(SpecFor(f, form, backbone));
        model.train();
        int d = backbone == "resnet18" ? 512 : 128;
        Assert.Equal(d, model.FeatureDim);
        Assert.Equal(form == "search", model.IsSearch);
        Assert.Equal(form == "search" ? (f == Framework.SimSiam ? 2 : 1) : 0, model.SearchCells.Count);
        var x1 = randn(4, 3, 32, 32);
        var x2 = randn(4, 3, 32, 32);
        var loss = model.ComputeLoss(x1, x2, StepKind.Weight);
        Assert.Empty(loss.shape);
        Assert.True(float.IsFinite(loss.item<float>()));
        Assert.Equal(new long[] { 4, model.EmbeddingDim }, model.Embedding(x1).shape);
        Assert.Equal(new long[] { 4, d }, model.BackboneFeatures(x1).shape);
        var monitor = model.MonitorFeatures(x1);
        Assert.Equal(f == Framework.SimClr ? d : model.EmbeddingDim, monitor.shape[1]);
        Assert.True(monitor.norm(1).allclose(ones(4), 1e-4, 1e-4));
        Assert.False(string.IsNullOrWhiteSpace(model.EmbeddingDescription));
    }

    [Theory]
    [InlineData(Framework.SimSiam)]
    [InlineData(Framework.MoCo)]
    [InlineData(Framework.SimClr)]
    public void SearchModel_KeepsAlphasOutOfWeightGroupsAndStateDict_AndGradientsReachBoth(Framework f)
    {
        manual_seed(8);
        using var scope = NewDisposeScope();
        using var model = ModelFactory.Create(Spec(f, search: true));
        model.train();
        var alphas = model.ArchParameters();
        Assert.Equal(model.SearchCells.Select(c => c.Cell.Alphas), alphas);
        var weightHandles = model.WeightGroups().SelectMany(g => g.Parameters).Select(p => p.Handle).ToHashSet();
        Assert.All(alphas, a => Assert.DoesNotContain(a.Handle, weightHandles));
        Assert.All(alphas, a => Assert.DoesNotContain(model.parameters(), p => p.Handle == a.Handle));
        Assert.All(model.WeightGroups().SelectMany(g => g.Parameters), p => Assert.True(p.requires_grad));
        Assert.Equal(model.state_dict().Count, model.state_dict().Keys.Distinct().Count());

        model.ComputeLoss(randn(4, 3, 32, 32), randn(4, 3, 32, 32), StepKind.Weight).backward();
        Assert.All(alphas, a => Assert.True(a.grad is not null && a.grad.abs().sum().item<float>() > 0));
        Assert.All(model.WeightGroups().SelectMany(g => g.Parameters), p => Assert.NotNull(p.grad));
    }

    [Theory]
    [InlineData(Framework.SimSiam)]
    [InlineData(Framework.MoCo)]
    [InlineData(Framework.SimClr)]
    public void ArchitectureStep_GivesTheSameAlphaGradient_AsTheFullGraph(Framework f)
    {
        manual_seed(9);
        using var scope = NewDisposeScope();
        using var model = ModelFactory.Create(Spec(f, search: true));
        model.train();
        foreach (var a in model.ArchParameters())
            a.detach().copy_(randn(a.shape)); // non-uniform alphas
        var x1 = randn(4, 3, 32, 32);
        var x2 = randn(4, 3, 32, 32);
        Tensor[] Grads(bool shortcut)
        {
            model.ArchitectureStepWithoutBackboneGraph = shortcut;
            foreach (var a in model.ArchParameters()) a.grad = null;
            model.ComputeLoss(x1, x2, StepKind.Architecture).backward();
            return model.ArchParameters().Select(a => a.grad!.clone()).ToArray();
        }
        var full = Grads(shortcut: false);
        var shortcut = Grads(shortcut: true);
        for (int i = 0; i < full.Length; i++)
            Assert.True(shortcut[i].allclose(full[i], rtol: 1e-5, atol: 1e-5), $"cell {i}: max diff {(shortcut[i] - full[i]).abs().max().item<float>()}");
        Assert.All(model.WeightGroups()[0].Parameters.Take(1), p => Assert.NotNull(p.grad)); // the full pass did reach the backbone
        var backboneFirst = model.Backbone.parameters().First();
        backboneFirst.grad = null;
        model.ComputeLoss(x1, x2, StepKind.Architecture).backward();
        Assert.Null(backboneFirst.grad); // the shortcut skips the backbone backward
    }

    [Theory]
    [InlineData(Framework.SimSiam, StepKind.Architecture)]
    [InlineData(Framework.MoCo, StepKind.Architecture)]
    [InlineData(Framework.SimClr, StepKind.Architecture)]
    [InlineData(Framework.SimSiam, StepKind.Weight)]
    [InlineData(Framework.MoCo, StepKind.Weight)]
    [InlineData(Framework.SimClr, StepKind.Weight)]
    public void ComputeLossForBackward_GivesTheSameGradientsTheStepUpdates_AndNoneOfTheOthers(Framework f, StepKind kind)
    {
        manual_seed(13);
        using var scope = NewDisposeScope();
        using var model = ModelFactory.Create(Spec(f, search: true));
        model.train();
        foreach (var a in model.ArchParameters())
            a.detach().copy_(randn(a.shape)); // non-uniform alphas
        var initial = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        var weights = model.WeightGroups().SelectMany(g => g.Parameters).ToArray();
        var alphas = model.ArchParameters().ToArray();
        // Architecture steps update the alphas and discard the weight gradients (method doc 5.4); weight steps the reverse.
        var (updated, others) = kind == StepKind.Architecture ? (alphas, weights) : (weights, alphas);
        var x1 = randn(4, 3, 32, 32);
        var x2 = randn(4, 3, 32, 32);
        Tensor[] Grads(Func<Tensor> loss)
        {
            using (no_grad())
                foreach (var (key, value) in model.state_dict()) value.copy_(initial[key]); // same BN statistics and MoCo queue
            foreach (var p in weights.Concat(alphas)) p.grad = null;
            loss().backward();
            return updated.Select(p => p.grad!.clone()).ToArray();
        }
        var full = Grads(() => model.ComputeLoss(x1, x2, kind));
        Assert.Contains(others, p => p.grad is not null); // the plain forward records both sides (the trunk stays out on architecture steps)
        var pruned = Grads(() => model.ComputeLossForBackward(x1, x2, kind));
        for (int i = 0; i < full.Length; i++)
            Assert.True(pruned[i].allclose(full[i], rtol: 1e-6, atol: 1e-7), $"{kind}: gradient {i} max diff {(pruned[i] - full[i]).abs().max().item<float>()}");
        Assert.All(others, p => Assert.Null(p.grad));
        Assert.All(others, p => Assert.True(p.requires_grad)); // restored for the next step
    }

    public static TheoryData<Framework, string> ViewBatchedForms()
    {
        var data = new TheoryData<Framework, string>();
        foreach (var f in new[] { Framework.SimSiam, Framework.SimClr })
            foreach (var form in new[] { "search", "genotype", "standard" })
                data.Add(f, form);
        return data;
    }

    [Theory]
    [MemberData(nameof(ViewBatchedForms))]
    public void ViewBatchedHeads_GiveThePerViewLossGradientsAndRunningStatistics(Framework f, string form)
    {
        manual_seed(11);
        using var scope = NewDisposeScope();
        using var model = ModelFactory.Create(SpecFor(f, form, "resnet-tiny"));
        model.train();
        foreach (var a in model.ArchParameters())
            a.detach().copy_(randn(a.shape)); // non-uniform alphas
        var initial = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        var x1 = randn(6, 3, 32, 32);
        var x2 = randn(6, 3, 32, 32);
        var trainable = model.WeightGroups().SelectMany(g => g.Parameters).Concat(model.ArchParameters()).ToArray();

        (float Loss, Tensor[] Grads, Dictionary<string, Tensor> State) Step(bool viewBatched, StepKind kind)
        {
            using (no_grad())
                foreach (var (key, value) in model.state_dict()) value.copy_(initial[key]);
            foreach (var p in trainable) p.grad = null;
            model.ViewBatchedHeads = viewBatched;
            var loss = model.ComputeLoss(x1, x2, kind);
            loss.backward();
            return (loss.item<float>(), trainable.Select(p => p.grad is null ? zeros(1) : p.grad.clone()).ToArray(),
                model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone()));
        }

        foreach (var kind in new[] { StepKind.Weight, StepKind.Architecture })
        {
            if (kind == StepKind.Architecture && form != "search") continue;
            var perView = Step(viewBatched: false, kind);
            var batched = Step(viewBatched: true, kind);
            Assert.True(Math.Abs(perView.Loss - batched.Loss) <= 1e-5 * Math.Max(1, Math.Abs(perView.Loss)), $"{kind} loss {perView.Loss} vs {batched.Loss}");
            for (int i = 0; i < trainable.Length; i++)
                Assert.True(batched.Grads[i].allclose(perView.Grads[i], rtol: 1e-5, atol: 1e-5),
                    $"{kind}: gradient {i} max difference {(batched.Grads[i] - perView.Grads[i]).abs().max().item<float>()}");
            Assert.Contains(perView.Grads, g => g.abs().sum().item<float>() > 0);
            foreach (var (key, value) in perView.State)
            {
                if (value.dtype == ScalarType.Int64) Assert.True(batched.State[key].eq(value).all().item<bool>(), $"{kind}: {key}");
                else Assert.True(batched.State[key].allclose(value, rtol: 1e-5, atol: 1e-6),
                    $"{kind}: {key} max difference {(batched.State[key] - value).abs().max().item<float>()}");
            }
            Assert.Contains(perView.State, kv => kv.Key.EndsWith("running_mean") && !kv.Value.eq(initial[kv.Key]).all().item<bool>()); // the step did move running statistics
        }
    }

    [Fact]
    public void SimSiamFinal_Cifar10Resnet18_HasTheDocumentedParameterCount()
    {
        var spec = new ModelSpec(Framework.SimSiam, "resnet18", false, GenotypePresets.Find("simsiam/cifar10_resnet18")!.Genotype,
            new HeadOptions(), new CompatOptions());
        using var model = ModelFactory.Create(spec);
        Assert.Equal(15_374_400, ParamCount(model)); // method doc 2.8 (includes the frozen fc bias)
        var simsiam = Assert.IsType<SimSiamModel>(model);
        Assert.False(simsiam.Fc.bias!.requires_grad);
        Assert.DoesNotContain(model.WeightGroups().SelectMany(g => g.Parameters), p => p.Handle == simsiam.Fc.bias!.Handle);
        Assert.Equal([false, true], model.WeightGroups().Select(g => g.IsPredictor));
    }

    [Fact]
    public void MoCoR18_CountsTheSharedCellOnce_AsTheReference()
    {
        // Method doc 2.8: R18 trunk 11,168,832; MoCo search cell (4 x 512) 4,218,880; fc 512→128 65,664.
        // Doc 4.2: one cell object serves the query and key encoders, so it is counted once.
        var heads = new HeadOptions { Dim = 128 };
        const long trunks = 2 * 11_168_832L, fcs = 2 * 65_664L;
        using (var search = ModelFactory.Create(new ModelSpec(Framework.MoCo, "resnet18", true, null, heads, new CompatOptions())))
            Assert.Equal(trunks + 4_218_880 + fcs, ParamCount(search));
        using (var copy = ModelFactory.Create(new ModelSpec(Framework.MoCo, "resnet18", true, null, heads,
                   new CompatOptions { MocoMomentumKeyCellInSearch = true })))
            Assert.Equal(trunks + 2 * 4_218_880L + fcs, ParamCount(copy));
        // Final all-avgpool cell (released cifar10_resnet18): 4,096 BN affine parameters; D2 shares it once.
        var genotype = GenotypePresets.Find("moco/cifar10_resnet18")!.Genotype;
        using (var frozen = ModelFactory.Create(new ModelSpec(Framework.MoCo, "resnet18", false, genotype, heads,
                   new CompatOptions { MocoFrozenSharedCell = true })))
        {
            Assert.Equal(trunks + 4_096 + fcs, ParamCount(frozen));
            Assert.Equal(11_168_832L + 65_664, frozen.WeightGroups().Sum(g => g.Parameters.Sum(p => p.numel())));
        }
        using (var fixedDefault = ModelFactory.Create(new ModelSpec(Framework.MoCo, "resnet18", false, genotype, heads, new CompatOptions())))
        {
            Assert.Equal(trunks + 2 * 4_096L + fcs, ParamCount(fixedDefault));
            Assert.Equal(11_168_832L + 4_096 + 65_664, fixedDefault.WeightGroups().Sum(g => g.Parameters.Sum(p => p.numel())));
        }
    }

    [Fact]
    public void SearchModel_UsesHeadOptionLayerCounts_WhenSet()
    {
        var heads = TinyHeads(Framework.SimSiam) with { EncoderLayers = 2, PredictorLayers = 3 };
        using var model = ModelFactory.Create(new ModelSpec(Framework.SimSiam, "resnet-tiny", true, null, heads, new CompatOptions()));
        Assert.Equal([2, 3], model.SearchCells.Select(c => c.Cell.Layers));
        Assert.Equal(["encoder", "predictor"], model.SearchCells.Select(c => c.Name));
        using var defaults = ModelFactory.Create(Spec(Framework.SimClr, search: true));
        Assert.Equal(6, defaults.SearchCells.Single().Cell.Layers);
        Assert.Equal("predictor", defaults.SearchCells.Single().Name);
        Assert.Equal(OperationNames.SimClrOrder, defaults.SearchCells.Single().Cell.Columns);
    }

    [Fact]
    public void Create_Throws_WithClearMessages_WhenSpecIsInconsistent()
    {
        var simsiamGenotype = PresetFor(Framework.SimSiam);
        Assert.Contains("takes no genotype", Assert.Throws<ArgumentException>(() =>
            ModelFactory.Create(Spec(Framework.SimSiam, search: true, simsiamGenotype))).Message);
        Assert.Contains("predictor", Assert.Throws<ArgumentException>(() =>
            ModelFactory.Create(Spec(Framework.MoCo, search: false, simsiamGenotype))).Message);
        Assert.Contains("resnet18", Assert.Throws<ArgumentException>(() =>
            ModelFactory.Create(Spec(Framework.SimSiam, search: false, backbone: "alexnet"))).Message);
    }
}

public class SiameseModelMoveTests
{
    [Fact]
    public void To_MovesAlphasWithTheModel_KeepingThemLeafAndUnregistered()
    {
        using var sc = new ScalarScope();
        using var model = ModelFactory.Create(Spec(Framework.SimSiam, search: true));
        model.ArchParameters()[0].detach().fill_(sc[0.5]);
        model.to(ScalarType.Float64);
        var alphas = model.ArchParameters();
        Assert.All(alphas, a => Assert.Equal(ScalarType.Float64, a.dtype));
        Assert.All(alphas, a => Assert.True(a.requires_grad && a.is_leaf));
        Assert.Equal(0.5, alphas[0].mean().item<double>(), 6);
        Assert.DoesNotContain(model.parameters(), p => alphas.Any(a => a.Handle == p.Handle));
        Assert.False(((SimSiamModel)model).Fc.bias!.requires_grad); // frozen bias stays frozen
        Assert.Equal(ScalarType.Float64, model.Backbone.parameters().First().dtype);
    }
}

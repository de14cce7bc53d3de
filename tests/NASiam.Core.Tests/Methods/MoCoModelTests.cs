using NASiam.Core.Engine;
using NASiam.Core.Methods;
using NASiam.Core.Options;
using static NASiam.Core.Tests.Methods.ModelTestSupport;
using static TorchSharp.torch;

namespace NASiam.Core.Tests.Methods;

public class MoCoModelTests
{
    static MoCoModel Tiny(bool search = false, int queue = 16, CompatOptions? compat = null) =>
        (MoCoModel)ModelFactory.Create(Spec(Framework.MoCo, search, search ? null : PresetFor(Framework.MoCo), compat: compat, queue: queue));

    [Fact]
    public void Constructor_CreatesUnitNormQueueBuffersAndCopiesQueryIntoFrozenKeys()
    {
        using var model = Tiny();
        Assert.Equal(new long[] { 16, 16 }, model.Queue.shape);
        Assert.True(model.Queue.norm(0).allclose(ones(16), 1e-5, 1e-5));
        Assert.Equal(0, model.QueuePointer);
        var state = model.state_dict();
        Assert.Contains("queue", state.Keys);
        Assert.Contains("queue_ptr", state.Keys);
        var q = state.Where(kv => kv.Key.StartsWith("backbone.")).ToArray();
        Assert.All(q, kv => Assert.True(kv.Value.eq(state["backbone_k." + kv.Key["backbone.".Length..]]).all().item<bool>(), kv.Key));
        var keySide = model.named_parameters().Where(p => p.name.StartsWith("backbone_k") || p.name.StartsWith("projector_k") || p.name.StartsWith("fc_k")).ToArray();
        Assert.NotEmpty(keySide);
        Assert.All(keySide, p => Assert.False(p.parameter.requires_grad));
        // D2 fix: the key side owns a copy of the cell; the query cell is trainable.
        Assert.Contains(model.WeightGroups()[0].Parameters, p => p.Handle == model.Projector.parameters().First().Handle);
    }

    [Fact]
    public void SearchModel_KeySideRunsTheSameLiveCell_WithoutGradients()
    {
        using var sc = new ScalarScope();
        // Method doc 4.2: one search cell serves both sides; keys see every query-side update at once.
        using var model = Tiny(search: true);
        Assert.True(model.SharesProjector);
        Assert.False(model.ProjectorFrozen);
        Assert.DoesNotContain(model.state_dict().Keys, k => k.StartsWith("projector_k"));
        var cellParams = model.Projector.parameters().ToArray();
        var trainable = model.WeightGroups()[0].Parameters.Select(p => p.Handle).ToHashSet();
        Assert.All(cellParams, p => Assert.Contains(p.Handle, trainable));
        Assert.Equal(cellParams.Length, model.parameters().Count(p => cellParams.Any(c => c.Handle == p.Handle))); // registered once
        model.eval();
        var x = randn(4, 3, 32, 32);
        var before = model.Keys(x);
        Assert.False(before.requires_grad);
        using (no_grad()) foreach (var p in cellParams) p.add_(sc[0.5]);
        Assert.False(model.Keys(x).allclose(before, 1e-5, 1e-5)); // no momentum lag: the key side is the live cell

        // The momentum-copy variant (NASiam.Web's earlier choice) keeps its own, lagging copy.
        using var copy = Tiny(search: true, compat: new CompatOptions { MocoMomentumKeyCellInSearch = true });
        Assert.False(copy.SharesProjector);
        Assert.Contains(copy.state_dict().Keys, k => k.StartsWith("projector_k"));
        copy.eval();
        var copyBefore = copy.Keys(x);
        using (no_grad()) foreach (var p in copy.Projector.parameters()) p.add_(sc[0.5]);
        Assert.True(copy.Keys(x).allclose(copyBefore, 1e-6, 1e-6));
    }

    [Fact]
    public void SearchModel_AlphaGradient_ComesFromTheQuerySideOnly()
    {
        using var model = Tiny(search: true);
        model.train();
        var alphas = model.ArchParameters().Single();
        using (no_grad()) alphas.copy_(randn(alphas.shape));
        model.ComputeLoss(randn(4, 3, 32, 32), randn(4, 3, 32, 32), StepKind.Architecture).backward();
        Assert.True(alphas.grad!.abs().sum().item<float>() > 0);
        Assert.All(model.named_parameters().Where(p => p.name.StartsWith("backbone_k") || p.name.StartsWith("fc_k")),
            p => Assert.Null(p.parameter.grad));
    }

    [Fact]
    public void FrozenSharedCellCompat_FinalModelSharesOneCellFrozenAtInit_AsTheReference()
    {
        // Method doc 9 D2: the reference's final MoCo cell never trains; its BN running stats still move.
        var compat = new CompatOptions { MocoFrozenSharedCell = true };
        using var model = Tiny(compat: compat);
        Assert.True(model.SharesProjector);
        Assert.True(model.ProjectorFrozen);
        var cell = model.Projector.named_parameters().ToArray();
        Assert.NotEmpty(cell);
        Assert.All(cell, p => Assert.False(p.parameter.requires_grad));
        var trainable = model.WeightGroups()[0].Parameters.Select(p => p.Handle).ToHashSet();
        Assert.All(cell, p => Assert.DoesNotContain(p.parameter.Handle, trainable));
        Assert.Contains(model.Fc.weight!.Handle, trainable);
        var cellBefore = cell.Select(p => p.parameter.detach().clone()).ToArray();
        var stats = model.Projector.named_buffers().Where(b => b.name.EndsWith("running_mean")).ToArray();
        Assert.NotEmpty(stats);
        var statsBefore = stats.Select(b => b.buffer.clone()).ToArray();
        var fcBefore = model.Fc.weight!.detach().clone();

        model.train();
        using var sgd = optim.SGD(model.WeightGroups()[0].Parameters, 0.5);
        sgd.zero_grad();
        model.ComputeLoss(randn(4, 3, 32, 32), randn(4, 3, 32, 32), StepKind.Weight).backward();
        sgd.step();

        for (int i = 0; i < cell.Length; i++)
            Assert.True(cell[i].parameter.allclose(cellBefore[i], 0, 0), cell[i].name);
        Assert.Contains(stats.Zip(statsBefore), s => !s.First.buffer.allclose(s.Second, 0, 0));
        Assert.False(model.Fc.weight!.allclose(fcBefore, 0, 0));

        // The default final model trains the query cell and keeps a momentum copy on the key side.
        using var fixedDefault = Tiny();
        Assert.False(fixedDefault.SharesProjector);
        Assert.All(fixedDefault.Projector.parameters(), p => Assert.True(p.requires_grad));
        // The switch leaves the search model alone (the reference's search cell trains).
        using var search = Tiny(search: true, compat: compat);
        Assert.False(search.ProjectorFrozen);
        Assert.All(search.Projector.parameters(), p => Assert.True(p.requires_grad));
    }

    [Fact]
    public void Enqueue_WritesColumnsAtPointer_AndWrapsModuloK()
    {
        using var sc = new ScalarScope();
        using var model = Tiny(queue: 8);
        for (int step = 0; step < 5; step++)
        {
            var keys = full(4, 16, sc[(float)(step + 1)]);
            long ptr = model.QueuePointer;
            model.Enqueue(keys);
            Assert.Equal((ptr + 4) % 8, model.QueuePointer);
            Assert.True(model.Queue.narrow(1, ptr, 4).eq(sc[step + 1]).all().item<bool>());
        }
        Assert.True(model.Queue.narrow(1, 0, 4).eq(sc[5]).all().item<bool>()); // step 4 wrapped onto step 2's slot
        Assert.True(model.Queue.narrow(1, 4, 4).eq(sc[4]).all().item<bool>());
        Assert.Contains("multiple", Assert.Throws<ArgumentException>(() => model.Enqueue(zeros(3, 16))).Message);
    }

    [Fact]
    public void MomentumUpdate_FollowsTheEquation()
    {
        using var sc = new ScalarScope();
        using var model = Tiny();
        var q = model.Fc.weight!;
        var k = model.named_parameters().Single(p => p.name == "fc_k.weight").parameter;
        using (no_grad()) q.add_(sc[1.0]);
        var before = k.detach().clone();
        model.MomentumUpdate();
        var expected = before * sc[model.Momentum] + q.detach() * (sc[1 - model.Momentum]);
        Assert.True(k.allclose(expected, 1e-6, 1e-6));
        Assert.Equal(0.99, model.Momentum);
    }

    [Fact]
    public void ComputeLoss_EnqueuesBothViewsKeys_OnWeightStepsOnly_UnlessCompat()
    {
        using var sc = new ScalarScope();
        using var model = Tiny(search: true);
        model.train();
        var x1 = randn(4, 3, 32, 32);
        var x2 = randn(4, 3, 32, 32);
        model.ComputeLoss(x1, x2, StepKind.Architecture);
        Assert.Equal(0, model.QueuePointer);
        var keyWeight = model.named_parameters().Single(p => p.name == "fc_k.weight").parameter;
        var frozen = keyWeight.detach().clone();
        using (no_grad()) model.Fc.weight!.add_(sc[1.0]);
        model.ComputeLoss(x1, x2, StepKind.Weight);
        Assert.Equal(8, model.QueuePointer);
        Assert.False(keyWeight.allclose(frozen)); // the momentum update ran
        using var compat = Tiny(search: true, compat: new CompatOptions { MocoQueueOnArchStep = true });
        compat.train();
        compat.ComputeLoss(x1, x2, StepKind.Architecture);
        Assert.Equal(8, compat.QueuePointer);
    }

    [Fact]
    public void ComputeLoss_Throws_WhenQueueIsNotAMultipleOfTwiceTheBatch()
    {
        using var model = Tiny(queue: 12);
        var e = Assert.Throws<ArgumentException>(() => model.ComputeLoss(randn(4, 3, 32, 32), randn(4, 3, 32, 32), StepKind.Weight));
        Assert.Contains("K = 12", e.Message);
        Assert.Equal(0, model.QueuePointer);
    }

    [Fact]
    public void ReferenceStateDict_UsesEncoderQAndEncoderKNames()
    {
        using var model = Tiny();
        var keys = model.ReferenceStateDict().Keys.ToHashSet();
        Assert.Contains("queue", keys);
        Assert.Contains("encoder_q.conv1.weight", keys);
        Assert.Contains("encoder_k.layer4.0.bn2.running_mean", keys);
        Assert.Contains("encoder_q.fc.0._ops.1.0.1.weight", keys); // equal-width avgpool: Sequential(pool, BN)
        Assert.Contains("encoder_q.fc.1.weight", keys);
        Assert.Contains("cell_encoder._ops.1.0.1.weight", keys);
    }
}

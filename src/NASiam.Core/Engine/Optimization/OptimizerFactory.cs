using NASiam.Core.Options;
using TorchSharp;
using TorchSharp.Modules;

namespace NASiam.Core.Engine.Optimization;

/// <summary>One parameter group of the weight optimizer (e.g. "encoder", "predictor").</summary>
/// <param name="Name">Group name reported with its learning rate.</param>
/// <param name="Parameters">Trainable tensors of the group (same device as the model).</param>
/// <param name="FixedLr">Keep the initial rate for the whole run (SimSiam fix-pred-lr).</param>
public sealed record ParameterGroupSpec(string Name, IReadOnlyList<Parameter> Parameters, bool FixedLr);

/// <summary>Hyper-parameters of one weight optimizer (a stage's slice of <see cref="RunOptions"/>).</summary>
public sealed record WeightOptimizerSettings(
    OptimizerKind Kind, double Lr, LrScaling Scaling, int BatchSize, double Momentum, double WeightDecay,
    LrSchedule Schedule, int Epochs, bool FixPredictorLr)
{
    public static WeightOptimizerSettings ForSearch(SearchStageOptions s) =>
        new(s.Optimizer, s.Lr, s.LrScaling, s.BatchSize, s.Momentum, s.WeightDecay, s.Schedule, s.Epochs, s.FixPredictorLr);

    public static WeightOptimizerSettings ForPretrain(PretrainStageOptions p) =>
        new(p.Optimizer, p.Lr, p.LrScaling, p.BatchSize, p.Momentum, p.WeightDecay, p.Schedule, p.Epochs, p.FixPredictorLr);

    public static WeightOptimizerSettings ForLinear(LinearStageOptions l) =>
        new(l.Optimizer, l.Lr, l.LrScaling, l.BatchSize, l.Momentum, l.WeightDecay, l.Schedule, l.Epochs, false);

    /// <summary>The rate at epoch 0 (after batch scaling).</summary>
    public double InitialLr => LearningRates.Initial(Lr, Scaling, BatchSize);
}

/// <summary>
/// Builds the optimizers of method doc 5.2 / 6.1 / 7. Weight decay applies to every tensor handed
/// in, BN and biases included, as in the reference (no exclusion list).
/// </summary>
public static class OptimizerFactory
{
    /// <summary>Adam's epsilon (PyTorch default).</summary>
    public const double AdamEps = 1e-8;

    /// <summary>
    /// The weight optimizer with one torch parameter group per <paramref name="groups"/> entry (empty
    /// groups are dropped), wrapped so its rates follow the schedule. Predictor groups keep their
    /// initial rate when <see cref="WeightOptimizerSettings.FixPredictorLr"/> and the group asks for it.
    /// </summary>
    public static ScheduledOptimizer CreateWeightOptimizer(IEnumerable<ParameterGroupSpec> groups, WeightOptimizerSettings s)
    {
        var kept = groups.Where(g => g.Parameters.Count > 0).ToList();
        if (kept.Count == 0) throw new ArgumentException("The weight optimizer needs at least one trainable parameter.");
        double lr0 = s.InitialLr;
        OptimizerHelper optimizer = s.Kind switch
        {
            // In-place steps: TorchSharp's update and state, without a temporary per parameter (InPlaceOptimizers.cs).
            OptimizerKind.Sgd => new InPlace.SGD(
                kept.Select(g => new SGD.ParamGroup(g.Parameters, lr0, s.Momentum, 0, s.WeightDecay, false, false)), lr0, s.Momentum, 0, s.WeightDecay),
            OptimizerKind.Adam => new InPlace.Adam(
                kept.Select(g => new Adam.ParamGroup(g.Parameters, lr0, 0.9, 0.999, AdamEps, s.WeightDecay, false, false)), lr0, 0.9, 0.999, AdamEps, s.WeightDecay),
            OptimizerKind.AdamW => new InPlace.AdamW(
                kept.Select(g => new AdamW.ParamGroup(g.Parameters, lr0, 0.9, 0.999, AdamEps, s.WeightDecay, false, false)), lr0, 0.9, 0.999, AdamEps, s.WeightDecay),
            _ => throw new ArgumentOutOfRangeException(nameof(s), $"unknown optimizer {s.Kind}"),
        };
        var fixedFlags = kept.Select(g => g.FixedLr && s.FixPredictorLr).ToArray();
        return new ScheduledOptimizer(optimizer, kept.Select(g => g.Name).ToArray(), lr0, fixedFlags, s.Schedule, s.Epochs);
    }

    /// <summary>
    /// The architecture optimizer over the alphas (method doc 5.2): AdamW (decoupled decay, SimSiam)
    /// or Adam (L2 decay, MoCo; no decay, SimCLR), constant rate.
    /// </summary>
    public static ScheduledOptimizer CreateAlphaOptimizer(IReadOnlyList<Parameter> alphas, SearchStageOptions s)
    {
        if (alphas.Count == 0) throw new ArgumentException("The alpha optimizer needs at least one architecture parameter.");
        OptimizerHelper optimizer = s.AlphaOptimizer switch
        {
            // In-place steps (InPlaceOptimizers.cs): TorchSharp's update without its finalizer-freed Scalars.
            OptimizerKind.AdamW => new InPlace.AdamW([new AdamW.ParamGroup(alphas, s.AlphaLr, s.AlphaBeta1, s.AlphaBeta2, AdamEps, s.AlphaWeightDecay, false, false)],
                s.AlphaLr, s.AlphaBeta1, s.AlphaBeta2, AdamEps, s.AlphaWeightDecay),
            OptimizerKind.Adam => new InPlace.Adam([new Adam.ParamGroup(alphas, s.AlphaLr, s.AlphaBeta1, s.AlphaBeta2, AdamEps, s.AlphaWeightDecay, false, false)],
                s.AlphaLr, s.AlphaBeta1, s.AlphaBeta2, AdamEps, s.AlphaWeightDecay),
            _ => throw new ArgumentException($"Search.AlphaOptimizer must be adam or adamw, not {s.AlphaOptimizer}."),
        };
        return new ScheduledOptimizer(optimizer, ["alpha"], s.AlphaLr, [true], LrSchedule.Constant, 1);
    }
}

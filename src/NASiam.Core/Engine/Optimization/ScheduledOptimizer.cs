using NASiam.Core.Options;
using TorchSharp.Modules;

namespace NASiam.Core.Engine.Optimization;

/// <summary>
/// A torch optimizer plus its per-group schedule. <see cref="SetEpoch"/> is the only place rates
/// change, so the schedule position is just the epoch number and a resumed run recomputes it.
/// </summary>
public sealed class ScheduledOptimizer : IDisposable
{
    readonly bool[] _fixed;
    readonly LrSchedule _schedule;
    readonly int _epochs;

    internal ScheduledOptimizer(OptimizerHelper optimizer, IReadOnlyList<string> groupNames, double initialLr,
        bool[] fixedGroups, LrSchedule schedule, int epochs)
    {
        Optimizer = optimizer;
        GroupNames = groupNames;
        InitialLr = initialLr;
        _fixed = fixedGroups;
        _schedule = schedule;
        _epochs = epochs;
        SetEpoch(0);
    }

    /// <summary>The wrapped optimizer (step, zero_grad, state save/load).</summary>
    public OptimizerHelper Optimizer { get; }
    /// <summary>Group names in torch group order.</summary>
    public IReadOnlyList<string> GroupNames { get; }
    /// <summary>Rate of every group at epoch 0.</summary>
    public double InitialLr { get; }
    /// <summary>The epoch the rates were last set for.</summary>
    public int Epoch { get; private set; }

    /// <summary>Sets every group's rate for the start of <paramref name="epoch"/> (fixed groups keep the initial rate).</summary>
    public void SetEpoch(int epoch)
    {
        var factor = LearningRates.Factor(_schedule, epoch, _epochs);
        int i = 0;
        foreach (var group in Optimizer.ParamGroups)
        {
            group.LearningRate = _fixed[i] ? InitialLr : InitialLr * factor;
            i++;
        }
        Epoch = epoch;
    }

    /// <summary>Current rate per group name.</summary>
    public IReadOnlyDictionary<string, double> CurrentRates()
    {
        var rates = new Dictionary<string, double>();
        int i = 0;
        foreach (var group in Optimizer.ParamGroups) rates[GroupNames[i++]] = group.LearningRate;
        return rates;
    }

    public void Step() => Optimizer.step();
    public void ZeroGrad() => Optimizer.zero_grad();
    public void Dispose() => Optimizer.Dispose();
}

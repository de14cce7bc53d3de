using NASiam.Core.Engine.Runs;
using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Engine.Evaluation;

/// <summary>
/// Checks that stop a stage on a non-finite running statistic instead of letting it reach an
/// evaluation: a BatchNorm running mean/variance that turned NaN or infinite (a 1-sample batch, an
/// overflow) leaves the training loss finite but makes every eval-mode output NaN.
/// </summary>
public static class FiniteChecks
{
    /// <summary>
    /// Throws <see cref="NonFiniteLossException"/> naming every buffer of <paramref name="module"/>
    /// (BatchNorm running_mean / running_var; num_batches_tracked is an integer and always finite)
    /// that holds a NaN or infinite value, e.g. "backbone.layer1.0.bn1.running_var (3 of 64)".
    /// <paramref name="what"/> names the model and moment in the message ("pretrain model after epoch 3").
    /// One device synchronisation per floating-point buffer.
    /// </summary>
    public static void RequireFiniteBuffers(nn.Module module, string what)
    {
        ArgumentNullException.ThrowIfNull(module);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var bad = new List<string>();
        foreach (var (name, buffer) in module.named_buffers())
        {
            if (!buffer.is_floating_point()) continue;
            var count = buffer.isfinite().logical_not().sum().ItemInt64();
            if (count > 0) bad.Add($"{name} ({count} of {buffer.numel()})");
        }
        if (bad.Count > 0)
            throw new NonFiniteLossException($"Non-finite running statistics in the {what}: {string.Join(", ", bad.Take(5))}{(bad.Count > 5 ? $" and {bad.Count - 5} more" : "")}; evaluation would be meaningless, so the stage stops (the last good checkpoint is kept).");
    }
}

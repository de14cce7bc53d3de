using System.Globalization;

namespace NASiam.Core.Reporting;

/// <summary>One of a run's final metrics (result.json "metrics") with what it means.</summary>
/// <param name="Name">Its key in result.json, e.g. lincls_top1.</param>
/// <param name="Label">What it measures, e.g. "Linear top-1 (test)".</param>
/// <param name="Unit">Its unit: "%" for accuracies (0–100), "parameters" for head_parameters; null for a loss (no unit).</param>
/// <param name="Value">The value as stored, in <paramref name="Unit"/>.</param>
public sealed record RunMetric(string Name, string Label, string? Unit, double Value)
{
    /// <summary>
    /// The value with its unit: "71.42 %", "1,049,088 parameters", "0.3127"; a value that is not a number says so
    /// ("NaN: not measured, or the training diverged"), never a blank or a 0.
    /// </summary>
    public string Text => !double.IsFinite(Value)
        ? double.IsNaN(Value) ? "NaN: not measured, or the training diverged" : $"{(Value > 0 ? "+" : "-")}infinite: the training diverged"
        : Unit switch
    {
        "%" => Value.ToString("0.00", CultureInfo.InvariantCulture) + " %",
        "parameters" => Value.ToString("#,0", CultureInfo.InvariantCulture) + " parameters",
        _ => Value.ToString("0.####", CultureInfo.InvariantCulture),
    };
}

/// <summary>
/// The engine's final metrics (the stages' result metrics, merged into result.json "metrics") by name, with
/// their labels and units, in the order a reader wants them: linear evaluation, kNN monitor, cost, losses.
/// Names the engine writes that are not listed here are shown after them, by name and without a unit.
/// </summary>
public static class RunMetricCatalog
{
    static readonly (string Name, string Label, string? Unit)[] Known =
    [
        ("lincls_top1", "Linear top-1 (test)", "%"),
        ("lincls_top5", "Linear top-5 (test)", "%"),
        ("lincls_best_top1", "Best linear top-1 over epochs (test)", "%"),
        ("knn_top1", "Final kNN top-1 (test)", "%"),
        ("knn_top5", "Final kNN top-5 (test)", "%"),
        ("knn_best_top1", "Best kNN top-1 (selects pretrain-best)", "%"),
        ("head_parameters", "Head parameters (projector and predictor)", "parameters"),
        ("search_final_loss", "Search: final training loss", null),
        ("search_final_arch_loss", "Search: final architecture loss", null),
        ("pretrain_final_loss", "Pre-training: final loss", null),
    ];

    /// <summary>
    /// <paramref name="metrics"/> (name → value) as labelled metrics, known names first in the catalog's order,
    /// then the others by name. Non-finite values are listed too (<see cref="RunMetric.Text"/> says what they are): left
    /// out, a diverged loss or an unmeasured accuracy read as a metric the run never had.
    /// </summary>
    public static IReadOnlyList<RunMetric> Describe(IReadOnlyDictionary<string, double> metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        var known = Known.Where(k => metrics.ContainsKey(k.Name))
            .Select(k => new RunMetric(k.Name, k.Label, k.Unit, metrics[k.Name]));
        var others = metrics.Where(m => Known.All(k => k.Name != m.Key))
            .OrderBy(m => m.Key, StringComparer.Ordinal)
            .Select(m => new RunMetric(m.Key, m.Key, null, m.Value));
        return [.. known, .. others];
    }
}

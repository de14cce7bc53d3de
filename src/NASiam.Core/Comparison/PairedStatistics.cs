using System.Globalization;
using MathNet.Numerics.Distributions;

namespace NASiam.Core.Comparison;

/// <summary>Mean and sample standard deviation of one arm's per-seed values.</summary>
/// <param name="N">Number of values (seeds).</param>
/// <param name="Mean">Arithmetic mean, in the values' unit (percent for accuracies).</param>
/// <param name="Std">Sample standard deviation (n − 1 denominator); null with fewer than 2 values.</param>
public sealed record SampleSummary(int N, double Mean, double? Std);

/// <summary>
/// The paired difference genotype − baseline over seeds, with a Student-t confidence interval.
/// </summary>
/// <param name="N">Number of pairs (seeds with a value in both arms).</param>
/// <param name="Mean">Mean difference (same unit as the values: percentage points for accuracies).</param>
/// <param name="Std">Sample standard deviation of the differences; null with fewer than 2 pairs.</param>
/// <param name="Level">Confidence level, e.g. 0.95.</param>
/// <param name="TCritical">t quantile at (1 + level)/2 with n − 1 degrees of freedom; null with fewer than 2 pairs.</param>
/// <param name="Lower">Lower CI bound (mean − t·sd/√n); null when there is no interval.</param>
/// <param name="Upper">Upper CI bound; null when there is no interval.</param>
/// <param name="Note">Why there is no interval, when there is none.</param>
public sealed record PairedDifference(int N, double Mean, double? Std, double Level, double? TCritical, double? Lower, double? Upper, string? Note)
{
    /// <summary>Half-width of the interval (t·sd/√n); null when there is none.</summary>
    public double? HalfWidth => Upper is { } u ? u - Mean : null;
}

/// <summary>
/// Statistics of a genotype-versus-baseline comparison: per-arm mean ± sample std and the paired
/// t interval of the per-seed differences (the seed fixes weights, data order and augmentation, so
/// the two arms of one seed are a pair). t quantiles come from MathNet.Numerics (StudentT.InvCDF).
/// </summary>
public static class PairedStatistics
{
    /// <summary>Mean and sample std of <paramref name="values"/>.</summary>
    /// <exception cref="ArgumentException">No values, or a value that is not finite.</exception>
    public static SampleSummary Summarize(IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0) throw new ArgumentException("At least one value is needed.", nameof(values));
        if (values.Any(v => !double.IsFinite(v))) throw new ArgumentException("Values must be finite (a NaN or infinity is not a result).", nameof(values));
        double mean = values.Average();
        double? std = values.Count < 2 ? null : Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1));
        return new SampleSummary(values.Count, mean, std);
    }

    /// <summary>
    /// Paired t interval of <paramref name="genotype"/>[i] − <paramref name="baseline"/>[i]:
    /// mean ± t(1 − (1 − level)/2, n − 1) · sd / √n. With one pair there is no interval (Note says so).
    /// </summary>
    /// <exception cref="ArgumentException">Lists of different lengths, empty, or non-finite values; level outside (0, 1).</exception>
    public static PairedDifference Paired(IReadOnlyList<double> genotype, IReadOnlyList<double> baseline, double level = 0.95)
    {
        ArgumentNullException.ThrowIfNull(genotype);
        ArgumentNullException.ThrowIfNull(baseline);
        if (genotype.Count != baseline.Count) throw new ArgumentException($"Paired values need equal counts; got {genotype.Count} and {baseline.Count}.");
        if (level is <= 0 or >= 1) throw new ArgumentException($"Confidence level must be in (0, 1); got {level}.", nameof(level));
        var diffs = genotype.Zip(baseline, (g, b) => g - b).ToArray();
        var s = Summarize(diffs);
        if (s.N < 2)
            return new PairedDifference(s.N, s.Mean, null, level, null, null, null, "one seed: no confidence interval (it needs at least 2 seeds)");
        double t = StudentT.InvCDF(0, 1, s.N - 1, 1 - (1 - level) / 2);
        double half = t * s.Std!.Value / Math.Sqrt(s.N);
        return new PairedDifference(s.N, s.Mean, s.Std, level, t, s.Mean - half, s.Mean + half, null);
    }

    /// <summary>
    /// The difference in words: "+0.8 pt, 95 % CI [0.2, 1.4], 3 seeds", or with one seed
    /// "+0.80 pt, 1 seed (no confidence interval: it needs at least 2 seeds)".
    /// </summary>
    public static string Describe(PairedDifference d, string unit = "pt")
    {
        var c = CultureInfo.InvariantCulture;
        string mean = (d.Mean >= 0 ? "+" : "") + d.Mean.ToString("0.00", c) + " " + unit;
        string seeds = d.N == 1 ? "1 seed" : $"{d.N} seeds";
        if (d.Lower is not { } lo || d.Upper is not { } hi)
            return $"{mean}, {seeds} (no confidence interval: it needs at least 2 seeds)";
        return $"{mean}, {Math.Round(d.Level * 100).ToString(c)} % CI [{lo.ToString("0.00", c)}, {hi.ToString("0.00", c)}], {seeds}";
    }
}

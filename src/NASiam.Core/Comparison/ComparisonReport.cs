using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace NASiam.Core.Comparison;

/// <summary>
/// The two arms of a comparison: the genotype's heads and the framework's standard heads. One name per arm
/// everywhere a user meets it: the page, comparison.json ("arm"), comparison.csv, the API's children and the CLI.
/// </summary>
public static class ComparisonArms
{
    /// <summary>The compared genotype's heads.</summary>
    public const string Genotype = "genotype";
    /// <summary>The framework's own (standard) heads: the reference the genotype is measured against.</summary>
    public const string Standard = "standard";
    /// <summary>
    /// The standard arm's former name, still found in comparisons stored, reports written and CLI folders made before the
    /// arm was renamed; read as <see cref="Standard"/> (<see cref="Normalize"/>), never written.
    /// </summary>
    public const string LegacyStandard = "baseline";
    /// <summary>Both arms in display order: genotype, then standard.</summary>
    public static readonly string[] All = [Genotype, Standard];

    /// <summary>An arm as stored or read (possibly <see cref="LegacyStandard"/>) under its one name; other values unchanged.</summary>
    public static string Normalize(string arm) => arm == LegacyStandard ? Standard : arm;
}

/// <summary>One kNN monitor point of a pre-training (docs/comparison-report.md).</summary>
/// <param name="Epoch">
/// The 0-based epoch index, as the run's own <c>knn</c> events carry it (docs/metrics-schema.md); what people read counts from 1:
/// the comparison page plots it at epoch <c>Epoch + 1</c>, as the run page does.
/// </param>
/// <param name="Top1">kNN top-1 accuracy in percent.</param>
public sealed record KnnPoint(int Epoch, double Top1);

/// <summary>
/// What one arm measured for one seed. Accuracies are percent; times are wall seconds of the
/// stage's own work (start to finish of each attempt, resume gaps excluded); throughput is the
/// mean of the pre-training's images/s reports. Null = not measured (the child has not finished,
/// failed, or logged none) — never a zero standing in for a missing value.
/// </summary>
public sealed record ComparisonSeedResult
{
    public required int Seed { get; init; }
    /// <summary><see cref="ComparisonArms.Genotype"/> or <see cref="ComparisonArms.Standard"/>.</summary>
    public required string Arm { get; init; }
    public double? LinclsTop1 { get; init; }
    public double? LinclsTop5 { get; init; }
    /// <summary>kNN top-1 at the last monitor of the pre-training.</summary>
    public double? KnnTop1 { get; init; }
    public double? PretrainSeconds { get; init; }
    public double? LinclsSeconds { get; init; }
    public double? ImagesPerSecond { get; init; }
    /// <summary>Trainable parameters of the heads (projector + predictor), when known.</summary>
    public long? HeadParameters { get; init; }
    public Guid? PretrainRunId { get; init; }
    public Guid? LinclsRunId { get; init; }
    public IReadOnlyList<KnnPoint> KnnCurve { get; init; } = [];
}

/// <summary>One metric compared over seeds: both arms' summaries, the paired difference and its wording.</summary>
/// <param name="Name">Machine name (lincls_top1, pretrain_seconds, ...).</param>
/// <param name="Label">What the page calls it.</param>
/// <param name="Unit">Unit of the values: % (accuracies; their differences are percentage points), s or img/s.</param>
/// <param name="Genotype">The genotype arm's mean ± std over its seeds.</param>
/// <param name="Baseline">The standard arm's mean ± std (the JSON member keeps its name "baseline": the reference the genotype is measured against).</param>
/// <param name="Difference">Genotype − standard, paired over the seeds with both values.</param>
/// <param name="Words">The difference in words (mean, CI, seeds).</param>
public sealed record ComparisonMetric(
    string Name, string Label, string Unit, SampleSummary? Genotype, SampleSummary? Baseline, PairedDifference? Difference, string Words);

/// <summary>
/// The result of a comparison (comparison.json; every member in docs/comparison-report.md): identity, the per-seed results of both arms, the
/// statistics per metric, the cost, an optional search-stability analysis and every notice (seeds
/// left out, missing values, no interval with one seed).
/// </summary>
public sealed record ComparisonReport
{
    /// <summary>The one wording, at planning and in the report, of what a single seed cannot give.</summary>
    public const string OneSeedNotice = "one seed: means have no spread and the difference no confidence interval; use 2 or more seeds";

    public required Guid Id { get; init; }
    public required string Name { get; init; }
    public required string Framework { get; init; }
    public required string Backbone { get; init; }
    public required string Dataset { get; init; }
    public required IReadOnlyList<int> Seeds { get; init; }
    /// <summary>The compared genotype in the reference text format.</summary>
    public string? GenotypeText { get; init; }
    /// <summary>
    /// The options every arm shares, as a run's "options" reads (the first seed's standard-arm pre-training): each arm's
    /// pre-training differs only in its heads and seed, its linear evaluation in the backbone it reads. What an
    /// appendix needs (epochs, batch sizes, learning rates, step cap, linear recipe) without opening every child run.
    /// </summary>
    public System.Text.Json.JsonElement? Recipe { get; init; }
    /// <summary>Always "standard": the baseline (reference) of the comparison is the arm <see cref="ComparisonArms.Standard"/>, the framework's own heads.</summary>
    public string Baseline { get; init; } = "standard";
    /// <summary>queued | running | succeeded | failed | cancelled (of the comparison as a whole).</summary>
    public required string Status { get; init; }
    /// <summary>True when every child finished and every seed has both arms' results.</summary>
    public bool Complete { get; init; }
    public IReadOnlyList<ComparisonSeedResult> Results { get; init; } = [];
    public IReadOnlyList<ComparisonMetric> Metrics { get; init; } = [];
    public IReadOnlyList<ComparisonMetric> Cost { get; init; } = [];
    public SearchStabilityReport? Stability { get; init; }
    public IReadOnlyList<string> Notices { get; init; } = [];
    public DateTimeOffset? FinishedAt { get; init; }

    /// <summary>The headline: the linear top-1 difference in words (empty before any pair exists).</summary>
    [JsonIgnore] public string Headline => Metrics.FirstOrDefault(m => m.Name == "lincls_top1")?.Words ?? "";

    /// <summary>
    /// Computes <see cref="Metrics"/> and <see cref="Cost"/> from <see cref="Results"/>: for each
    /// metric, the seeds where both arms have a value are paired; a seed missing a value in one arm
    /// is left out of that metric and a notice names it.
    /// </summary>
    public ComparisonReport WithStatistics(double level = 0.95)
    {
        var notices = new List<string>(Notices);
        var metrics = new List<ComparisonMetric>
        {
            Metric("lincls_top1", "Linear top-1", "%", r => r.LinclsTop1, level, notices),
            Metric("lincls_top5", "Linear top-5", "%", r => r.LinclsTop5, level, notices),
            Metric("knn_top1", "Final kNN top-1", "%", r => r.KnnTop1, level, notices),
        };
        var cost = new List<ComparisonMetric>
        {
            Metric("pretrain_seconds", "Pre-training wall time", "s", r => r.PretrainSeconds, level, notices),
            Metric("lincls_seconds", "Linear evaluation wall time", "s", r => r.LinclsSeconds, level, notices),
            Metric("images_per_second", "Pre-training throughput", "img/s", r => r.ImagesPerSecond, level, notices),
        };
        if (Seeds.Count == 1) notices.Add(OneSeedNotice);
        // Top-1 measured and top-5 not, in every result: the engine reports no top-5 on a set of 5 classes or fewer
        // (100 % by construction); its panel would read "no paired result" as if something had failed.
        if (Results.Count > 0 && Results.All(r => r.LinclsTop1 is not null && r.LinclsTop5 is null))
        {
            metrics.RemoveAll(m => m.Name == "lincls_top5");
            notices.Add("lincls_top5: not reported; on a data set of 5 classes or fewer every label is among the top 5");
        }
        return this with { Metrics = metrics, Cost = cost, Notices = notices.Distinct().ToArray() };
    }

    ComparisonMetric Metric(string name, string label, string unit, Func<ComparisonSeedResult, double?> pick, double level, List<string> notices)
    {
        var g = new List<double>();
        var b = new List<double>();
        var gAll = new List<double>();
        var bAll = new List<double>();
        foreach (var seed in Seeds)
        {
            var gv = Results.FirstOrDefault(r => r.Seed == seed && r.Arm == ComparisonArms.Genotype) is { } gr ? pick(gr) : null;
            var bv = Results.FirstOrDefault(r => r.Seed == seed && r.Arm == ComparisonArms.Standard) is { } br ? pick(br) : null;
            if (gv is { } x && !double.IsFinite(x)) { notices.Add($"seed {seed}: genotype {name} is {x}; left out"); gv = null; }
            if (bv is { } y && !double.IsFinite(y)) { notices.Add($"seed {seed}: standard {name} is {y}; left out"); bv = null; }
            if (gv is { } gx) gAll.Add(gx);
            if (bv is { } bx) bAll.Add(bx);
            if (gv is { } pg && bv is { } pb) { g.Add(pg); b.Add(pb); }
            else if (Status is "succeeded" or "failed" or "cancelled" && (gv is not null || bv is not null))
                notices.Add($"seed {seed}: {name} exists for the {(gv is null ? ComparisonArms.Standard : ComparisonArms.Genotype)} only; the seed is left out of the paired {name}");
        }
        var diff = g.Count > 0 ? PairedStatistics.Paired(g, b, level) : null;
        string words = diff is null ? (Status is "succeeded" or "failed" or "cancelled" ? "no paired result (not measured for both arms of any seed)" : "no paired result yet")
            : PairedStatistics.Describe(diff, unit == "%" ? "pt" : unit);
        return new ComparisonMetric(name, label, unit,
            gAll.Count > 0 ? PairedStatistics.Summarize(gAll) : null,
            bAll.Count > 0 ? PairedStatistics.Summarize(bAll) : null, diff, words);
    }

    /// <summary>JSON settings of comparison.json (camelCase, indented, enums as strings).</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads comparison.json; a report written before the standard arm's rename reads with <see cref="ComparisonArms.Standard"/>.</summary>
    /// <exception cref="ArgumentException">Malformed JSON.</exception>
    public static ComparisonReport FromJson(string json)
    {
        ComparisonReport report;
        try { report = JsonSerializer.Deserialize<ComparisonReport>(json, Json) ?? throw new ArgumentException("comparison JSON is null"); }
        catch (JsonException e) { throw new ArgumentException($"comparison JSON is malformed: {e.Message}", e); }
        return report.Results.Any(r => r.Arm == ComparisonArms.LegacyStandard)
            ? report with { Results = report.Results.Select(r => r with { Arm = ComparisonArms.Normalize(r.Arm) }).ToArray() }
            : report;
    }

    /// <summary>
    /// comparison.csv: one row per seed and arm (seed, arm, lincls_top1, lincls_top5, knn_top1,
    /// pretrain_seconds, lincls_seconds, images_per_second, head_parameters, pretrain_run, lincls_run);
    /// invariant culture, empty cells for values not measured.
    /// </summary>
    public string ToCsv()
    {
        var sb = new StringBuilder("seed,arm,lincls_top1,lincls_top5,knn_top1,pretrain_seconds,lincls_seconds,images_per_second,head_parameters,pretrain_run,lincls_run\n");
        foreach (var r in Results.OrderBy(r => r.Seed).ThenBy(r => Array.IndexOf(ComparisonArms.All, r.Arm)))
        {
            sb.Append(r.Seed.ToString(CultureInfo.InvariantCulture)).Append(',').Append(r.Arm);
            foreach (var v in new[] { r.LinclsTop1, r.LinclsTop5, r.KnnTop1, r.PretrainSeconds, r.LinclsSeconds, r.ImagesPerSecond })
                sb.Append(',').Append(v is { } x ? x.ToString("R", CultureInfo.InvariantCulture) : "");
            sb.Append(',').Append(r.HeadParameters?.ToString(CultureInfo.InvariantCulture) ?? "");
            sb.Append(',').Append(r.PretrainRunId?.ToString() ?? "").Append(',').Append(r.LinclsRunId?.ToString() ?? "").Append('\n');
        }
        return sb.ToString();
    }

    public const string JsonFile = "comparison.json";
    public const string CsvFile = "comparison.csv";

    /// <summary>
    /// Writes comparison.json and comparison.csv into <paramref name="directory"/>, each atomically (<see cref="IO.AtomicFile"/>:
    /// two writers at once, such as two downloads of a live comparison's files, each leave a whole file).
    /// </summary>
    public void WriteFiles(string directory)
    {
        IO.AtomicFile.WriteAllText(Path.Combine(directory, JsonFile), ToJson());
        IO.AtomicFile.WriteAllText(Path.Combine(directory, CsvFile), ToCsv());
    }
}

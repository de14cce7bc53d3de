using NASiam.Core;
using NASiam.Core.Options;

namespace NASiam.Web.Runs;

/// <summary>Life cycle of a run as the web app sees it.</summary>
public enum RunStatus
{
    Queued,
    Running,
    Succeeded,
    Cancelled,
    Failed,
    /// <summary>Stopped by an app shutdown or crash; resumed from its last checkpoint at the next start.</summary>
    Interrupted,
}

/// <summary>One run as stored in the run database (options JSON, progress, lineage, outcome).</summary>
public sealed record RunRecord
{
    public required Guid Id { get; init; }
    public required string Name { get; init; }
    public required RunKind Kind { get; init; }
    public required Framework Framework { get; init; }
    public required string Backbone { get; init; }
    public required string Dataset { get; init; }
    public required string Device { get; init; }
    public required RunStatus Status { get; init; }
    public required string OptionsJson { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? FinishedAt { get; init; }
    /// <summary>The stage now running (search, pretrain, lincls).</summary>
    public string? Stage { get; init; }
    public DateTimeOffset? StageStartedAt { get; init; }
    public long StageTotalSteps { get; init; }
    public long StageDoneSteps { get; init; }
    public long StageResumedAtStep { get; init; }
    public string? BestMetricName { get; init; }

    /// <summary>
    /// <see cref="BestMetricName"/> as lists show it: a linear evaluation without a checkpoint measured the untrained
    /// (random-init) baseline, and says so (its top-1 read like a trained backbone's in the runs list).
    /// </summary>
    public string? BestMetricLabel => BestMetricName == "linear top-1" && Kind == RunKind.LinCls && string.IsNullOrWhiteSpace(Options().Linear.Checkpoint)
        ? "linear top-1 (untrained backbone)"
        : BestMetricName;
    public double? BestMetric { get; init; }
    public string? Message { get; init; }
    /// <summary>The run this one was launched from (genotype source, retried run, evaluated checkpoint).</summary>
    public Guid? ParentId { get; init; }
    public string? JobId { get; init; }
    public bool CancelRequested { get; init; }
    public int Attempts { get; init; }
    public string? GenotypeText { get; init; }
    /// <summary>result.Artifacts of the engine as JSON (stage → artefact path).</summary>
    public string? ArtifactsJson { get; init; }
    /// <summary>result.Metrics of the engine as JSON.</summary>
    public string? MetricsJson { get; init; }
    public long EventCount { get; init; }

    /// <summary>What the resolver said of the request when the run was queued (defaults filled in, a provisional genotype, …); [] when nothing.</summary>
    public IReadOnlyList<string> Notices { get; init; } = [];

    public bool IsActive => Status is RunStatus.Queued or RunStatus.Running or RunStatus.Interrupted;
    public bool CanResume => Status is RunStatus.Cancelled or RunStatus.Failed or RunStatus.Interrupted;

    /// <summary>
    /// Whether its genotype can be pre-trained on its setup (the run page's "Pre-train this genotype", POST
    /// /api/runs/{id}/pretrain): it has a genotype and has ended. A stopped search's is the argmax of its alphas at
    /// the last snapshot (the resolver's notice says so); a running one's still changes.
    /// </summary>
    public bool CanPretrainGenotype => GenotypeText is not null && !IsActive;

    /// <summary>Fraction of the current stage done, 0..1.</summary>
    public double Progress => Status == RunStatus.Succeeded ? 1
        : StageTotalSteps > 0 ? Math.Clamp((double)StageDoneSteps / StageTotalSteps, 0, 1) : 0;

    /// <summary>Time left in the current stage from the rate since it (re)started; null when unknown.</summary>
    public TimeSpan? Eta(DateTimeOffset now)
    {
        if (Status != RunStatus.Running || StageStartedAt is not { } t0 || StageTotalSteps <= 0) return null;
        long done = StageDoneSteps - StageResumedAtStep;
        if (done <= 0) return null;
        var perStep = (now - t0) / done;
        return perStep * Math.Max(0, StageTotalSteps - StageDoneSteps);
    }

    public TimeSpan? Elapsed(DateTimeOffset now) =>
        StartedAt is { } s ? (FinishedAt ?? now) - s : null;

    public RunOptions Options() => RunOptions.FromJson(OptionsJson);

    /// <summary>
    /// <see cref="MetricsJson"/> as name → value (empty before the run ends; "NaN" and "Infinity" read as such).
    /// </summary>
    /// <exception cref="System.Text.Json.JsonException">The stored text is not such a map.</exception>
    public IReadOnlyDictionary<string, double> Metrics() => NASiam.Core.Reporting.HeadlineMetricsJson.Parse(MetricsJson);
}

/// <summary>A genotype in the library (imported or discovered by a run).</summary>
public sealed record GenotypeEntry(Guid Id, string Name, Framework Framework, string Text, string Source, Guid? RunId, DateTimeOffset CreatedAt);

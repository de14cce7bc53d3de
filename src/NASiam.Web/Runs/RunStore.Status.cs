namespace NASiam.Web.Runs;

/// <summary>
/// Status columns of a run. Only the lifecycle owner, <see cref="RunLifecycle"/>, calls
/// these.
/// </summary>
public sealed partial class RunStore
{
    internal void SetJob(Guid id, string jobId, RunStatus status)
    {
        using var c = Open();
        Exec(c, "UPDATE runs SET job_id = $job, status = $st, cancel_requested = 0, message = NULL WHERE id = $id",
            ("$id", id.ToString()), ("$job", jobId), ("$st", status.ToString()));
    }

    internal void SetStatus(Guid id, RunStatus status, string? message = null, bool finished = false)
    {
        using var c = Open();
        Exec(c, "UPDATE runs SET status = $st, message = $msg, finished_at = CASE WHEN $fin THEN $now ELSE finished_at END WHERE id = $id",
            ("$id", id.ToString()), ("$st", status.ToString()), ("$msg", message), ("$fin", finished ? 1 : 0), ("$now", Iso(DateTimeOffset.UtcNow)));
    }

    internal void MarkStarted(Guid id)
    {
        using var c = Open();
        Exec(c, """
            UPDATE runs SET status = 'Running', attempts = attempts + 1, message = NULL, finished_at = NULL,
              started_at = COALESCE(started_at, $now) WHERE id = $id
            """, ("$id", id.ToString()), ("$now", Iso(DateTimeOffset.UtcNow)));
    }

    internal void RequestCancel(Guid id)
    {
        using var c = Open();
        Exec(c, "UPDATE runs SET cancel_requested = 1 WHERE id = $id", ("$id", id.ToString()));
    }

    internal void Finish(Guid id, RunStatus status, string? message, string? genotypeText,
        string? artifactsJson, string? metricsJson)
    {
        using var c = Open();
        Exec(c, """
            UPDATE runs SET status = $st, message = $msg, finished_at = $now,
              genotype_text = COALESCE($g, genotype_text), artifacts_json = COALESCE($a, artifacts_json),
              metrics_json = COALESCE($m, metrics_json) WHERE id = $id
            """, ("$id", id.ToString()), ("$st", status.ToString()), ("$msg", message), ("$now", Iso(DateTimeOffset.UtcNow)),
            ("$g", genotypeText), ("$a", artifactsJson), ("$m", metricsJson));
    }
}

using System.Text.Json;
using NASiam.Core.Comparison;
using NASiam.Core.Options;
using NASiam.Web.Runs.Storage;
using static NASiam.Web.Runs.Storage.RunDatabase;

namespace NASiam.Web.Runs;

/// <summary>A comparison as stored: its plan (what is compared, seeds, recipe) and its own status.</summary>
public sealed record ComparisonRecord
{
    public required Guid Id { get; init; }
    public required string Name { get; init; }
    public required ComparisonPlan Plan { get; init; }
    /// <summary>Queued, Running, Succeeded, Failed or Cancelled (never Interrupted: the children carry that).</summary>
    public required RunStatus Status { get; init; }
    public string? Message { get; init; }
    /// <summary>The searched run the genotype came from, when launched from one (lineage).</summary>
    public Guid? SourceRunId { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? FinishedAt { get; init; }
    public bool IsActive => Status is RunStatus.Queued or RunStatus.Running;

    /// <summary>
    /// Starts the message of a comparison cancelled while a child still runs. It stays Queued/Running (API
    /// clients know those values) until every child has stopped, and creates no child meanwhile. The
    /// message is the durable mark because every node's coordinator must see it and it needs no new column.
    /// </summary>
    public const string CancellingPrefix = "Cancelling: ";

    public bool IsCancelling => IsActive && Message?.StartsWith(CancellingPrefix, StringComparison.Ordinal) == true;
}

/// <summary>One child run of a comparison: a search, or one arm's pre-training or linear evaluation for one seed.</summary>
/// <param name="Role">search | pretrain | lincls.</param>
/// <param name="Arm">genotype | standard (<see cref="ComparisonArms"/>); empty for a search.</param>
public sealed record ComparisonChild(Guid ComparisonId, string Role, string Arm, int Seed, Guid RunId);

/// <summary>
/// Comparisons and their child runs, in their own tables of the run database (<see cref="RunDatabase"/>:
/// SQLite or PostgreSQL; the runs themselves stay ordinary rows of <see cref="RunStore"/>).
/// </summary>
public sealed class ComparisonStore(RunDatabase db)
{
    /// <summary>A store on a SQLite file (created, or migrated, on open).</summary>
    public ComparisonStore(string databasePath) : this(RunDatabase.Sqlite(databasePath)) { }

    public void Insert(ComparisonRecord r) => db.Exec(
        "INSERT INTO comparisons (id, name, plan_json, status, message, source_run_id, created_at) VALUES (@id, @n, @p, @s, @m, @src, @at)",
        ("@id", r.Id.ToString()), ("@n", r.Name), ("@p", JsonSerializer.Serialize(r.Plan, RunOptions.Json)), ("@s", r.Status.ToString()),
        ("@m", r.Message), ("@src", r.SourceRunId?.ToString()), ("@at", Iso(r.CreatedAt)));

    public void SetPlan(Guid id, ComparisonPlan plan) =>
        db.Exec("UPDATE comparisons SET plan_json = @p WHERE id = @id", ("@id", id.ToString()), ("@p", JsonSerializer.Serialize(plan, RunOptions.Json)));

    public void SetStatus(Guid id, RunStatus status, string? message, bool finished) =>
        db.Exec("UPDATE comparisons SET status = @s, message = @m, finished_at = @f WHERE id = @id",
            ("@id", id.ToString()), ("@s", status.ToString()), ("@m", message), ("@f", finished ? Iso(DateTimeOffset.UtcNow) : null));

    public void AddChild(ComparisonChild child) => db.Exec("""
        INSERT INTO comparison_children (comparison_id, role, arm, seed, run_id) VALUES (@c, @r, @a, @s, @run)
        ON CONFLICT (comparison_id, role, arm, seed) DO UPDATE SET run_id = excluded.run_id
        """, ("@c", child.ComparisonId.ToString()), ("@r", child.Role), ("@a", child.Arm), ("@s", (long)child.Seed), ("@run", child.RunId.ToString()));

    public IReadOnlyList<ComparisonChild> Children(Guid comparisonId)
    {
        using var c = db.Open();
        using var cmd = db.Command(c, "SELECT role, arm, seed, run_id FROM comparison_children WHERE comparison_id = @c ORDER BY seed, role, arm",
            ("@c", comparisonId.ToString()));
        using var r = cmd.ExecuteReader();
        var list = new List<ComparisonChild>();
        // A child stored before the standard arm's rename has arm 'baseline': read under the one name.
        while (r.Read()) list.Add(new(comparisonId, r.GetString(0), ComparisonArms.Normalize(r.GetString(1)), (int)r.GetInt64(2), Guid.Parse(r.GetString(3))));
        return list;
    }

    /// <summary>The comparison a run is a child of, if any.</summary>
    public Guid? ComparisonOf(Guid runId)
    {
        using var c = db.Open();
        return db.Scalar(c, "SELECT comparison_id FROM comparison_children WHERE run_id = @r LIMIT 1", ("@r", runId.ToString())) is string s
            ? Guid.Parse(s) : null;
    }

    public ComparisonRecord? Get(Guid id) => Query("WHERE id = @id", ("@id", id.ToString())).FirstOrDefault();

    public IReadOnlyList<ComparisonRecord> List() => Query("ORDER BY created_at DESC");

    public IReadOnlyList<ComparisonRecord> Active() => Query("WHERE status IN ('Queued', 'Running') ORDER BY created_at");

    public void Delete(Guid id)
    {
        using var c = db.Open();
        using var tx = c.BeginTransaction();
        db.Exec(c, "DELETE FROM comparison_children WHERE comparison_id = @id", ("@id", id.ToString()));
        db.Exec(c, "DELETE FROM comparisons WHERE id = @id", ("@id", id.ToString()));
        tx.Commit();
    }

    List<ComparisonRecord> Query(string where, params (string Name, object? Value)[] args)
    {
        using var c = db.Open();
        using var cmd = db.Command(c, $"SELECT id, name, plan_json, status, message, source_run_id, created_at, finished_at FROM comparisons {where}", args);
        using var r = cmd.ExecuteReader();
        var list = new List<ComparisonRecord>();
        while (r.Read())
        {
            list.Add(new ComparisonRecord
            {
                Id = Guid.Parse(r.GetString(0)), Name = r.GetString(1),
                Plan = JsonSerializer.Deserialize<ComparisonPlan>(r.GetString(2), RunOptions.Json)!,
                Status = Enum.Parse<RunStatus>(r.GetString(3)), Message = r.IsDBNull(4) ? null : r.GetString(4),
                SourceRunId = r.IsDBNull(5) ? null : Guid.Parse(r.GetString(5)),
                CreatedAt = ReadTime(r, 6)!.Value, FinishedAt = ReadTime(r, 7),
            });
        }
        return list;
    }
}

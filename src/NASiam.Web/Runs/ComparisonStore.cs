using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using NASiam.Core.Comparison;
using NASiam.Core.Options;

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
}

/// <summary>One child run of a comparison: a search, or one arm's pre-training or linear evaluation for one seed.</summary>
/// <param name="Role">search | pretrain | lincls.</param>
/// <param name="Arm">genotype | baseline; empty for a search.</param>
public sealed record ComparisonChild(Guid ComparisonId, string Role, string Arm, int Seed, Guid RunId);

/// <summary>
/// Comparisons and their child runs, in their own tables of the run database (the runs themselves
/// stay ordinary rows of <see cref="RunStore"/>).
/// </summary>
public sealed class ComparisonStore
{
    readonly string _connectionString;

    public ComparisonStore(string databasePath)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(databasePath)!);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = databasePath, Mode = SqliteOpenMode.ReadWriteCreate, Cache = SqliteCacheMode.Private, Pooling = true, DefaultTimeout = 30,
        }.ToString();
        using var c = Open();
        Exec(c, """
            PRAGMA journal_mode = WAL;
            CREATE TABLE IF NOT EXISTS comparisons (
              id TEXT PRIMARY KEY, name TEXT NOT NULL, plan_json TEXT NOT NULL, status TEXT NOT NULL, message TEXT,
              source_run_id TEXT, created_at TEXT NOT NULL, finished_at TEXT);
            CREATE TABLE IF NOT EXISTS comparison_children (
              comparison_id TEXT NOT NULL, role TEXT NOT NULL, arm TEXT NOT NULL, seed INTEGER NOT NULL, run_id TEXT NOT NULL,
              PRIMARY KEY (comparison_id, role, arm, seed));
            """);
    }

    SqliteConnection Open()
    {
        var c = new SqliteConnection(_connectionString);
        c.Open();
        return c;
    }

    static void Exec(SqliteConnection c, string sql, params (string Name, object? Value)[] args)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (n, v) in args) cmd.Parameters.AddWithValue(n, v ?? DBNull.Value);
        cmd.ExecuteNonQuery();
    }

    static string Iso(DateTimeOffset t) => t.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture);

    public void Insert(ComparisonRecord r)
    {
        using var c = Open();
        Exec(c, "INSERT INTO comparisons (id, name, plan_json, status, message, source_run_id, created_at) VALUES ($id, $n, $p, $s, $m, $src, $at)",
            ("$id", r.Id.ToString()), ("$n", r.Name), ("$p", JsonSerializer.Serialize(r.Plan, RunOptions.Json)), ("$s", r.Status.ToString()),
            ("$m", r.Message), ("$src", r.SourceRunId?.ToString()), ("$at", Iso(r.CreatedAt)));
    }

    public void SetPlan(Guid id, ComparisonPlan plan)
    {
        using var c = Open();
        Exec(c, "UPDATE comparisons SET plan_json = $p WHERE id = $id", ("$id", id.ToString()), ("$p", JsonSerializer.Serialize(plan, RunOptions.Json)));
    }

    public void SetStatus(Guid id, RunStatus status, string? message, bool finished)
    {
        using var c = Open();
        Exec(c, "UPDATE comparisons SET status = $s, message = $m, finished_at = CASE WHEN $f THEN $now ELSE NULL END WHERE id = $id",
            ("$id", id.ToString()), ("$s", status.ToString()), ("$m", message), ("$f", finished ? 1 : 0), ("$now", Iso(DateTimeOffset.UtcNow)));
    }

    public void AddChild(ComparisonChild child)
    {
        using var c = Open();
        Exec(c, "INSERT OR REPLACE INTO comparison_children (comparison_id, role, arm, seed, run_id) VALUES ($c, $r, $a, $s, $run)",
            ("$c", child.ComparisonId.ToString()), ("$r", child.Role), ("$a", child.Arm), ("$s", child.Seed), ("$run", child.RunId.ToString()));
    }

    public IReadOnlyList<ComparisonChild> Children(Guid comparisonId)
    {
        using var c = Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT role, arm, seed, run_id FROM comparison_children WHERE comparison_id = $c ORDER BY seed, role, arm";
        cmd.Parameters.AddWithValue("$c", comparisonId.ToString());
        using var r = cmd.ExecuteReader();
        var list = new List<ComparisonChild>();
        while (r.Read()) list.Add(new(comparisonId, r.GetString(0), r.GetString(1), (int)r.GetInt64(2), Guid.Parse(r.GetString(3))));
        return list;
    }

    /// <summary>The comparison a run is a child of, if any.</summary>
    public Guid? ComparisonOf(Guid runId)
    {
        using var c = Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT comparison_id FROM comparison_children WHERE run_id = $r LIMIT 1";
        cmd.Parameters.AddWithValue("$r", runId.ToString());
        return cmd.ExecuteScalar() is string s ? Guid.Parse(s) : null;
    }

    public ComparisonRecord? Get(Guid id) => Query("WHERE id = $id", ("$id", id.ToString())).FirstOrDefault();

    public IReadOnlyList<ComparisonRecord> List() => Query("ORDER BY created_at DESC");

    public IReadOnlyList<ComparisonRecord> Active() => Query("WHERE status IN ('Queued', 'Running') ORDER BY created_at");

    public void Delete(Guid id)
    {
        using var c = Open();
        Exec(c, "DELETE FROM comparison_children WHERE comparison_id = $id", ("$id", id.ToString()));
        Exec(c, "DELETE FROM comparisons WHERE id = $id", ("$id", id.ToString()));
    }

    List<ComparisonRecord> Query(string where, params (string Name, object? Value)[] args)
    {
        using var c = Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = $"SELECT id, name, plan_json, status, message, source_run_id, created_at, finished_at FROM comparisons {where}";
        foreach (var (n, v) in args) cmd.Parameters.AddWithValue(n, v ?? DBNull.Value);
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
                CreatedAt = DateTimeOffset.Parse(r.GetString(6), CultureInfo.InvariantCulture),
                FinishedAt = r.IsDBNull(7) ? null : DateTimeOffset.Parse(r.GetString(7), CultureInfo.InvariantCulture),
            });
        }
        return list;
    }
}

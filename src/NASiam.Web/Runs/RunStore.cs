using System.Globalization;
using Microsoft.Data.Sqlite;
using NASiam.Core;
using NASiam.Core.Options;
using NASiam.Core.Reporting;

namespace NASiam.Web.Runs;

/// <summary>
/// Run records, lineage, the genotype library and every engine event, in one SQLite file in the
/// data directory. Events are keyed by (run, sequence) and inserted with INSERT OR IGNORE, so a
/// replayed or resumed run never stores a point twice.
/// </summary>
public sealed partial class RunStore
{
    readonly string _connectionString;

    public RunStore(string databasePath)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(databasePath)!);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = databasePath, Mode = SqliteOpenMode.ReadWriteCreate, Cache = SqliteCacheMode.Private,
            Pooling = true, DefaultTimeout = 30,
        }.ToString();
        using var c = Open();
        Exec(c, """
            PRAGMA journal_mode = WAL;
            CREATE TABLE IF NOT EXISTS runs (
              id TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, framework TEXT NOT NULL,
              backbone TEXT NOT NULL, dataset TEXT NOT NULL, device TEXT NOT NULL, status TEXT NOT NULL,
              options_json TEXT NOT NULL, created_at TEXT NOT NULL, started_at TEXT, finished_at TEXT,
              stage TEXT, stage_started_at TEXT, stage_total INTEGER NOT NULL DEFAULT 0, stage_done INTEGER NOT NULL DEFAULT 0,
              stage_resumed_at INTEGER NOT NULL DEFAULT 0, best_name TEXT, best_value REAL, message TEXT,
              parent_id TEXT, job_id TEXT, cancel_requested INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,
              genotype_text TEXT, artifacts_json TEXT, metrics_json TEXT);
            CREATE TABLE IF NOT EXISTS events (
              run_id TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, stage TEXT NOT NULL, step INTEGER,
              json TEXT NOT NULL, PRIMARY KEY (run_id, seq)) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS events_by_type ON events (run_id, type, seq);
            CREATE TABLE IF NOT EXISTS genotypes (
              id TEXT PRIMARY KEY, name TEXT NOT NULL, framework TEXT NOT NULL, text TEXT NOT NULL,
              source TEXT NOT NULL, run_id TEXT, created_at TEXT NOT NULL);
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
        using var cmd = Command(c, sql, args);
        cmd.ExecuteNonQuery();
    }

    static SqliteCommand Command(SqliteConnection c, string sql, params (string Name, object? Value)[] args)
    {
        var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (name, value) in args) cmd.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return cmd;
    }

    static string Iso(DateTimeOffset t) => t.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture);
    static DateTimeOffset? ReadTime(SqliteDataReader r, int i) =>
        r.IsDBNull(i) ? null : DateTimeOffset.Parse(r.GetString(i), CultureInfo.InvariantCulture);

    // ---- runs --------------------------------------------------------------------------------

    public void Insert(RunRecord r)
    {
        using var c = Open();
        Exec(c, """
            INSERT INTO runs (id, name, kind, framework, backbone, dataset, device, status, options_json, created_at, parent_id)
            VALUES ($id, $name, $kind, $fw, $bb, $ds, $dev, $st, $opt, $at, $parent)
            """, ("$id", r.Id.ToString()), ("$name", r.Name), ("$kind", r.Kind.ToString()), ("$fw", r.Framework.ToString()),
            ("$bb", r.Backbone), ("$ds", r.Dataset), ("$dev", r.Device), ("$st", r.Status.ToString()), ("$opt", r.OptionsJson),
            ("$at", Iso(r.CreatedAt)), ("$parent", r.ParentId?.ToString()));
    }

    const string RunColumns = """
        id, name, kind, framework, backbone, dataset, device, status, options_json, created_at, started_at, finished_at,
        stage, stage_started_at, stage_total, stage_done, stage_resumed_at, best_name, best_value, message, parent_id, job_id,
        cancel_requested, attempts, genotype_text, artifacts_json, metrics_json,
        (SELECT COUNT(*) FROM events e WHERE e.run_id = runs.id)
        """;

    static RunRecord ReadRun(SqliteDataReader r) => new()
    {
        Id = Guid.Parse(r.GetString(0)), Name = r.GetString(1), Kind = Enum.Parse<RunKind>(r.GetString(2)),
        Framework = Enum.Parse<Framework>(r.GetString(3)), Backbone = r.GetString(4), Dataset = r.GetString(5),
        Device = r.GetString(6), Status = Enum.Parse<RunStatus>(r.GetString(7)), OptionsJson = r.GetString(8),
        CreatedAt = ReadTime(r, 9)!.Value, StartedAt = ReadTime(r, 10), FinishedAt = ReadTime(r, 11),
        Stage = r.IsDBNull(12) ? null : r.GetString(12), StageStartedAt = ReadTime(r, 13), StageTotalSteps = r.GetInt64(14),
        StageDoneSteps = r.GetInt64(15), StageResumedAtStep = r.GetInt64(16), BestMetricName = r.IsDBNull(17) ? null : r.GetString(17),
        BestMetric = r.IsDBNull(18) ? null : r.GetDouble(18), Message = r.IsDBNull(19) ? null : r.GetString(19),
        ParentId = r.IsDBNull(20) ? null : Guid.Parse(r.GetString(20)), JobId = r.IsDBNull(21) ? null : r.GetString(21),
        CancelRequested = r.GetInt64(22) != 0, Attempts = (int)r.GetInt64(23), GenotypeText = r.IsDBNull(24) ? null : r.GetString(24),
        ArtifactsJson = r.IsDBNull(25) ? null : r.GetString(25), MetricsJson = r.IsDBNull(26) ? null : r.GetString(26),
        EventCount = r.GetInt64(27),
    };

    public RunRecord? Get(Guid id)
    {
        using var c = Open();
        using var cmd = Command(c, $"SELECT {RunColumns} FROM runs WHERE id = $id", ("$id", id.ToString()));
        using var r = cmd.ExecuteReader();
        return r.Read() ? ReadRun(r) : null;
    }

    public IReadOnlyList<RunRecord> List(Guid? parentId = null)
    {
        using var c = Open();
        using var cmd = parentId is { } p
            ? Command(c, $"SELECT {RunColumns} FROM runs WHERE parent_id = $p ORDER BY created_at DESC", ("$p", p.ToString()))
            : Command(c, $"SELECT {RunColumns} FROM runs ORDER BY created_at DESC");
        using var r = cmd.ExecuteReader();
        var list = new List<RunRecord>();
        while (r.Read()) list.Add(ReadRun(r));
        return list;
    }

    public void SetJob(Guid id, string jobId, RunStatus status)
    {
        using var c = Open();
        Exec(c, "UPDATE runs SET job_id = $job, status = $st, cancel_requested = 0, message = NULL WHERE id = $id",
            ("$id", id.ToString()), ("$job", jobId), ("$st", status.ToString()));
    }

    public void SetStatus(Guid id, RunStatus status, string? message = null, bool finished = false)
    {
        using var c = Open();
        Exec(c, "UPDATE runs SET status = $st, message = $msg, finished_at = CASE WHEN $fin THEN $now ELSE finished_at END WHERE id = $id",
            ("$id", id.ToString()), ("$st", status.ToString()), ("$msg", message), ("$fin", finished ? 1 : 0), ("$now", Iso(DateTimeOffset.UtcNow)));
    }

    public void MarkStarted(Guid id)
    {
        using var c = Open();
        Exec(c, """
            UPDATE runs SET status = 'Running', attempts = attempts + 1, message = NULL, finished_at = NULL,
              started_at = COALESCE(started_at, $now) WHERE id = $id
            """, ("$id", id.ToString()), ("$now", Iso(DateTimeOffset.UtcNow)));
    }

    public void RequestCancel(Guid id)
    {
        using var c = Open();
        Exec(c, "UPDATE runs SET cancel_requested = 1 WHERE id = $id", ("$id", id.ToString()));
    }

    public void Finish(Guid id, RunStatus status, string? message, string? genotypeText,
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

    public void Delete(Guid id)
    {
        using var c = Open();
        using var tx = c.BeginTransaction();
        Exec(c, "DELETE FROM events WHERE run_id = $id", ("$id", id.ToString()));
        Exec(c, "DELETE FROM runs WHERE id = $id", ("$id", id.ToString()));
        Exec(c, "UPDATE runs SET parent_id = NULL WHERE parent_id = $id", ("$id", id.ToString()));
        tx.Commit();
    }
}

using System.Globalization;
using Microsoft.Data.Sqlite;
using NASiam.Core.Reporting;

namespace NASiam.Web.Runs;

/// <summary>
/// Run records, lineage, the genotype library and every engine event, in one SQLite file in the
/// data directory. This file: the schema, its migrations and connections; one file per concern
/// beside it (Runs, Status, Events, Genotypes). Events are keyed by (run, sequence) and inserted
/// with INSERT OR IGNORE, so a replayed or resumed run never stores a point twice.
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
        Migrate(c);
    }

    /// <summary>The schema version (PRAGMA user_version) this code writes.</summary>
    public const int SchemaVersion = 1;

    /// <summary>
    /// Brings an older database up to <see cref="SchemaVersion"/>, in one transaction. Version 1:
    /// events are stored in the one JSON form of contract v1 (snake_case; they were camelCase);
    /// every row is rewritten, none dropped (a row that does not read as an event stays as it was
    /// and is counted as unreadable when read).
    /// </summary>
    static void Migrate(SqliteConnection c)
    {
        long version;
        using (var v = Command(c, "PRAGMA user_version")) version = (long)v.ExecuteScalar()!;
        if (version >= SchemaVersion) return;
        using var tx = c.BeginTransaction();
        var rewrites = new List<(string Run, long Seq, string Json)>();
        using (var cmd = Command(c, "SELECT run_id, seq, json FROM events"))
        using (var r = cmd.ExecuteReader())
        {
            while (r.Read())
            {
                var json = r.GetString(2);
                if (!TrainingEventJson.IsLegacy(json)) continue;
                try { rewrites.Add((r.GetString(0), r.GetInt64(1), TrainingEventJson.Serialize(TrainingEventJson.DeserializeAnyVersion(json)))); }
                catch (System.Text.Json.JsonException) { }
            }
        }
        using (var update = Command(c, "UPDATE events SET json = $j WHERE run_id = $r AND seq = $s"))
        {
            var pj = update.Parameters.Add("$j", SqliteType.Text);
            var pr = update.Parameters.Add("$r", SqliteType.Text);
            var ps = update.Parameters.Add("$s", SqliteType.Integer);
            foreach (var (run, seq, json) in rewrites)
            {
                pj.Value = json; pr.Value = run; ps.Value = seq;
                update.ExecuteNonQuery();
            }
        }
        Exec(c, $"PRAGMA user_version = {SchemaVersion}");
        tx.Commit();
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
}

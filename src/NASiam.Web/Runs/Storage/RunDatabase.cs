using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Npgsql;
using NASiam.Core.Reporting;

namespace NASiam.Web.Runs.Storage;

/// <summary>Which database holds the run records: a local SQLite file (one machine) or PostgreSQL (several).</summary>
public enum DatabaseKind { Sqlite, PostgreSql }

/// <summary>
/// Thrown at start-up when a configured backing service (the database, the live-event transport:
/// PostgreSQL or Redis) cannot be reached or prepared; the message names the setting to fix
/// (Program prints it and exits with code 2).
/// </summary>
public sealed class BackingServiceUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The run database: connections, the few SQL dialect differences, and the schema (created or
/// migrated when the database is opened). Every store (runs, status, events, genotypes, leases,
/// comparisons) writes its SQL once against this type; only what differs between SQLite and
/// PostgreSQL lives here (<see cref="Greatest"/>, <see cref="NowMs"/>, table options, the schema
/// version's home). Parameters are written <c>@name</c>, which both providers accept. Ids and times
/// are stored as text (ids as GUID strings, times as round-trip ISO-8601 UTC, which sorts in time
/// order) in both, so reading code is the same for both.
/// </summary>
public sealed class RunDatabase : IDisposable
{
    readonly string? _sqlite;
    readonly NpgsqlDataSource? _pg;

    public DatabaseKind Kind { get; }

    RunDatabase(DatabaseKind kind, string? sqlite, NpgsqlDataSource? pg, string description)
    {
        Kind = kind; _sqlite = sqlite; _pg = pg; Description = description;
    }

    /// <summary>The storage in an operator's words, naming its setting (health answers and 503 problems say which store is down).</summary>
    public string Description { get; }

    /// <summary>
    /// A cheap round trip (open, SELECT 1) within <paramref name="timeout"/>: null when the store answers,
    /// else why not. For /healthz, which must not hang for the connect timeout of the connection string.
    /// </summary>
    public async Task<string?> ProbeAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            await using var c = _pg is not null ? await _pg.OpenConnectionAsync(cts.Token) : Open();
            await using var cmd = c.CreateCommand();
            cmd.CommandText = "SELECT 1";
            await cmd.ExecuteScalarAsync(cts.Token);
            return null;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return $"no answer within {timeout.TotalSeconds:0.#} s";
        }
        catch (Exception e) when (e is DbException or System.Net.Sockets.SocketException or TimeoutException or IOException or InvalidOperationException)
        {
            return e.Message;
        }
    }

    /// <summary>
    /// True when <paramref name="e"/> (or an exception inside it) says the store cannot be reached or is not
    /// serving (connection refused or lost, a timeout, the server shutting down or out of connections), as
    /// opposed to a fault of the statement; the API answers 503 for these.
    /// </summary>
    public static bool IsUnavailable(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            // Class 08: connection exception; 57P: operator intervention (shutdown, cannot connect now); 53: out of resources.
            if (e is PostgresException pg) return pg.SqlState.StartsWith("08", StringComparison.Ordinal) || pg.SqlState.StartsWith("57P", StringComparison.Ordinal)
                                                   || pg.SqlState.StartsWith("53", StringComparison.Ordinal);
            // Npgsql's own (not the server's) errors are failures to reach or talk to the server.
            if (e is NpgsqlException) return true;
            // SQLite: the file cannot be opened (14, SQLITE_CANTOPEN) or stays locked past the timeout (5, SQLITE_BUSY).
            if (e is SqliteException { SqliteErrorCode: 14 or 5 }) return true;
        }
        return false;
    }

    /// <summary>
    /// True when <paramref name="e"/> (or an exception inside it) says the disk holding the store is full: SQLite's
    /// SQLITE_FULL (13), PostgreSQL's disk_full (53100), or an I/O error ENOSPC; the API answers 507 for these and the
    /// pages say so, where a raw SqliteException 500 (and a dead page) came before.
    /// </summary>
    public static bool IsFull(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is SqliteException { SqliteErrorCode: 13 }) return true;
            if (e is PostgresException { SqlState: "53100" }) return true;
            // .NET on Linux carries the errno (ENOSPC = 28) in an IOException's HResult.
            if (e is IOException io && (io.HResult == 28 || io.Message.Contains("No space left on device", StringComparison.Ordinal))) return true;
        }
        return false;
    }

    /// <summary>A SQLite file (created with its folder when missing); the schema is ready on return.</summary>
    public static RunDatabase Sqlite(string databasePath)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(databasePath))!);
        var cs = new SqliteConnectionStringBuilder
        {
            DataSource = databasePath, Mode = SqliteOpenMode.ReadWriteCreate, Cache = SqliteCacheMode.Private,
            Pooling = true, DefaultTimeout = 30,
        }.ToString();
        var db = new RunDatabase(DatabaseKind.Sqlite, cs, null, $"SQLite file {Path.GetFullPath(databasePath)} (Nasiam:DataDirectory)");
        db.EnsureSchema();
        return db;
    }

    /// <summary>
    /// A PostgreSQL database (Nasiam:ConnectionString); the schema is ready on return. Throws
    /// <see cref="BackingServiceUnavailableException"/> naming the setting when the server cannot be reached.
    /// </summary>
    public static RunDatabase PostgreSql(string connectionString)
    {
        NpgsqlConnectionStringBuilder b;
        try { b = new NpgsqlConnectionStringBuilder(connectionString); }
        catch (ArgumentException e) { throw new BackingServiceUnavailableException($"Nasiam:ConnectionString is not a valid PostgreSQL connection string: {e.Message}", e); }
        var db = new RunDatabase(DatabaseKind.PostgreSql, null, NpgsqlDataSource.Create(b),
            $"PostgreSQL at Nasiam:ConnectionString (host {b.Host ?? "?"}, port {b.Port}, database {b.Database ?? "?"})");
        try { db.EnsureSchema(); }
        catch (Exception e) when (e is NpgsqlException or System.Net.Sockets.SocketException or TimeoutException or InvalidOperationException)
        {
            db.Dispose();
            throw new BackingServiceUnavailableException(
                $"{db.Description} is unreachable or unusable: {e.Message}", e);
        }
        return db;
    }

    /// <summary>An open connection (pooled by the provider).</summary>
    public DbConnection Open()
    {
        if (_pg is not null) return _pg.OpenConnection();
        var c = new SqliteConnection(_sqlite);
        c.Open();
        return c;
    }

    // ---- the dialect: the only SQL that differs ----

    /// <summary>The larger of two values (SQLite's two-argument MAX, PostgreSQL's GREATEST).</summary>
    public string Greatest(string a, string b) => Kind == DatabaseKind.Sqlite ? $"MAX({a}, {b})" : $"GREATEST({a}, {b})";

    /// <summary>
    /// The database server's clock in Unix milliseconds. Leases compare against it, not against
    /// each node's clock, so clock skew between machines cannot make a live lease look expired.
    /// </summary>
    public string NowMs => Kind == DatabaseKind.Sqlite
        ? "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"
        : "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)";

    string TableOptions => Kind == DatabaseKind.Sqlite ? " WITHOUT ROWID" : "";

    // ---- commands ----

    public DbCommand Command(DbConnection c, string sql, params (string Name, object? Value)[] args)
    {
        var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (name, value) in args) AddParameter(cmd, name, value);
        return cmd;
    }

    public static DbParameter AddParameter(DbCommand cmd, string name, object? value)
    {
        var p = cmd.CreateParameter();
        p.ParameterName = name;
        p.Value = value ?? DBNull.Value;
        cmd.Parameters.Add(p);
        return p;
    }

    public int Exec(DbConnection c, string sql, params (string Name, object? Value)[] args)
    {
        using var cmd = Command(c, sql, args);
        return cmd.ExecuteNonQuery();
    }

    public object? Scalar(DbConnection c, string sql, params (string Name, object? Value)[] args)
    {
        using var cmd = Command(c, sql, args);
        return cmd.ExecuteScalar();
    }

    /// <summary>Opens a connection and runs one statement.</summary>
    public int Exec(string sql, params (string Name, object? Value)[] args)
    {
        using var c = Open();
        return Exec(c, sql, args);
    }

    public static string Iso(DateTimeOffset t) => t.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture);

    public static DateTimeOffset? ReadTime(DbDataReader r, int i) =>
        r.IsDBNull(i) ? null : DateTimeOffset.Parse(r.GetString(i), CultureInfo.InvariantCulture);

    // ---- schema ----

    /// <summary>The schema version this code writes (SQLite: PRAGMA user_version; PostgreSQL: nasiam_schema).</summary>
    public const int SchemaVersion = 3;

    string Schema => $"""
        CREATE TABLE IF NOT EXISTS runs (
          id TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, framework TEXT NOT NULL,
          backbone TEXT NOT NULL, dataset TEXT NOT NULL, device TEXT NOT NULL, status TEXT NOT NULL,
          options_json TEXT NOT NULL, created_at TEXT NOT NULL, started_at TEXT, finished_at TEXT,
          stage TEXT, stage_started_at TEXT, stage_total BIGINT NOT NULL DEFAULT 0, stage_done BIGINT NOT NULL DEFAULT 0,
          stage_resumed_at BIGINT NOT NULL DEFAULT 0, best_name TEXT, best_value DOUBLE PRECISION, message TEXT,
          parent_id TEXT, job_id TEXT, cancel_requested BIGINT NOT NULL DEFAULT 0, attempts BIGINT NOT NULL DEFAULT 0,
          genotype_text TEXT, artifacts_json TEXT, metrics_json TEXT, notices_json TEXT);
        CREATE TABLE IF NOT EXISTS events (
          run_id TEXT NOT NULL, seq BIGINT NOT NULL, type TEXT NOT NULL, stage TEXT NOT NULL, step BIGINT,
          json TEXT NOT NULL, PRIMARY KEY (run_id, seq)){TableOptions};
        CREATE INDEX IF NOT EXISTS events_by_type ON events (run_id, type, seq);
        CREATE TABLE IF NOT EXISTS genotypes (
          id TEXT PRIMARY KEY, name TEXT NOT NULL, framework TEXT NOT NULL, text TEXT NOT NULL,
          source TEXT NOT NULL, run_id TEXT, created_at TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS comparisons (
          id TEXT PRIMARY KEY, name TEXT NOT NULL, plan_json TEXT NOT NULL, status TEXT NOT NULL, message TEXT,
          source_run_id TEXT, created_at TEXT NOT NULL, finished_at TEXT);
        CREATE TABLE IF NOT EXISTS comparison_children (
          comparison_id TEXT NOT NULL, role TEXT NOT NULL, arm TEXT NOT NULL, seed BIGINT NOT NULL, run_id TEXT NOT NULL,
          PRIMARY KEY (comparison_id, role, arm, seed));
        CREATE TABLE IF NOT EXISTS run_leases (
          run_id TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at BIGINT NOT NULL, renewed_at BIGINT NOT NULL);
        CREATE TABLE IF NOT EXISTS run_executions (
          run_id TEXT NOT NULL, owner TEXT NOT NULL, acquired_at BIGINT NOT NULL);
        CREATE INDEX IF NOT EXISTS run_executions_by_run ON run_executions (run_id);
        """;

    /// <summary>
    /// Creates missing tables and brings an older database up to <see cref="SchemaVersion"/>, in one
    /// transaction (on PostgreSQL under an advisory lock, so nodes starting together do not race).
    /// Version 1: events rewritten into the one JSON form of contract v1 (SQLite databases only:
    /// PostgreSQL storage is newer). Version 2: run leases and the execution log (new tables). Version 3: the
    /// notices a run was queued with (a new column).
    /// </summary>
    void EnsureSchema()
    {
        using var c = Open();
        if (Kind == DatabaseKind.Sqlite) Exec(c, "PRAGMA journal_mode = WAL;");
        using var tx = c.BeginTransaction();
        if (Kind == DatabaseKind.PostgreSql)
        {
            Exec(c, "SELECT pg_advisory_xact_lock(7461203)");
            Exec(c, "CREATE TABLE IF NOT EXISTS nasiam_schema (version BIGINT NOT NULL)");
        }
        long version = Kind == DatabaseKind.Sqlite
            ? (long)Scalar(c, "PRAGMA user_version")!
            : Scalar(c, "SELECT MAX(version) FROM nasiam_schema") is long v ? v : 0;
        bool fresh = Kind == DatabaseKind.PostgreSql && version == 0;
        Exec(c, Schema);
        if (version < 1 && !fresh) RewriteLegacyEvents(c);
        if (version < 3) AddNoticesColumn(c);
        if (version < SchemaVersion)
        {
            if (Kind == DatabaseKind.Sqlite) Exec(c, $"PRAGMA user_version = {SchemaVersion}");
            else { Exec(c, "DELETE FROM nasiam_schema"); Exec(c, "INSERT INTO nasiam_schema (version) VALUES (@v)", ("@v", (long)SchemaVersion)); }
        }
        tx.Commit();
    }

    /// <summary>Version 3: the notices a run was queued with (runs.notices_json), on a runs table created before it had the column.</summary>
    void AddNoticesColumn(DbConnection c)
    {
        if (Kind == DatabaseKind.PostgreSql) { Exec(c, "ALTER TABLE runs ADD COLUMN IF NOT EXISTS notices_json TEXT"); return; }
        if (Convert.ToInt64(Scalar(c, "SELECT COUNT(*) FROM pragma_table_info('runs') WHERE name = 'notices_json'")) == 0)
            Exec(c, "ALTER TABLE runs ADD COLUMN notices_json TEXT");
    }

    /// <summary>
    /// Version 1: events are stored in the one JSON form of contract v1 (snake_case; they were
    /// camelCase); every row is rewritten, none dropped (a row that does not read as an event stays
    /// as it was and is counted as unreadable when read).
    /// </summary>
    void RewriteLegacyEvents(DbConnection c)
    {
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
        using var update = Command(c, "UPDATE events SET json = @j WHERE run_id = @r AND seq = @s");
        var pj = AddParameter(update, "@j", null);
        var pr = AddParameter(update, "@r", null);
        var ps = AddParameter(update, "@s", 0L);
        foreach (var (run, seq, json) in rewrites)
        {
            pj.Value = json; pr.Value = run; ps.Value = seq;
            update.ExecuteNonQuery();
        }
    }

    public void Dispose() => _pg?.Dispose();

    /// <summary>Where the data lives, for logs (never the password).</summary>
    public override string ToString() => Kind == DatabaseKind.Sqlite
        ? $"SQLite {new SqliteConnectionStringBuilder(_sqlite).DataSource}"
        : $"PostgreSQL {_pg!.ConnectionString.Split(';').FirstOrDefault(p => p.StartsWith("Host", StringComparison.OrdinalIgnoreCase))}";
}

using System.Data.Common;
using NASiam.Core;
using NASiam.Core.Genotypes;
using NASiam.Core.Options;
using static NASiam.Web.Runs.Storage.RunDatabase;

namespace NASiam.Web.Runs.Storage;

/// <summary>Run records: insert, read, list, delete (status writes: <see cref="RunStatusStore"/>).</summary>
public sealed class RunRepository(RunDatabase db)
{
    public void Insert(RunRecord r) => db.Exec("""
        INSERT INTO runs (id, name, kind, framework, backbone, dataset, device, status, options_json, created_at, parent_id, notices_json)
        VALUES (@id, @name, @kind, @fw, @bb, @ds, @dev, @st, @opt, @at, @parent, @notices)
        """, ("@id", r.Id.ToString()), ("@name", r.Name), ("@kind", r.Kind.ToString()), ("@fw", r.Framework.ToString()),
        ("@bb", r.Backbone), ("@ds", r.Dataset), ("@dev", r.Device), ("@st", r.Status.ToString()), ("@opt", r.OptionsJson),
        ("@at", Iso(r.CreatedAt)), ("@parent", r.ParentId?.ToString()),
        ("@notices", r.Notices.Count == 0 ? null : System.Text.Json.JsonSerializer.Serialize(r.Notices)));

    const string RunColumns = """
        id, name, kind, framework, backbone, dataset, device, status, options_json, created_at, started_at, finished_at,
        stage, stage_started_at, stage_total, stage_done, stage_resumed_at, best_name, best_value, message, parent_id, job_id,
        cancel_requested, attempts, genotype_text, artifacts_json, metrics_json,
        (SELECT COUNT(*) FROM events e WHERE e.run_id = runs.id), notices_json
        """;

    // The run's lease expiry and the database clock, read with the run: a Running run whose lease expired has no live
    // executor (see StalledNotice).
    string Columns => $"{RunColumns}, (SELECT l.expires_at FROM run_leases l WHERE l.run_id = runs.id), {db.NowMs}";

    static RunRecord ReadRun(DbDataReader r) => new RunRecord
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
        Notices = r.IsDBNull(28) ? [] : System.Text.Json.JsonSerializer.Deserialize<string[]>(r.GetString(28)) ?? [],
    } is var run && run.Message is null && StalledNotice(run, r.IsDBNull(29) ? null : r.GetInt64(29), Convert.ToInt64(r.GetValue(30))) is { } stalled
        ? run with { Message = stalled } : run;

    /// <summary>
    /// What a Running run whose lease expired says in place of a message: its executor died, and only a worker
    /// re-queues it (its lease sweep), so the web node would show it Running forever without a word. Read-time
    /// only: nothing is written, and the next attempt's start clears the stored message as before.
    /// </summary>
    static string? StalledNotice(RunRecord run, long? leaseExpiresAtMs, long nowMs)
    {
        // 0: released (an end or an interrupt writes its status with it); no row: never leased or reclaimed.
        if (run.Status != RunStatus.Running || leaseExpiresAtMs is not > 0 || leaseExpiresAtMs >= nowMs) return null;
        var at = DateTimeOffset.FromUnixTimeMilliseconds(leaseExpiresAtMs.Value);
        return string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"Its worker stopped responding (its lease expired at {at:HH:mm:ss} UTC); a worker serving device {run.Device} resumes it from its last checkpoint when one runs.");
    }

    public RunRecord? Get(Guid id) => Query("WHERE id = @id", ("@id", id.ToString())).FirstOrDefault();

    public IReadOnlyList<RunRecord> List(Guid? parentId = null) => parentId is { } p
        ? Query("WHERE parent_id = @p ORDER BY created_at DESC", ("@p", p.ToString()))
        : Query("ORDER BY created_at DESC");

    /// <summary>Runs in one of <paramref name="statuses"/>, oldest first.</summary>
    public IReadOnlyList<RunRecord> WithStatus(params RunStatus[] statuses) =>
        Query($"WHERE status IN ({string.Join(", ", statuses.Select(s => $"'{s}'"))}) ORDER BY created_at");

    List<RunRecord> Query(string tail, params (string Name, object? Value)[] args)
    {
        using var c = db.Open();
        using var cmd = db.Command(c, $"SELECT {Columns} FROM runs {tail}", args);
        using var r = cmd.ExecuteReader();
        var list = new List<RunRecord>();
        while (r.Read()) list.Add(ReadRun(r));
        return list;
    }

    /// <summary>
    /// Removes the run, its events and its lineage links. A live lease row stays (its holder, alive or
    /// dead, may still write to the run's folder): its executor removes the folder once it stopped, or
    /// a lease sweep does once the lease expired (<see cref="RunLeases.DeletedWithExpiredLease"/>).
    /// True when such a live lease remained, so the caller leaves the folder.
    /// </summary>
    public bool Delete(Guid id)
    {
        using var c = db.Open();
        using var tx = c.BeginTransaction();
        // Its children keep a word of where they came from (their lineage no longer names it).
        var name = db.Scalar(c, "SELECT name FROM runs WHERE id = @id", ("@id", id.ToString())) as string;
        var children = new List<(string Id, string? Notices)>();
        using (var cmd = db.Command(c, "SELECT id, notices_json FROM runs WHERE parent_id = @id", ("@id", id.ToString())))
        using (var r = cmd.ExecuteReader())
            while (r.Read()) children.Add((r.GetString(0), r.IsDBNull(1) ? null : r.GetString(1)));
        foreach (var (child, json) in children)
        {
            var notices = (json is null ? null : System.Text.Json.JsonSerializer.Deserialize<List<string>>(json)) ?? [];
            // Invariant: ':' in a format string is the current culture's time separator.
            notices.Add(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"lineage: it descended from run {id} ('{name}'), deleted {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC"));
            db.Exec(c, "UPDATE runs SET notices_json = @n WHERE id = @child", ("@n", System.Text.Json.JsonSerializer.Serialize(notices)), ("@child", child));
        }
        db.Exec(c, "DELETE FROM events WHERE run_id = @id", ("@id", id.ToString()));
        db.Exec(c, $"DELETE FROM run_leases WHERE run_id = @id AND expires_at < {db.NowMs}", ("@id", id.ToString()));
        bool leased = Convert.ToInt64(db.Scalar(c, "SELECT COUNT(*) FROM run_leases WHERE run_id = @id", ("@id", id.ToString()))) > 0;
        db.Exec(c, "DELETE FROM runs WHERE id = @id", ("@id", id.ToString()));
        db.Exec(c, "UPDATE runs SET parent_id = NULL WHERE parent_id = @id", ("@id", id.ToString()));
        // A genotype the run discovered stays in the library (its text is whole), no longer pointing at a run that is gone.
        db.Exec(c, "UPDATE genotypes SET run_id = NULL WHERE run_id = @id", ("@id", id.ToString()));
        tx.Commit();
        return leased;
    }
}

/// <summary>Status columns of a run. Only the lifecycle owner, <see cref="RunLifecycle"/>, calls these (through <see cref="RunStore"/>).</summary>
public sealed class RunStatusStore(RunDatabase db, RunLeases leases)
{
    /// <summary>
    /// Records the run's new job. <paramref name="clearCancel"/>: a user's resume (or a new run) starts
    /// afresh; a recovery re-queue (lease sweep, start-up) keeps a pending cancel request, so the job it
    /// queues ends the run as Cancelled instead of training on.
    /// </summary>
    public void SetJob(Guid id, string jobId, RunStatus status, bool clearCancel = true) =>
        db.Exec($"UPDATE runs SET job_id = @job, status = @st{(clearCancel ? ", cancel_requested = 0" : "")}, message = NULL WHERE id = @id",
            ("@id", id.ToString()), ("@job", jobId), ("@st", status.ToString()));

    /// <summary>
    /// A status that does not end the run; every end goes through <see cref="Finish"/>. Marks the run Interrupted (its attempt stops with the app, or cannot start; it resumes from its last
    /// checkpoint) while its lease row is still <paramref name="leaseOwner"/>'s, expired or not. False, with
    /// nothing written, once a sweeper reclaimed the run or another attempt took its lease: that attempt's
    /// status stands (an attempt that lost the run must not overwrite its new owner's Running).
    /// </summary>
    public bool Interrupt(Guid id, string message, string leaseOwner) => db.Exec("""
        UPDATE runs SET status = 'Interrupted', message = @msg
        WHERE id = @id AND EXISTS (SELECT 1 FROM run_leases l WHERE l.run_id = @id AND l.owner = @o)
        """, ("@id", id.ToString()), ("@msg", message), ("@o", leaseOwner)) == 1;

    public void MarkStarted(Guid id) => db.Exec("""
        UPDATE runs SET status = 'Running', attempts = attempts + 1, message = NULL, finished_at = NULL,
          started_at = COALESCE(started_at, @now) WHERE id = @id
        """, ("@id", id.ToString()), ("@now", Iso(DateTimeOffset.UtcNow)));

    public void RequestCancel(Guid id) => db.Exec("UPDATE runs SET cancel_requested = 1 WHERE id = @id", ("@id", id.ToString()));

    /// <summary>True when a cancel was requested for the run (read by the executing node's lease heartbeat).</summary>
    public bool CancelRequested(Guid id) => CancelState(id) == true;

    /// <summary>Whether a cancel was requested for the run; null when the run was deleted (the heartbeat stops its engine for both).</summary>
    public bool? CancelState(Guid id)
    {
        using var c = db.Open();
        return db.Scalar(c, "SELECT cancel_requested FROM runs WHERE id = @id", ("@id", id.ToString())) is { } v and not DBNull
            ? Convert.ToInt64(v) != 0 : null;
    }

    /// <summary>
    /// Ends the run: status, message, finish time, and the engine's output where given (null keeps what is
    /// stored). With <paramref name="leaseOwner"/> that owner's lease is given back in the same
    /// transaction, so no reader ever sees the run ended while its executor still holds it (a Resume at
    /// that moment would be refused, or its job would find the lease taken and skip the run); and the end
    /// is written only while the lease is still that owner's. False, with nothing written, when another
    /// owner has taken the lease meanwhile (this executor stalled past its expiry; the new owner continues).
    /// A <paramref name="discovered"/> library entry is stored in the same transaction: whoever reads the
    /// run as Succeeded finds its genotype in the library, and a lost lease stores neither. Its name is a stem:
    /// it is stored under the first of "stem", "stem #2", … that no entry or preset holds (<see cref="GenotypeStore.InsertNamed"/>).
    /// </summary>
    public bool Finish(Guid id, RunStatus status, string? message, string? genotypeText, string? artifactsJson, string? metricsJson,
        string? leaseOwner = null, GenotypeEntry? discovered = null)
    {
        using var c = db.Open();
        using var tx = c.BeginTransaction();
        if (leaseOwner is not null && leases.Release(c, id, leaseOwner) == 0)
        {
            tx.Rollback();
            return false;
        }
        db.Exec(c, """
            UPDATE runs SET status = @st, message = @msg, finished_at = @now,
              genotype_text = COALESCE(@g, genotype_text), artifacts_json = COALESCE(@a, artifacts_json),
              metrics_json = COALESCE(@m, metrics_json) WHERE id = @id
            """, ("@id", id.ToString()), ("@st", status.ToString()), ("@msg", message), ("@now", Iso(DateTimeOffset.UtcNow)),
            ("@g", genotypeText), ("@a", artifactsJson), ("@m", metricsJson));
        if (discovered is not null)
            GenotypeStore.InsertNamed(db, c, held => discovered with { Name = GenotypeStore.UniqueName(discovered.Name, GenotypeStore.TakenNames(held)) });
        tx.Commit();
        return true;
    }
}

/// <summary>The genotype library: presets the user saved and genotypes runs discovered.</summary>
public sealed class GenotypeStore(RunDatabase db)
{
    // Any constant: the advisory lock that serialises name checks with their inserts on PostgreSQL.
    const long NameLockKey = 7461204;

    public void Add(GenotypeEntry g)
    {
        using var c = db.Open();
        Insert(db, c, g);
    }

    /// <summary>
    /// Stores the entry <paramref name="decide"/> makes from the entries the library holds, or nothing when it
    /// returns no entry; returns what it returned. The read and the insert are one transaction that excludes every
    /// other named insert (SQLite: an immediate, i.e. write-locked, transaction; PostgreSQL: an advisory lock), so two
    /// imports of one name at once, from one node or several, cannot both find it free.
    /// </summary>
    public (GenotypeEntry? Entry, T Outcome) AddNamed<T>(Func<IReadOnlyList<GenotypeEntry>, (GenotypeEntry? Entry, T Outcome)> decide)
    {
        using var c = db.Open();
        using var tx = c.BeginTransaction();
        (GenotypeEntry? Entry, T Outcome) result = default;
        InsertNamed(db, c, held => (result = decide(held)).Entry);
        tx.Commit();
        return result;
    }

    /// <summary>
    /// Inside its caller's transaction: takes the name lock, reads the entries held and stores what
    /// <paramref name="make"/> makes of them (nothing for null). See <see cref="AddNamed{T}"/>.
    /// </summary>
    internal static GenotypeEntry? InsertNamed(RunDatabase db, DbConnection c, Func<IReadOnlyList<GenotypeEntry>, GenotypeEntry?> make)
    {
        // SQLite's transactions here begin IMMEDIATE (Microsoft.Data.Sqlite's default): they already hold the write lock.
        if (db.Kind == DatabaseKind.PostgreSql) db.Exec(c, $"SELECT pg_advisory_xact_lock({NameLockKey})");
        var entry = make(Read(db, c, "ORDER BY created_at DESC"));
        if (entry is not null) Insert(db, c, entry);
        return entry;
    }

    /// <summary>The names an entry may not take: the library's and the published presets' (a preset's name is its id).</summary>
    public static IEnumerable<string> TakenNames(IEnumerable<GenotypeEntry> held) =>
        GenotypePresets.All.Select(p => p.Name).Concat(held.Select(e => e.Name));

    /// <summary><paramref name="stem"/>, or "stem #2", "#3"… the first no entry of <paramref name="taken"/> has (compared case-insensitively).</summary>
    public static string UniqueName(string stem, IEnumerable<string> taken)
    {
        var set = taken.ToHashSet(StringComparer.OrdinalIgnoreCase);
        var name = stem;
        for (int n = 2; set.Contains(name); n++) name = $"{stem} #{n}";
        return name;
    }

    /// <summary>Stores (or replaces) an entry on an open connection, inside its caller's transaction.</summary>
    internal static void Insert(RunDatabase db, DbConnection c, GenotypeEntry g) => db.Exec(c, """
        INSERT INTO genotypes (id, name, framework, text, source, run_id, created_at) VALUES (@id, @n, @f, @t, @s, @r, @at)
        ON CONFLICT (id) DO UPDATE SET name = excluded.name, framework = excluded.framework, text = excluded.text,
          source = excluded.source, run_id = excluded.run_id, created_at = excluded.created_at
        """, ("@id", g.Id.ToString()), ("@n", g.Name), ("@f", g.Framework.ToString()), ("@t", g.Text), ("@s", g.Source),
        ("@r", g.RunId?.ToString()), ("@at", Iso(g.CreatedAt)));

    public IReadOnlyList<GenotypeEntry> List() => Query("ORDER BY created_at DESC");

    /// <summary>Removes an entry; false when there was none. Runs keep their genotype's text, so none depends on it.</summary>
    public bool Delete(Guid id) => db.Exec("DELETE FROM genotypes WHERE id = @id", ("@id", id.ToString())) > 0;

    public GenotypeEntry? Get(Guid id) => Query("WHERE id = @id", ("@id", id.ToString())).FirstOrDefault();

    List<GenotypeEntry> Query(string tail, params (string Name, object? Value)[] args)
    {
        using var c = db.Open();
        return Read(db, c, tail, args);
    }

    static List<GenotypeEntry> Read(RunDatabase db, DbConnection c, string tail, params (string Name, object? Value)[] args)
    {
        using var cmd = db.Command(c, $"SELECT id, name, framework, text, source, run_id, created_at FROM genotypes {tail}", args);
        using var r = cmd.ExecuteReader();
        var list = new List<GenotypeEntry>();
        while (r.Read())
            list.Add(new GenotypeEntry(Guid.Parse(r.GetString(0)), r.GetString(1), Enum.Parse<Framework>(r.GetString(2)), r.GetString(3),
                r.GetString(4), r.IsDBNull(5) ? null : Guid.Parse(r.GetString(5)), ReadTime(r, 6)!.Value));
        return list;
    }
}

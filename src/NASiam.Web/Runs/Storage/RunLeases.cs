using System.Data.Common;

namespace NASiam.Web.Runs.Storage;

/// <summary>A run's lease as stored: who holds it and until when (database clock, Unix ms).</summary>
public sealed record RunLease(Guid RunId, string Owner, long ExpiresAtMs, bool Live);

/// <summary>
/// Who may execute a run: a row per run (owner, expiry on the database clock) that a worker takes
/// atomically before it executes the run, renews while it runs (heartbeat) and releases at the end.
/// This, not Hangfire, makes a run execute at most once at a time across every node: a job fetched
/// twice (Hangfire's invisibility timeout, a re-queue) finds the run leased by a live owner and does
/// nothing. When an owner dies its lease expires; <see cref="TryReclaim"/> lets exactly one sweeper
/// hand the run back to the queue. Every acquisition is logged in run_executions (who executed what).
/// </summary>
public sealed class RunLeases(RunDatabase db)
{
    /// <summary>
    /// Takes the run's lease for <paramref name="owner"/> for <paramref name="ttl"/> when it is free
    /// or expired. False when a live lease exists (another owner's, or this owner's: a second job
    /// for a run this process already executes does not execute it again). One statement
    /// (INSERT … ON CONFLICT DO UPDATE … WHERE), so two nodes racing for the same run cannot both win.
    /// <paramref name="recordExecution"/>: log the acquisition in run_executions (runs; false for
    /// other keys leased with the same table, such as a comparison being advanced).
    /// </summary>
    public bool TryAcquire(Guid runId, string owner, TimeSpan ttl, bool recordExecution = true)
    {
        using var c = db.Open();
        using var tx = c.BeginTransaction();
        int n = db.Exec(c, $"""
            INSERT INTO run_leases (run_id, owner, expires_at, renewed_at) VALUES (@r, @o, {db.NowMs} + @ttl, {db.NowMs})
            ON CONFLICT (run_id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at, renewed_at = excluded.renewed_at
            WHERE run_leases.expires_at < {db.NowMs}
            """, ("@r", runId.ToString()), ("@o", owner), ("@ttl", (long)ttl.TotalMilliseconds));
        if (n == 1 && recordExecution)
            db.Exec(c, $"INSERT INTO run_executions (run_id, owner, acquired_at) VALUES (@r, @o, {db.NowMs})", ("@r", runId.ToString()), ("@o", owner));
        tx.Commit();
        return n == 1;
    }

    /// <summary>Extends the owner's lease; false when it is no longer this owner's (it expired and another took it).</summary>
    public bool Renew(Guid runId, string owner, TimeSpan ttl) => db.Exec($"""
        UPDATE run_leases SET expires_at = {db.NowMs} + @ttl, renewed_at = {db.NowMs}
        WHERE run_id = @r AND owner = @o AND expires_at >= {db.NowMs}
        """, ("@r", runId.ToString()), ("@o", owner), ("@ttl", (long)ttl.TotalMilliseconds)) == 1;

    /// <summary>Ends the owner's lease (the row stays, expired, naming the last owner).</summary>
    public void Release(Guid runId, string owner)
    {
        using var c = db.Open();
        Release(c, runId, owner);
    }

    /// <summary><see cref="Release(Guid, string)"/> on an open connection, inside the caller's transaction (a run's end and its lease's, <see cref="RunStatusStore.Finish"/>); 1 when the lease was this owner's, else 0.</summary>
    internal int Release(DbConnection c, Guid runId, string owner) =>
        db.Exec(c, "UPDATE run_leases SET expires_at = 0 WHERE run_id = @r AND owner = @o", ("@r", runId.ToString()), ("@o", owner));

    /// <summary>The run's lease, or null when it never had one.</summary>
    public RunLease? Get(Guid runId)
    {
        using var c = db.Open();
        using var cmd = db.Command(c, $"SELECT owner, expires_at, CASE WHEN expires_at >= {db.NowMs} THEN 1 ELSE 0 END FROM run_leases WHERE run_id = @r",
            ("@r", runId.ToString()));
        using var r = cmd.ExecuteReader();
        return r.Read() ? new RunLease(runId, r.GetString(0), r.GetInt64(1), Convert.ToInt64(r.GetValue(2)) == 1) : null;
    }

    /// <summary>True when someone other than <paramref name="owner"/> (or anyone, when null) holds a live lease on the run.</summary>
    public bool HeldByOther(Guid runId, string? owner = null) => Get(runId) is { Live: true } l && l.Owner != owner;

    /// <summary>Runs marked Running whose lease is missing or expired: their executor died.</summary>
    public IReadOnlyList<Guid> Orphans()
    {
        using var c = db.Open();
        using var cmd = db.Command(c, $"""
            SELECT r.id FROM runs r LEFT JOIN run_leases l ON l.run_id = r.id
            WHERE r.status = 'Running' AND (l.run_id IS NULL OR l.expires_at < {db.NowMs})
            """);
        using var reader = cmd.ExecuteReader();
        var list = new List<Guid>();
        while (reader.Read()) list.Add(Guid.Parse(reader.GetString(0)));
        return list;
    }

    /// <summary>
    /// Claims an orphan for re-queueing: in one transaction, drops its expired lease and moves the
    /// run from Running to Interrupted only if no live lease exists. True for exactly one caller
    /// when several sweepers race (the row locks serialise them; the loser sees the new status).
    /// </summary>
    public bool TryReclaim(Guid runId, string message)
    {
        using var c = db.Open();
        using var tx = c.BeginTransaction();
        db.Exec(c, $"DELETE FROM run_leases WHERE run_id = @r AND expires_at < {db.NowMs}", ("@r", runId.ToString()));
        int n = db.Exec(c, """
            UPDATE runs SET status = 'Interrupted', message = @m
            WHERE id = @r AND status = 'Running' AND NOT EXISTS (SELECT 1 FROM run_leases l WHERE l.run_id = @r)
            """, ("@r", runId.ToString()), ("@m", message));
        tx.Commit();
        return n == 1;
    }

    /// <summary>
    /// Runs deleted while a lease on them was live (<see cref="RunRepository.Delete"/> keeps that row) whose
    /// lease has expired since: their executor stopped without removing the run's folder (it died), so a
    /// sweeper removes it. Keys of comparisons (leased with this table too) are not runs' and are left alone.
    /// </summary>
    public IReadOnlyList<Guid> DeletedWithExpiredLease()
    {
        using var c = db.Open();
        using var cmd = db.Command(c, $"""
            SELECT l.run_id FROM run_leases l
            WHERE l.expires_at < {db.NowMs} AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = l.run_id)
              AND NOT EXISTS (SELECT 1 FROM comparisons k WHERE k.id = l.run_id)
            """);
        using var reader = cmd.ExecuteReader();
        var list = new List<Guid>();
        while (reader.Read()) if (Guid.TryParse(reader.GetString(0), out var id)) list.Add(id);
        return list;
    }

    /// <summary>
    /// Drops the expired lease row of a deleted run (<see cref="DeletedWithExpiredLease"/>); true for exactly
    /// one caller, which then removes the run's folder. False once the row is gone or live again.
    /// </summary>
    public bool TryForgetDeleted(Guid runId) => db.Exec($"""
        DELETE FROM run_leases WHERE run_id = @r AND expires_at < {db.NowMs} AND NOT EXISTS (SELECT 1 FROM runs WHERE id = @r)
        """, ("@r", runId.ToString())) == 1;

    /// <summary>Drops <paramref name="owner"/>'s lease row of a run that was deleted while it executed (its folder is removed by that executor).</summary>
    public void Forget(Guid runId, string owner) =>
        db.Exec("DELETE FROM run_leases WHERE run_id = @r AND owner = @o", ("@r", runId.ToString()), ("@o", owner));

    /// <summary>Who acquired the run's lease, in order (one row per execution attempt).</summary>
    public IReadOnlyList<(string Owner, long AcquiredAtMs)> Executions(Guid runId)
    {
        using var c = db.Open();
        using var cmd = db.Command(c, "SELECT owner, acquired_at FROM run_executions WHERE run_id = @r ORDER BY acquired_at", ("@r", runId.ToString()));
        using var r = cmd.ExecuteReader();
        var list = new List<(string, long)>();
        while (r.Read()) list.Add((r.GetString(0), r.GetInt64(1)));
        return list;
    }
}

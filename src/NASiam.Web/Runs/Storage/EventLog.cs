using System.Data.Common;
using System.Text.Json;
using NASiam.Core.Reporting;
using static NASiam.Web.Runs.Storage.RunDatabase;

namespace NASiam.Web.Runs.Storage;

/// <summary>
/// Every engine event of every run, keyed by (run, sequence) and inserted with ON CONFLICT DO
/// NOTHING, so a replayed or resumed run, or a second node storing the same batch, never stores a
/// point twice; plus the projection of events onto the run row (progress, best metric, genotype).
/// </summary>
public sealed class EventLog(RunDatabase db)
{
    /// <summary>Event types that are never thinned out: they are few and each one matters.</summary>
    static readonly HashSet<string> KeepAll = ["run_started", "stage_started", "stage_finished", "checkpoint", "genotype", "warning"];

    /// <summary>
    /// Stores a batch of one run's events (duplicates by sequence are ignored) and updates the run's
    /// progress, best metric and genotype from them, in one transaction. Returns how many were new.
    /// A run_started drops what an earlier attempt stored from its sequence on (the attempt replays it).
    /// </summary>
    public int Append(Guid runId, IReadOnlyList<TrainingEvent> events)
    {
        if (events.Count == 0) return 0;
        using var c = db.Open();
        using var tx = c.BeginTransaction();
        int added = 0;
        using (var insert = db.Command(c, """
                   INSERT INTO events (run_id, seq, type, stage, step, json) VALUES (@r, @s, @t, @st, @step, @j)
                   ON CONFLICT (run_id, seq) DO NOTHING
                   """))
        {
            AddParameter(insert, "@r", runId.ToString());
            var ps = AddParameter(insert, "@s", 0L);
            var pt = AddParameter(insert, "@t", "");
            var pst = AddParameter(insert, "@st", "");
            var pstep = AddParameter(insert, "@step", 0L);
            var pj = AddParameter(insert, "@j", "");
            foreach (var e in events)
            {
                if (e is RunStarted)
                    db.Exec(c, "DELETE FROM events WHERE run_id = @r AND seq >= @s", ("@r", runId.ToString()), ("@s", e.Sequence));
                ps.Value = e.Sequence; pt.Value = e.Type; pst.Value = e.Stage;
                pstep.Value = (object?)e.StepOrNull ?? DBNull.Value;
                pj.Value = TrainingEventJson.Serialize(e);
                added += insert.ExecuteNonQuery();
            }
        }
        foreach (var e in events) ApplyToRecord(c, runId, e);
        tx.Commit();
        return added;
    }

    void ApplyToRecord(DbConnection c, Guid runId, TrainingEvent e)
    {
        var id = ("@id", (object?)runId.ToString());
        switch (e)
        {
            case StageStarted s:
                db.Exec(c, "UPDATE runs SET stage = @st, stage_started_at = @now, stage_total = @tot, stage_done = @res, stage_resumed_at = @res WHERE id = @id",
                    id, ("@st", s.Stage), ("@now", Iso(DateTimeOffset.UtcNow)), ("@tot", (long)s.TotalSteps), ("@res", (long)s.ResumedAtStep));
                break;
            case StepLogged s:
                db.Exec(c, $"UPDATE runs SET stage_done = {db.Greatest("stage_done", "@step")} WHERE id = @id", id, ("@step", (long)s.Step));
                break;
            case AlphasLogged a:
                db.Exec(c, "UPDATE runs SET genotype_text = @g WHERE id = @id", id, ("@g", a.GenotypeText));
                break;
            case GenotypeDerived g:
                db.Exec(c, "UPDATE runs SET genotype_text = @g WHERE id = @id", id, ("@g", g.GenotypeText));
                break;
            case KnnLogged k:
                // kNN is the best number until a linear evaluation exists.
                db.Exec(c, """
                    UPDATE runs SET best_name = 'knn top-1', best_value = @v
                    WHERE id = @id AND (best_name IS NULL OR (best_name = 'knn top-1' AND best_value < @v))
                    """, id, ("@v", k.Top1));
                break;
            case LinearEvalLogged l:
                db.Exec(c, """
                    UPDATE runs SET best_name = 'linear top-1', best_value = @v
                    WHERE id = @id AND (best_name IS NULL OR best_name <> 'linear top-1' OR best_value < @v)
                    """, id, ("@v", l.Top1));
                break;
        }
    }

    /// <summary>The sequence number after the last stored event (0 when none).</summary>
    public long NextSequence(Guid runId)
    {
        using var c = db.Open();
        return Convert.ToInt64(db.Scalar(c, "SELECT COALESCE(MAX(seq) + 1, 0) FROM events WHERE run_id = @r", ("@r", runId.ToString())));
    }

    /// <summary>
    /// Every stored event after <paramref name="afterSequence"/> in sequence order, one at a time
    /// (a page folds them without holding them all). Rows that do not read as an event are
    /// counted in the return value, not dropped silently.
    /// </summary>
    public int ReadEach(Guid runId, long afterSequence, Action<TrainingEvent> each)
    {
        using var c = db.Open();
        using var cmd = db.Command(c, "SELECT json FROM events WHERE run_id = @r AND seq > @a ORDER BY seq", ("@r", runId.ToString()), ("@a", afterSequence));
        using var r = cmd.ExecuteReader();
        int unreadable = 0;
        while (r.Read())
        {
            TrainingEvent e;
            try { e = TrainingEventJson.Deserialize(r.GetString(0)); }
            catch (JsonException) { unreadable++; continue; }
            each(e);
        }
        return unreadable;
    }

    /// <summary>The newest stored event of a type (of one stage when given), or null when there is none or it does not read as an event.</summary>
    public TrainingEvent? Latest(Guid runId, string type, string? stage = null)
    {
        using var c = db.Open();
        var json = stage is null
            ? db.Scalar(c, "SELECT json FROM events WHERE run_id = @r AND type = @t ORDER BY seq DESC LIMIT 1", ("@r", runId.ToString()), ("@t", type))
            : db.Scalar(c, "SELECT json FROM events WHERE run_id = @r AND type = @t AND stage = @s ORDER BY seq DESC LIMIT 1",
                ("@r", runId.ToString()), ("@t", type), ("@s", stage));
        if (json is not string text) return null;
        try { return TrainingEventJson.Deserialize(text); }
        catch (JsonException) { return null; }
    }

    /// <summary>
    /// Events after <paramref name="afterSequence"/>, optionally of some types only. Each type's
    /// series is thinned to at most <paramref name="maxPerType"/> points by even striding (first and
    /// last kept); lifecycle events are always complete and logs keep their newest entries.
    /// </summary>
    public EventPage Read(Guid runId, long afterSequence = -1, IReadOnlyCollection<string>? types = null, int maxPerType = int.MaxValue)
    {
        using var c = db.Open();
        var counts = new Dictionary<string, long>();
        using (var cmd = db.Command(c, "SELECT type, COUNT(*) FROM events WHERE run_id = @r AND seq > @a GROUP BY type",
                   ("@r", runId.ToString()), ("@a", afterSequence)))
        using (var r = cmd.ExecuteReader())
            while (r.Read()) counts[r.GetString(0)] = r.GetInt64(1);

        long last = Convert.ToInt64(db.Scalar(c, "SELECT COALESCE(MAX(seq), -1) FROM events WHERE run_id = @r", ("@r", runId.ToString())));

        var rows = new List<(long Seq, string Json)>();
        bool thinned = false;
        foreach (var (type, count) in counts)
        {
            if (types is { Count: > 0 } && !types.Contains(type)) continue;
            string sql;
            long stride = 1;
            if (count <= maxPerType || KeepAll.Contains(type))
                sql = "SELECT seq, json FROM events WHERE run_id = @r AND type = @t AND seq > @a";
            else if (type == "log")
                sql = $"SELECT seq, json FROM (SELECT seq, json FROM events WHERE run_id = @r AND type = @t AND seq > @a ORDER BY seq DESC LIMIT {maxPerType}) AS newest";
            else
            {
                stride = (count + maxPerType - 1) / maxPerType;
                sql = """
                    SELECT seq, json FROM (
                      SELECT seq, json, ROW_NUMBER() OVER (ORDER BY seq) - 1 AS rn, COUNT(*) OVER () AS n
                      FROM events WHERE run_id = @r AND type = @t AND seq > @a) AS numbered
                    WHERE rn % @k = 0 OR rn = n - 1
                    """;
            }
            thinned |= count > maxPerType && !KeepAll.Contains(type);
            using var cmd = db.Command(c, sql, ("@r", runId.ToString()), ("@t", type), ("@a", afterSequence), ("@k", stride));
            using var r = cmd.ExecuteReader();
            while (r.Read()) rows.Add((r.GetInt64(0), r.GetString(1)));
        }
        var events = new List<TrainingEvent>(rows.Count);
        int unreadable = 0;
        foreach (var (_, json) in rows.OrderBy(x => x.Seq))
        {
            try { events.Add(TrainingEventJson.Deserialize(json)); }
            catch (JsonException) { unreadable++; }
        }
        var started = db.Scalar(c, "SELECT json FROM events WHERE run_id = @r AND type = 'run_started' ORDER BY seq DESC LIMIT 1", ("@r", runId.ToString())) as string;
        RunStarted? attempt = null;
        if (started is not null)
        {
            try { attempt = TrainingEventJson.Deserialize(started) as RunStarted; }
            catch (JsonException) { unreadable++; }
        }
        return new EventPage(runId, last, thinned, events) { Unreadable = unreadable, AttemptStarted = attempt };
    }
}

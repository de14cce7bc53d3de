using System.Text.Json;
using Microsoft.Data.Sqlite;
using NASiam.Core;
using NASiam.Core.Engine.Checkpoints;
using NASiam.Core.Reporting;

namespace NASiam.Web.Runs;

/// <summary>Stored events of a run: what a chart or a late subscriber starts from.</summary>
public sealed record EventPage(Guid RunId, long LastSequence, bool Downsampled, IReadOnlyList<TrainingEvent> Events);

public sealed partial class RunStore
{
    /// <summary>Event types that are never thinned out: they are few and each one matters.</summary>
    static readonly HashSet<string> KeepAll = ["stage_started", "stage_finished", "checkpoint", "genotype", "warning"];

    /// <summary>
    /// Stores a batch of one run's events (duplicates by sequence are ignored) and updates the run's
    /// progress, best metric and genotype from them, in one transaction. Returns how many were new.
    /// </summary>
    public int Append(Guid runId, IReadOnlyList<TrainingEvent> events)
    {
        if (events.Count == 0) return 0;
        using var c = Open();
        using var tx = c.BeginTransaction();
        int added = 0;
        using (var insert = Command(c, "INSERT OR IGNORE INTO events (run_id, seq, type, stage, step, json) VALUES ($r, $s, $t, $st, $step, $j)"))
        {
            var pr = insert.Parameters.AddWithValue("$r", runId.ToString());
            var ps = insert.Parameters.Add("$s", SqliteType.Integer);
            var pt = insert.Parameters.Add("$t", SqliteType.Text);
            var pst = insert.Parameters.Add("$st", SqliteType.Text);
            var pstep = insert.Parameters.Add("$step", SqliteType.Integer);
            var pj = insert.Parameters.Add("$j", SqliteType.Text);
            foreach (var e in events)
            {
                ps.Value = e.Sequence; pt.Value = e.Type; pst.Value = e.Stage;
                pstep.Value = (object?)EventWireJson.StepOf(e) ?? DBNull.Value;
                pj.Value = EventWireJson.Serialize(e);
                added += insert.ExecuteNonQuery();
            }
        }
        foreach (var e in events) ApplyToRecord(c, runId, e);
        tx.Commit();
        return added;
    }

    static void ApplyToRecord(SqliteConnection c, Guid runId, TrainingEvent e)
    {
        var id = ("$id", (object?)runId.ToString());
        switch (e)
        {
            case StageStarted s:
                Exec(c, "UPDATE runs SET stage = $st, stage_started_at = $now, stage_total = $tot, stage_done = $res, stage_resumed_at = $res WHERE id = $id",
                    id, ("$st", s.Stage), ("$now", Iso(DateTimeOffset.UtcNow)), ("$tot", s.TotalSteps), ("$res", s.ResumedAtStep));
                break;
            case StepLogged s:
                Exec(c, "UPDATE runs SET stage_done = MAX(stage_done, $step) WHERE id = $id", id, ("$step", s.Step));
                break;
            case AlphasLogged a:
                Exec(c, "UPDATE runs SET genotype_text = $g WHERE id = $id", id, ("$g", a.GenotypeText));
                break;
            case GenotypeDerived g:
                Exec(c, "UPDATE runs SET genotype_text = $g WHERE id = $id", id, ("$g", g.GenotypeText));
                break;
            case KnnLogged k:
                // kNN is the best number until a linear evaluation exists.
                Exec(c, """
                    UPDATE runs SET best_name = 'knn top-1', best_value = $v
                    WHERE id = $id AND (best_name IS NULL OR (best_name = 'knn top-1' AND best_value < $v))
                    """, id, ("$v", k.Top1));
                break;
            case LinearEvalLogged l:
                Exec(c, """
                    UPDATE runs SET best_name = 'linear top-1', best_value = $v
                    WHERE id = $id AND (best_name IS NULL OR best_name <> 'linear top-1' OR best_value < $v)
                    """, id, ("$v", l.Top1));
                break;
        }
    }

    /// <summary>The sequence number after the last stored event (0 when none).</summary>
    public long NextSequence(Guid runId)
    {
        using var c = Open();
        using var cmd = Command(c, "SELECT COALESCE(MAX(seq) + 1, 0) FROM events WHERE run_id = $r", ("$r", runId.ToString()));
        return (long)cmd.ExecuteScalar()!;
    }

    /// <summary>
    /// Before a resume: finds the newest checkpoint the engine will resume from, drops the stored
    /// events after it (the engine replays them from that checkpoint with the same numbering) and
    /// returns the first sequence number the engine should use (RunContext.FirstSequence). Without
    /// a checkpoint every event is dropped and numbering starts again at 0 (a fresh start).
    /// The newest checkpoint is the later of the newest stored checkpoint event whose file exists
    /// and the checkpoint files themselves: a crash right after a save can lose the checkpoint
    /// event (it was still queued for storage) while the file was written, and the engine then
    /// continues from the file's own NextSequence; numbering from the stored event would drop
    /// stored points the engine never replays.
    /// </summary>
    public long PrepareResume(Guid runId, string runDirectory)
    {
        using var c = Open();
        using var tx = c.BeginTransaction();
        long keepThrough = -1;
        using (var cmd = Command(c, "SELECT seq, json FROM events WHERE run_id = $r AND type = 'checkpoint' ORDER BY seq DESC", ("$r", runId.ToString())))
        using (var r = cmd.ExecuteReader())
        {
            while (r.Read())
            {
                if (EventWireJson.Deserialize(r.GetString(1)) is not CheckpointSaved cp) continue;
                var path = Path.IsPathRooted(cp.Path) ? cp.Path : Path.Combine(runDirectory, cp.Path);
                if (File.Exists(path)) { keepThrough = r.GetInt64(0); break; }
            }
        }
        keepThrough = Math.Max(keepThrough, NewestCheckpointFileSequence(runDirectory));
        Exec(c, "DELETE FROM events WHERE run_id = $r AND seq > $s", ("$r", runId.ToString()), ("$s", keepThrough));
        tx.Commit();
        return keepThrough + 1;
    }

    /// <summary>
    /// The sequence number of the checkpoint event of the newest engine checkpoint file in
    /// checkpoints/ (its stored NextSequence − 1), or −1 when there is none. Files that are not
    /// readable engine checkpoints are ignored here; the engine reports them when it resumes.
    /// </summary>
    static long NewestCheckpointFileSequence(string runDirectory)
    {
        var dir = Path.Combine(runDirectory, "checkpoints");
        if (!Directory.Exists(dir)) return -1;
        long newest = -1;
        foreach (var file in Directory.EnumerateFiles(dir, "*.ckpt"))
        {
            try { newest = Math.Max(newest, CheckpointStore.ReadState(file).NextSequence - 1); }
            catch (Exception e) when (e is InvalidDataException or IOException or JsonException or UnauthorizedAccessException) { }
        }
        return newest;
    }

    /// <summary>
    /// Events after <paramref name="afterSequence"/>, optionally of some types only. Each type's
    /// series is thinned to at most <paramref name="maxPerType"/> points by even striding (first and
    /// last kept); lifecycle events are always complete and logs keep their newest entries.
    /// </summary>
    public EventPage Read(Guid runId, long afterSequence = -1, IReadOnlyCollection<string>? types = null, int maxPerType = int.MaxValue)
    {
        using var c = Open();
        var counts = new Dictionary<string, long>();
        using (var cmd = Command(c, "SELECT type, COUNT(*) FROM events WHERE run_id = $r AND seq > $a GROUP BY type",
                   ("$r", runId.ToString()), ("$a", afterSequence)))
        using (var r = cmd.ExecuteReader())
            while (r.Read()) counts[r.GetString(0)] = r.GetInt64(1);

        long last;
        using (var cmd = Command(c, "SELECT COALESCE(MAX(seq), -1) FROM events WHERE run_id = $r", ("$r", runId.ToString())))
            last = (long)cmd.ExecuteScalar()!;

        var rows = new List<(long Seq, string Json)>();
        bool thinned = false;
        foreach (var (type, count) in counts)
        {
            if (types is { Count: > 0 } && !types.Contains(type)) continue;
            string sql;
            long stride = 1;
            if (count <= maxPerType || KeepAll.Contains(type))
                sql = "SELECT seq, json FROM events WHERE run_id = $r AND type = $t AND seq > $a";
            else if (type == "log")
                sql = $"SELECT seq, json FROM (SELECT seq, json FROM events WHERE run_id = $r AND type = $t AND seq > $a ORDER BY seq DESC LIMIT {maxPerType})";
            else
            {
                stride = (count + maxPerType - 1) / maxPerType;
                sql = """
                    SELECT seq, json FROM (
                      SELECT seq, json, ROW_NUMBER() OVER (ORDER BY seq) - 1 AS rn, COUNT(*) OVER () AS n
                      FROM events WHERE run_id = $r AND type = $t AND seq > $a)
                    WHERE rn % $k = 0 OR rn = n - 1
                    """;
            }
            thinned |= count > maxPerType && !KeepAll.Contains(type);
            using var cmd = Command(c, sql, ("$r", runId.ToString()), ("$t", type), ("$a", afterSequence), ("$k", stride));
            using var r = cmd.ExecuteReader();
            while (r.Read()) rows.Add((r.GetInt64(0), r.GetString(1)));
        }
        var events = rows.OrderBy(x => x.Seq).Select(x => EventWireJson.Deserialize(x.Json)).OfType<TrainingEvent>().ToList();
        return new EventPage(runId, last, thinned, events);
    }

    // ---- genotype library --------------------------------------------------------------------

    public void AddGenotype(GenotypeEntry g)
    {
        using var c = Open();
        Exec(c, "INSERT OR REPLACE INTO genotypes (id, name, framework, text, source, run_id, created_at) VALUES ($id, $n, $f, $t, $s, $r, $at)",
            ("$id", g.Id.ToString()), ("$n", g.Name), ("$f", g.Framework.ToString()), ("$t", g.Text), ("$s", g.Source),
            ("$r", g.RunId?.ToString()), ("$at", Iso(g.CreatedAt)));
    }

    public IReadOnlyList<GenotypeEntry> Genotypes()
    {
        using var c = Open();
        using var cmd = Command(c, "SELECT id, name, framework, text, source, run_id, created_at FROM genotypes ORDER BY created_at DESC");
        using var r = cmd.ExecuteReader();
        var list = new List<GenotypeEntry>();
        while (r.Read())
            list.Add(new GenotypeEntry(Guid.Parse(r.GetString(0)), r.GetString(1), Enum.Parse<Framework>(r.GetString(2)), r.GetString(3),
                r.GetString(4), r.IsDBNull(5) ? null : Guid.Parse(r.GetString(5)), ReadTime(r, 6)!.Value));
        return list;
    }

    public void DeleteGenotype(Guid id)
    {
        using var c = Open();
        Exec(c, "DELETE FROM genotypes WHERE id = $id", ("$id", id.ToString()));
    }

    internal static string? ToJson<T>(T? value) where T : class => value is null ? null : JsonSerializer.Serialize(value);
}

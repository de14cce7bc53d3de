using Microsoft.Data.Sqlite;
using NASiam.Core;
using NASiam.Core.Options;

namespace NASiam.Web.Runs;

/// <summary>Run records: insert, read, list, delete (status writes: RunStore.Status.cs).</summary>
public sealed partial class RunStore
{
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

using NASiam.Core.Reporting;
using NASiam.Web.Runs;

namespace NASiam.Web.Tests.Runs;

public class RunStoreTests : IDisposable
{
    readonly string _data = Directory.CreateTempSubdirectory("nasiam-store-").FullName;
    readonly Guid _run = Guid.NewGuid();

    string RunDirectory => Path.Combine(_data, "run");

    RunStore StoreWithSteps(int count, params long[] checkpointSequences)
    {
        var store = new RunStore(Path.Combine(_data, "runs.db"));
        var events = new List<TrainingEvent>();
        for (long seq = 0; seq < count; seq++)
            events.Add(checkpointSequences.Contains(seq)
                ? new CheckpointSaved { RunId = _run, Sequence = seq, At = DateTimeOffset.UtcNow, Stage = "search", Name = "search", Path = "checkpoints/search.ckpt", Epoch = 1, Step = seq }
                : new StepLogged { RunId = _run, Sequence = seq, At = DateTimeOffset.UtcNow, Stage = "search", Epoch = 0, Step = seq, Loss = -0.5, LearningRates = new Dictionary<string, double>() });
        store.Append(_run, events);
        return store;
    }

    [Fact]
    public void Append_RunStarted_DropsWhatAnEarlierAttemptStoredFromItsSequence()
    {
        var store = StoreWithSteps(10, 3);
        store.Append(_run, [new RunStarted { RunId = _run, Sequence = 4, At = DateTimeOffset.UtcNow, Stage = "run", Kind = "search", ResumedFrom = "checkpoints/search.ckpt" }]);

        Assert.Equal(5, store.NextSequence(_run));
        var page = store.Read(_run);
        Assert.Equal([0L, 1, 2, 3, 4], page.Events.Select(e => e.Sequence));
        Assert.IsType<RunStarted>(page.Events[^1]);
    }

    [Fact]
    public void OpeningAPreV1Database_RewritesCamelCaseRowsIntoTheOneForm_LosingNone()
    {
        var path = Path.Combine(_data, "old.db");
        using (var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path}"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = $$$"""
                CREATE TABLE events (run_id TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, stage TEXT NOT NULL, step INTEGER,
                  json TEXT NOT NULL, PRIMARY KEY (run_id, seq)) WITHOUT ROWID;
                INSERT INTO events VALUES ('{{{_run}}}', 0, 'step', 'search', 3,
                  '{"type":"step","runId":"{{{_run}}}","sequence":0,"at":"2026-01-02T03:04:05+00:00","stage":"search","epoch":0,"step":3,"loss":0.5,"archLoss":0.25,"learningRates":{"encoder":0.1}}');
                INSERT INTO events VALUES ('{{{_run}}}', 1, 'stage_finished', 'search', NULL,
                  '{"type":"stage_finished","runId":"{{{_run}}}","sequence":1,"at":"2026-01-02T03:04:06+00:00","stage":"search","outcome":"succeeded","message":null,"metrics":{"knn_top1":12.5}}');
                """;
            cmd.ExecuteNonQuery();
        }
        var store = new RunStore(path);

        var events = store.Read(_run).Events;
        Assert.Equal(0.25, Assert.IsType<StepLogged>(events[0]).ArchLoss);
        Assert.Equal(12.5, Assert.IsType<StageFinished>(events[1]).Metrics["knn_top1"]);
        int rows = 0;
        store.ReadEach(_run, -1, _ => rows++);
        Assert.Equal(2, rows);
    }

    [Fact]
    public void Reconcile_StoresWhatTheFolderHasAndTheServerMissed_AndWritesMetricsForAnOldRun()
    {
        var store = StoreWithSteps(6, 3);
        Directory.CreateDirectory(RunDirectory);
        // No metrics.jsonl (a run stored before every run wrote one): it is written from the database.
        Assert.Equal(0, NASiam.Web.Worker.RunEventJournal.Reconcile(store, _run, RunDirectory));
        Assert.Equal(6, MetricsJsonl.Read(MetricsJsonl.PathIn(RunDirectory)).Count);

        // The child went on after the server died: two more events in the file only.
        using (var w = new MetricsJsonlObserver(MetricsJsonl.PathIn(RunDirectory)))
            for (long seq = 6; seq < 8; seq++)
                w.On(new StepLogged { RunId = _run, Sequence = seq, At = DateTimeOffset.UtcNow, Stage = "search", Epoch = 0, Step = seq, Loss = -0.5, LearningRates = new Dictionary<string, double>() });
        Assert.Equal(2, NASiam.Web.Worker.RunEventJournal.Reconcile(store, _run, RunDirectory));
        Assert.Equal(8, store.NextSequence(_run));
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_data, true); } catch (IOException) { }
    }
}

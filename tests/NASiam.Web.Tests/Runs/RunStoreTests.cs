using NASiam.Core;
using NASiam.Core.Options;
using NASiam.Core.Comparison;
using NASiam.Core.Reporting;
using NASiam.Web.Runs;
using NASiam.Web.Runs.Storage;
using NASiam.Web.Tests.ScaleOut;

namespace NASiam.Web.Tests.Runs;

/// <summary>
/// The run store's behaviour, on both backends: every theory runs on a SQLite file and on a real
/// PostgreSQL (a throwaway cluster on loopback, <see cref="PostgresCluster"/>).
/// </summary>
public class RunStoreTests : IDisposable
{
    readonly string _data = Directory.CreateTempSubdirectory("nasiam-store-").FullName;
    readonly Guid _run = Guid.NewGuid();

    string RunDirectory => Path.Combine(_data, "run");

    readonly List<RunDatabase> _databases = [];

    RunDatabase Open(string backend)
    {
        var db = backend == "postgresql" ? RunDatabase.PostgreSql(PostgresCluster.NewDatabase("store")) : RunDatabase.Sqlite(Path.Combine(_data, "runs.db"));
        _databases.Add(db);
        return db;
    }

    RunStore StoreWithSteps(string backend, int count, params long[] checkpointSequences)
    {
        var store = new RunStore(Open(backend));
        var events = new List<TrainingEvent>();
        for (long seq = 0; seq < count; seq++)
            events.Add(checkpointSequences.Contains(seq)
                ? new CheckpointSaved { RunId = _run, Sequence = seq, At = DateTimeOffset.UtcNow, Stage = "search", Name = "search", Path = "checkpoints/search.ckpt", Epoch = 1, Step = seq }
                : new StepLogged { RunId = _run, Sequence = seq, At = DateTimeOffset.UtcNow, Stage = "search", Epoch = 0, Step = seq, Loss = -0.5, LearningRates = new Dictionary<string, double>() });
        store.Append(_run, events);
        return store;
    }

    [Theory, InlineData("sqlite"), PostgresData]
    public void Append_RunStarted_DropsWhatAnEarlierAttemptStoredFromItsSequence(string backend)
    {
        var store = StoreWithSteps(backend, 10, 3);
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

    [Theory, InlineData("sqlite"), PostgresData]
    public void Reconcile_StoresWhatTheFolderHasAndTheServerMissed_AndWritesMetricsForAnOldRun(string backend)
    {
        var store = StoreWithSteps(backend, 6, 3);
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

    // A resume after a clean stop: the server stored every event the file has, run_started included.
    // Nothing is missed, so nothing is counted (the log used to say "stored 9 event(s) from its folder
    // that the server had missed") and the stored events stay as they were; a stored event the file
    // has otherwise is replaced from the file's run_started on, and counted.
    [Theory, InlineData("sqlite"), PostgresData]
    public void Reconcile_CountsNothing_WhenTheServerStoredEveryEventTheFolderHas(string backend)
    {
        var store = new RunStore(Open(backend));
        store.Insert(NewRun(_run));
        var at = DateTimeOffset.UtcNow;
        TrainingEvent Step(long seq, double loss) => new StepLogged { RunId = _run, Sequence = seq, At = at, Stage = "search", Epoch = 0, Step = seq, Loss = loss, LearningRates = new Dictionary<string, double>() };
        var events = new List<TrainingEvent> { new RunStarted { RunId = _run, Sequence = 0, At = at, Stage = "run", Kind = "search" } };
        events.AddRange(Enumerable.Range(1, 8).Select(i => Step(i, -0.5)));
        store.Append(_run, events);
        Directory.CreateDirectory(RunDirectory);
        using (var w = new MetricsJsonlObserver(MetricsJsonl.PathIn(RunDirectory)))
            foreach (var e in events) w.On(e);

        Assert.Equal(0, NASiam.Web.Worker.RunEventJournal.Reconcile(store, _run, RunDirectory));
        Assert.Equal(9, store.NextSequence(_run));

        // The database holds another value at step 5 than the file: the file's attempt is the truth from its run_started.
        File.Delete(MetricsJsonl.PathIn(RunDirectory));
        using (var w = new MetricsJsonlObserver(MetricsJsonl.PathIn(RunDirectory)))
            foreach (var e in events.Select(e => e.Sequence == 5 ? Step(5, -0.75) : e)) w.On(e);
        Assert.Equal(4, NASiam.Web.Worker.RunEventJournal.Reconcile(store, _run, RunDirectory));
        Assert.Equal(-0.75, Assert.IsType<StepLogged>(store.Read(_run).Events.Single(e => e.Sequence == 5)).Loss);
    }

    static RunRecord NewRun(Guid id, RunStatus status = RunStatus.Queued) => new()
    {
        Id = id, Name = "r", Kind = RunKind.Search, Framework = Framework.SimSiam, Backbone = "resnet18", Dataset = "synthetic",
        Device = "cpu", Status = status, OptionsJson = "{}", CreatedAt = DateTimeOffset.UtcNow,
    };

    // An untrained backbone's linear top-1 read like a trained one's in the runs list.
    [Fact]
    public void ALinearEvaluationWithoutACheckpoint_LabelsItsBestMetricUntrained()
    {
        var store = new RunStore(Open("sqlite"));
        var options = RunPresets.Get(RunPresets.QuickDemo, Framework.SimSiam) with { Kind = RunKind.LinCls };
        Guid untrained = Guid.NewGuid(), trained = Guid.NewGuid();
        store.Insert(NewRun(untrained) with { Kind = RunKind.LinCls, OptionsJson = options.ToJson() });
        store.Insert(NewRun(trained) with { Kind = RunKind.LinCls, OptionsJson = (options with { Linear = options.Linear with { Checkpoint = "/runs/x/checkpoints/pretrain.ckpt" } }).ToJson() });
        foreach (var id in new[] { untrained, trained })
            store.Append(id, [new LinearEvalLogged { RunId = id, Sequence = 0, At = DateTimeOffset.UtcNow, Stage = "lincls", Epoch = 0, TrainLoss = 2, Top1 = 16.9, Top5 = 60, IsBest = true }]);
        Assert.Equal(("linear top-1", "linear top-1 (untrained backbone)"), (store.Get(untrained)!.BestMetricName, store.Get(untrained)!.BestMetricLabel));
        Assert.Equal("linear top-1", store.Get(trained)!.BestMetricLabel);
    }

    // A run's notices were in the answer to its request only; kept now (schema 3), and a database of schema 2 gets the
    // column on open, its runs reading with none.
    [Theory, InlineData("sqlite"), PostgresData]
    public void Notices_AreKeptWithTheRun_AndASchema2DatabaseGetsTheirColumn(string backend)
    {
        var postgres = backend == "sqlite" ? null : PostgresCluster.NewDatabase("notices");
        RunDatabase OpenAgain()
        {
            var d = postgres is null ? RunDatabase.Sqlite(Path.Combine(_data, "runs.db")) : RunDatabase.PostgreSql(postgres);
            _databases.Add(d);
            return d;
        }
        var db = OpenAgain();
        var store = new RunStore(db);
        store.Insert(NewRun(_run) with { Notices = ["pretrain.genotype: none given", "checkpoint: x"] });
        Assert.Equal(["pretrain.genotype: none given", "checkpoint: x"], store.Get(_run)!.Notices);

        // Back to schema 2: no column, version 2, one run.
        db.Exec("ALTER TABLE runs DROP COLUMN notices_json");
        db.Exec(backend == "sqlite" ? "PRAGMA user_version = 2" : "UPDATE nasiam_schema SET version = 2");
        var migrated = new RunStore(OpenAgain());
        Assert.Empty(migrated.Get(_run)!.Notices);
        var second = Guid.NewGuid();
        migrated.Insert(NewRun(second) with { Notices = ["n"] });
        Assert.Equal(["n"], migrated.Get(second)!.Notices);
    }

    [Theory, InlineData("sqlite"), PostgresData]
    public void Append_IsInsertOrIgnoreBySequence_AndProjectsProgressBestMetricAndGenotype(string backend)
    {
        var store = new RunStore(Open(backend));
        store.Insert(NewRun(_run));
        var at = DateTimeOffset.UtcNow;
        TrainingEvent[] batch =
        [
            new StageStarted { RunId = _run, Sequence = 0, At = at, Stage = "search", TotalSteps = 10, StepsPerEpoch = 5, TotalEpochs = 2 },
            new StepLogged { RunId = _run, Sequence = 1, At = at, Stage = "search", Epoch = 0, Step = 4, Loss = -0.5, LearningRates = new Dictionary<string, double>() },
            new KnnLogged { RunId = _run, Sequence = 2, At = at, Stage = "search", Epoch = 0, Top1 = 31.5, Top5 = 80, Protocol = "k=200", IsBest = true },
        ];
        Assert.Equal(3, store.Append(_run, batch));
        Assert.Equal(0, store.Append(_run, batch)); // the same batch again (a second node, a replay): nothing new
        var run = store.Get(_run)!;
        Assert.Equal((4L, 10L, "knn top-1", 31.5, 3L), (run.StageDoneSteps, run.StageTotalSteps, run.BestMetricName, run.BestMetric!.Value, run.EventCount));
        // Thinned reads keep the first and last point of each long series.
        store.Append(_run, Enumerable.Range(3, 40).Select(i => (TrainingEvent)new StepLogged
            { RunId = _run, Sequence = i, At = at, Stage = "search", Epoch = 0, Step = i + 2, Loss = -0.5, LearningRates = new Dictionary<string, double>() }).ToList());
        var page = store.Read(_run, types: ["step"], maxPerType: 10);
        Assert.True(page.Downsampled);
        Assert.InRange(page.Events.Count, 5, 11); // 41 points, stride 5: 9 (first and last included)
        Assert.Equal((1L, 42L), (page.Events[0].Sequence, page.Events[^1].Sequence));
        Assert.Equal(42L, page.LastSequence);
    }

    // The job's end: the status, the executor's lease and a discovered genotype in one transaction. An executor
    // whose lease another owner has taken (it stalled past the expiry) writes nothing: not the lease, not the
    // run's status, not a library entry.
    [Theory, InlineData("sqlite"), PostgresData]
    public void Finish_WithTheLeaseOwner_EndsTheRunAndReleasesTheLease_OnlyWhileTheLeaseIsThatOwners(string backend)
    {
        var store = new RunStore(Open(backend));
        store.Insert(NewRun(_run));
        store.MarkStarted(_run);
        Assert.True(store.Leases.TryAcquire(_run, "node-a", TimeSpan.FromMinutes(5)));
        GenotypeEntry Found(string owner) => new(Guid.NewGuid(), $"by {owner}", Framework.SimSiam, "g-text", "discovered", _run, DateTimeOffset.UtcNow);
        Assert.False(store.Finish(_run, RunStatus.Succeeded, "boom", "g-text", null, null, leaseOwner: "node-b", discovered: Found("node-b")));
        Assert.True(store.Leases.Get(_run)!.Live, "another owner's Finish released node-a's lease");
        Assert.Equal((RunStatus.Running, null), (store.Get(_run)!.Status, store.Get(_run)!.Message));
        Assert.Empty(store.Genotypes());

        Assert.True(store.Finish(_run, RunStatus.Succeeded, "done", "g-text", null, null, leaseOwner: "node-a", discovered: Found("node-a")));
        Assert.Equal(RunStatus.Succeeded, store.Get(_run)!.Status);
        Assert.Equal("by node-a", Assert.Single(store.Genotypes()).Name);
        Assert.False(store.Leases.Get(_run)!.Live);
        Assert.True(store.Leases.TryAcquire(_run, "node-b", TimeSpan.FromMinutes(5)));
    }

    // Library names are unique, and two nodes (or two requests on one) storing one name at once must not both find
    // it free: the read and the insert are one transaction under a lock. Each decision here waits 50 ms with the
    // library read, so without the lock every one of them would read "free".
    [Theory, InlineData("sqlite"), PostgresData]
    public async Task AddNamed_ManyWritersOfOneNameAtOnce_StoreItOnce_FromTwoNodes(string backend)
    {
        string? postgres = backend == "postgresql" ? PostgresCluster.NewDatabase("store") : null;
        RunStore Node()
        {
            var db = postgres is not null ? RunDatabase.PostgreSql(postgres) : RunDatabase.Sqlite(Path.Combine(_data, "runs.db"));
            _databases.Add(db);
            return new RunStore(db);
        }
        var nodes = new[] { Node(), Node() };
        using var go = new ManualResetEventSlim();
        var writers = Enumerable.Range(0, 8).Select(i => Task.Run(() =>
        {
            go.Wait();
            return nodes[i % 2].GenotypeLibrary.AddNamed(held =>
            {
                Thread.Sleep(50);
                return held.Any(e => string.Equals(e.Name, "Shared", StringComparison.OrdinalIgnoreCase))
                    ? (null, "taken")
                    : (new GenotypeEntry(Guid.NewGuid(), i % 2 == 0 ? "shared" : "SHARED", Framework.SimSiam, "g-text", "imported", null, DateTimeOffset.UtcNow), "stored");
            });
        })).ToArray();
        go.Set();
        var outcomes = await Task.WhenAll(writers);
        Assert.Single(outcomes, o => o.Outcome == "stored");
        Assert.Equal(7, outcomes.Count(o => o.Outcome == "taken" && o.Entry is null));
        Assert.Single(nodes[1].Genotypes(), e => string.Equals(e.Name, "shared", StringComparison.OrdinalIgnoreCase));
    }

    // A run's discovered genotype is named "RUN (discovered)" and numbered, at its end, when the library or the
    // presets hold that name (two runs of one name), in the transaction that stores it.
    [Theory, InlineData("sqlite"), PostgresData]
    public void Finish_ADiscoveredGenotypesName_IsNumberedWhenTaken(string backend)
    {
        var store = new RunStore(Open(backend));
        store.AddGenotype(new GenotypeEntry(Guid.NewGuid(), "Dup (discovered)", Framework.SimSiam, "g-text", "discovered", null, DateTimeOffset.UtcNow));
        string preset = NASiam.Core.Genotypes.GenotypePresets.All[0].Name;
        var names = new List<string>();
        foreach (var stem in new[] { "dup (discovered)", "dup (discovered)", "fresh (discovered)", preset })
        {
            var id = Guid.NewGuid();
            store.Insert(NewRun(id));
            store.MarkStarted(id);
            Assert.True(store.Finish(id, RunStatus.Succeeded, null, "g-text", null, null,
                discovered: new GenotypeEntry(Guid.NewGuid(), stem, Framework.SimSiam, "g-text", "discovered", id, DateTimeOffset.UtcNow)));
            names.Add(store.Genotypes().Single(e => e.RunId == id).Name);
        }
        Assert.Equal(["dup (discovered) #2", "dup (discovered) #3", "fresh (discovered)", preset + " #2"], names);
    }

    [Theory, InlineData("sqlite"), PostgresData]
    public void RunsStatusGenotypesAndComparisons_RoundTrip(string backend)
    {
        var db = Open(backend);
        var store = new RunStore(db);
        store.Insert(NewRun(_run));
        store.MarkStarted(_run);
        store.RequestCancel(_run);
        store.Finish(_run, RunStatus.Cancelled, "stopped", "g-text", null, "{\"knn_top1\":1}");
        var run = store.Get(_run)!;
        Assert.Equal((RunStatus.Cancelled, 1, true, "g-text"), (run.Status, run.Attempts, run.CancelRequested, run.GenotypeText));
        Assert.NotNull(run.FinishedAt);
        // Interrupted is written only under the writer's lease: not node-b's, so nothing; node-a's, expired or not.
        Assert.True(store.Leases.TryAcquire(_run, "node-a", TimeSpan.FromMilliseconds(1)));
        Assert.False(store.Interrupt(_run, "again", "node-b"));
        Assert.Equal(RunStatus.Cancelled, store.Get(_run)!.Status);
        Assert.True(store.Interrupt(_run, "again", "node-a"));
        Assert.Equal((RunStatus.Interrupted, "again"), (store.Get(_run)!.Status, store.Get(_run)!.Message));

        var g = new GenotypeEntry(Guid.NewGuid(), "mine", Framework.SimSiam, "text-1", "imported", _run, DateTimeOffset.UtcNow);
        store.AddGenotype(g);
        store.AddGenotype(g with { Text = "text-2" }); // same id: replaced, not duplicated
        Assert.Equal("text-2", Assert.Single(store.Genotypes()).Text);
        Assert.Equal(new NASiam.Core.Genotypes.StoredGenotype("text-2", Framework.SimSiam, "genotype library entry 'mine'"), store.GenotypeById(g.Id));
        Assert.Equal(new NASiam.Core.Genotypes.StoredGenotype("g-text", Framework.SimSiam, $"run {_run} ('r')"), store.GenotypeById(_run));
        Assert.Null(store.GenotypeById(Guid.NewGuid()));

        var comparisons = new ComparisonStore(db);
        var id = Guid.NewGuid();
        var plan = new ComparisonPlan { Name = "c", Framework = Framework.SimSiam, GenotypeText = "x", Seeds = [1, 2], SearchSeeds = [], Recipe = NASiam.Core.Options.RunPresets.QuickDemoFor(Framework.SimSiam) };
        comparisons.Insert(new ComparisonRecord { Id = id, Name = "c", Plan = plan, Status = RunStatus.Queued, CreatedAt = DateTimeOffset.UtcNow });
        comparisons.AddChild(new(id, "pretrain", "genotype", 1, _run));
        comparisons.AddChild(new(id, "pretrain", "genotype", 1, _run)); // idempotent
        comparisons.SetStatus(id, RunStatus.Succeeded, null, finished: true);
        var c = comparisons.Get(id)!;
        Assert.Equal((RunStatus.Succeeded, true, 2), (c.Status, c.FinishedAt is not null, c.Plan.Seeds.Count));
        Assert.Single(comparisons.Children(id));
        Assert.Equal(id, comparisons.ComparisonOf(_run));
        Assert.Empty(comparisons.Active());
        store.Delete(_run);
        Assert.Null(store.Get(_run));
        // The library entry the run's id pointed at stays, without the dangling id.
        Assert.Equal(("text-2", (Guid?)null), (Assert.Single(store.Genotypes()).Text, store.Genotypes()[0].RunId));
    }

    [Theory, InlineData("sqlite"), PostgresData]
    public async Task Lease_OneOwnerAtATime_ExpiresWithoutHeartbeat_AndExactlyOneSweeperReclaimsTheOrphan(string backend)
    {
        var store = new RunStore(Open(backend));
        var leases = store.Leases;
        store.Insert(NewRun(_run));
        // Long enough that no acquisition in the race below can find the winner's lease already expired on
        // a loaded host (with 600 ms, a CI run once saw two winners: the eighth task started after expiry).
        var ttl = TimeSpan.FromSeconds(60);

        // Two owners race for the same run: exactly one wins.
        var wins = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Task.Run(() => leases.TryAcquire(_run, $"w{i % 2}", ttl))));
        Assert.Equal(1, wins.Count(w => w));
        Assert.Single(store.Leases.Executions(_run));
        var owner = store.Leases.Get(_run)!.Owner;
        var other = owner == "w0" ? "w1" : "w0";
        Assert.False(leases.TryAcquire(_run, other, ttl));
        Assert.True(leases.Renew(_run, owner, ttl));
        Assert.True(leases.HeldByOther(_run, other));
        Assert.False(leases.HeldByOther(_run, owner));
        store.MarkStarted(_run);
        Assert.Empty(leases.Orphans()); // live lease: not an orphan

        // The owner's last heartbeat gives it 300 ms; then it "dies": no further heartbeat.
        Assert.True(leases.Renew(_run, owner, TimeSpan.FromMilliseconds(300)));
        await Task.Delay(900);
        Assert.False(leases.Renew(_run, owner, ttl)); // too late: expired
        Assert.Equal([_run], leases.Orphans());
        var reclaimed = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => leases.TryReclaim(_run, "executor lost"))));
        Assert.Equal(1, reclaimed.Count(r => r));
        Assert.Equal(RunStatus.Interrupted, store.Get(_run)!.Status);
        Assert.Empty(leases.Orphans());

        // The next worker takes it; after release nobody holds it, and the log names both executions.
        Assert.True(leases.TryAcquire(_run, other, ttl));
        leases.Release(_run, other);
        Assert.False(leases.HeldByOther(_run));
        Assert.Equal(2, leases.Executions(_run).Count);
    }

    public void Dispose()
    {
        foreach (var db in _databases) db.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_data, true); } catch (IOException) { }
    }
}

using NASiam.Core.Engine.Checkpoints;
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

    /// <summary>An engine checkpoint file (state only) whose checkpoint event had <paramref name="eventSequence"/>.</summary>
    void WriteCheckpointFile(long eventSequence) =>
        CheckpointStore.Save(Path.Combine(RunDirectory, "checkpoints", "search.ckpt"),
            new CheckpointState { Stage = "search", Epoch = 1, Step = eventSequence, OptionsJson = "{}", NextSequence = eventSequence + 1 },
            new CheckpointContent());

    [Fact]
    public void PrepareResume_StoredCheckpointEventWithItsFile_KeepsThroughItAndContinuesAfterIt()
    {
        var store = StoreWithSteps(10, 3);
        WriteCheckpointFile(3);

        Assert.Equal(4, store.PrepareResume(_run, RunDirectory));
        Assert.Equal(4, store.NextSequence(_run));
    }

    [Fact]
    public void PrepareResume_CheckpointFileNewerThanItsStoredEvent_ContinuesFromTheFile()
    {
        // A crash right after a save: the file says the checkpoint event was 7, the store only got events up to 8 without it.
        var store = StoreWithSteps(9, 3);
        WriteCheckpointFile(7);

        Assert.Equal(8, store.PrepareResume(_run, RunDirectory));
        Assert.Equal(8, store.NextSequence(_run));
    }

    [Fact]
    public void PrepareResume_NoCheckpointAtAll_DropsEverythingAndStartsAtZero()
    {
        var store = StoreWithSteps(6, 2);

        Assert.Equal(0, store.PrepareResume(_run, RunDirectory));
        Assert.Equal(0, store.NextSequence(_run));
    }

    [Fact]
    public void PrepareResume_UnreadableCheckpointFile_FallsBackToTheStoredEvent()
    {
        var store = StoreWithSteps(8, 2);
        WriteCheckpointFile(2);
        File.WriteAllText(Path.Combine(RunDirectory, "checkpoints", "other.ckpt"), "not a checkpoint");

        Assert.Equal(3, store.PrepareResume(_run, RunDirectory));
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_data, true); } catch (IOException) { }
    }
}

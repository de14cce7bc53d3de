using NASiam.Core.Reporting;
using NASiam.Web.Live;
using NASiam.Web.Runs;

namespace NASiam.Web.Tests.Live;

/// <summary>The per-node ordering rule for events relayed from other nodes (docs/live-events.md, "Order and duplicates").</summary>
public class RunSequenceGateTests
{
    static readonly Guid Run = Guid.NewGuid();

    static TrainingEvent Step(long seq) => new StepLogged { RunId = Run, Sequence = seq, At = DateTimeOffset.UnixEpoch, Stage = "search", Epoch = 0, Step = seq, Loss = -seq, LearningRates = new Dictionary<string, double>() };
    static TrainingEvent Started(long seq) => new RunStarted { RunId = Run, Sequence = seq, At = DateTimeOffset.UnixEpoch, Stage = "run", Kind = "search" };
    static RelayedEvent[] Batch(params TrainingEvent[] events) => events.Select(RelayedEvent.From).ToArray();

    /// <summary>A gate over a fake store holding <paramref name="stored"/>.</summary>
    static RunSequenceGate Gate(List<TrainingEvent> stored) =>
        new((run, after) => stored.Where(e => e.RunId == run && e.Sequence > after).OrderBy(e => e.Sequence).ToArray());

    [Fact]
    public void FirstMessage_PassesAsIs_ThenDuplicatesAreDropped()
    {
        var gate = Gate([]);
        Assert.Equal([5, 6], gate.Admit(Run, Batch(Step(5), Step(6))).Select(e => e.Sequence));
        Assert.Equal([7], gate.Admit(Run, Batch(Step(6), Step(7))).Select(e => e.Sequence));
        Assert.Empty(gate.Admit(Run, Batch(Step(7))));
        Assert.Equal(2, gate.Dropped);
    }

    [Fact]
    public void Gap_IsFilledFromTheStore_InOrder()
    {
        var stored = Enumerable.Range(0, 10).Select(i => Step(i)).ToList();
        var gate = Gate(stored);
        gate.Admit(Run, Batch(Step(0), Step(1)));
        // The message with 2..4 was lost; 5..6 arrive.
        var got = gate.Admit(Run, Batch(Step(5), Step(6)));
        Assert.Equal([2, 3, 4, 5, 6], got.Select(e => e.Sequence));
        Assert.All(got, e => Assert.NotNull(e.Event));
        Assert.Equal(3, gate.Filled);
        Assert.Equal(0, gate.Unfilled);
    }

    [Fact]
    public void StatusCatchUp_DeliversStoredEventsNotYetSeen_AndUnknownRunsNothing()
    {
        var stored = Enumerable.Range(0, 6).Select(i => Step(i)).ToList();
        var gate = Gate(stored);
        Assert.Empty(gate.CatchUp(Run));
        gate.Admit(Run, Batch(Step(0), Step(1), Step(2)));
        Assert.Equal([3, 4, 5], gate.CatchUp(Run).Select(e => e.Sequence));
        Assert.Empty(gate.CatchUp(Run));
    }

    [Fact]
    public void ResumedAttempt_ReplaysFromItsRunStarted()
    {
        var gate = Gate([]);
        gate.Admit(Run, Batch(Started(0), Step(1), Step(2), Step(3), Step(4)));
        // Resumed from a checkpoint at sequence 3: run_started 3, then 4, 5 again.
        Assert.Equal([3, 4, 5], gate.Admit(Run, Batch(Started(3), Step(4), Step(5))).Select(e => e.Sequence));
        Assert.Empty(gate.Admit(Run, Batch(Step(5))));
    }

    [Fact]
    public void GapTheStoreCannotFill_IsCounted_AndTheEventStillPasses()
    {
        var gate = Gate([]);
        gate.Admit(Run, Batch(Step(0)));
        Assert.Equal([4], gate.Admit(Run, Batch(Step(4))).Select(e => e.Sequence));
        Assert.Equal(1, gate.Unfilled);
    }

    [Fact]
    public void Wire_RoundTripsEventsInTheOneJsonForm_AndTheStatus()
    {
        var record = new RunRecord
        {
            Id = Run, Name = "r", Kind = NASiam.Core.Options.RunKind.Search, Framework = NASiam.Core.Framework.SimSiam, Backbone = "resnet18", Dataset = "cifar10", Device = "cpu",
            Status = RunStatus.Running, OptionsJson = "{}", CreatedAt = DateTimeOffset.UnixEpoch, Message = "step 3", StageTotalSteps = 10, StageDoneSteps = 4,
        };
        var bytes = RunEventWire.Encode("node-a", new RunUpdate(Run, [Step(3), Started(4)], record));
        Assert.Equal("node-a", RunEventWire.NodeOf(bytes));
        var m = RunEventWire.Decode(bytes);
        Assert.Equal(Run, m.RunId);
        Assert.Equal([TrainingEventJson.Serialize(Step(3)), TrainingEventJson.Serialize(Started(4))], m.Events.Select(e => e.GetRawText()));
        Assert.Equal(new WireStatus("Running", "step 3", record.Progress), m.Status);
        var eventsOnly = RunEventWire.Decode(RunEventWire.Encode("n", new RunUpdate(Run, [Step(1)], null)));
        Assert.Null(eventsOnly.Status);
        Assert.Throws<FormatException>(() => RunEventWire.Decode("{\"v\":2,\"node\":\"x\"}"u8.ToArray()));
        Assert.Throws<FormatException>(() => RunEventWire.Decode("not json"u8.ToArray()));
    }

    [Fact]
    public void Wire_BatchOverTheLimit_TravelsAsItsRange()
    {
        var batch = Enumerable.Range(40, 60).Select(i => Step(i)).ToArray();
        var small = RunEventWire.Encode("n", new RunUpdate(Run, batch, null), maxBytes: 1_000_000);
        Assert.Equal(60, RunEventWire.Decode(small).Events.Count);
        var limited = RunEventWire.Encode("n", new RunUpdate(Run, batch, null), maxBytes: 7900);
        Assert.True(small.Length > 7900 && limited.Length < 7900, $"{small.Length} / {limited.Length} bytes");
        var m = RunEventWire.Decode(limited);
        Assert.Empty(m.Events);
        Assert.Equal(new WireElided(40, 99), m.Elided);
    }
}

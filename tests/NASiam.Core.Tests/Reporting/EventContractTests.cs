using System.Text.Json;
using Json.Schema;
using NASiam.Core.Engine;
using NASiam.Core.Options;
using NASiam.Core.Reporting;
using NASiam.Core.Tests.Engine.Runs;

namespace NASiam.Core.Tests.Reporting;

/// <summary>The one JSON form of events (contract v1) against its schema, docs/events.schema.v1.json.</summary>
public sealed class EventContractTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("nasiam-contract-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    static readonly JsonSchema Schema = JsonSchema.FromFile(Path.Combine(AppContext.BaseDirectory, "events.schema.v1.json"));

    static void AssertValid(string line)
    {
        using var doc = JsonDocument.Parse(line);
        var result = Schema.Evaluate(doc.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
        Assert.True(result.IsValid, line + "\n" + string.Join("\n", (result.Details ?? []).Where(d => d.Errors is { Count: > 0 })
            .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation} {d.EvaluationPath}: {e.Value}"))));
    }

    [Fact]
    public void EveryEventClass_IsInTheTypeTable_AndInTheSchema()
    {
        var classes = typeof(TrainingEvent).Assembly.GetTypes().Where(t => t.IsSubclassOf(typeof(TrainingEvent)) && !t.IsAbstract).ToList();
        Assert.Equal(classes.Count, TrainingEventJson.TypeNames.Count);
        Assert.All(classes, t => Assert.Contains(TrainingEventJson.TypeName(t), TrainingEventJson.TypeNames));
        Assert.Equal(classes.Count, EveryEvent.All().Select(e => e.GetType()).Distinct().Count());
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "events.schema.v1.json")));
        var schemaTypes = doc.RootElement.GetProperty("properties").GetProperty("type").GetProperty("enum").EnumerateArray().Select(e => e.GetString()).ToList();
        Assert.Equal(TrainingEventJson.TypeNames.Order(), schemaTypes.Order());
    }

    [Fact]
    public void EveryEventType_RoundTripsThroughTheOneForm_AndMatchesTheSchema()
    {
        foreach (var e in EveryEvent.All())
        {
            var line = TrainingEventJson.Serialize(e);
            Assert.StartsWith($"{{\"type\":\"{e.Type}\",\"run_id\":", line);
            AssertValid(line);
            var back = TrainingEventJson.Deserialize(line);
            Assert.Equal(e.GetType(), back.GetType());
            // Records compare collections by reference: compare their one form instead.
            Assert.Equal(line, TrainingEventJson.Serialize(back));
        }
    }

    [Fact]
    public void Throughput_ResidentMemory_IsNullWhenNotMeasured_AndAbsentInOlderEvents()
    {
        var unmeasured = TrainingEventJson.Serialize(EveryEvent.All().OfType<ThroughputLogged>().Single() with { RssMib = null, PeakRssMib = null });
        Assert.Contains("\"rss_mib\":null,\"peak_rss_mib\":null", unmeasured);
        AssertValid(unmeasured);
        // Written before 2026-12-01: no memory fields at all; still valid, and read as not measured.
        const string older = """{"type":"throughput","run_id":"11111111-2222-3333-4444-555555555555","sequence":3,"at":"2026-01-02T03:04:05+00:00","stage":"search","epoch":0,"step":4,"images_per_second":50,"data_seconds_per_step":0.1,"compute_seconds_per_step":0.5}""";
        AssertValid(older);
        var back = Assert.IsType<ThroughputLogged>(TrainingEventJson.Deserialize(older));
        Assert.Equal((null, null), (back.RssMib, back.PeakRssMib));
        // A negative figure is not memory.
        using var doc = JsonDocument.Parse(older.Replace("}", ",\"rss_mib\":-1}"));
        Assert.False(Schema.Evaluate(doc.RootElement).IsValid);
    }

    [Fact]
    public void Deserialize_UnknownOrMissingType_ThrowsJsonExceptionNamingTheProblem()
    {
        var unknown = Assert.Throws<JsonException>(() => TrainingEventJson.Deserialize("""{"type":"teleport","run_id":"11111111-2222-3333-4444-555555555555","sequence":1}"""));
        Assert.Contains("teleport", unknown.Message);
        var missing = Assert.Throws<JsonException>(() => TrainingEventJson.Deserialize("""{"sequence":1}"""));
        Assert.Contains("type", missing.Message);
    }

    [Fact]
    public void DeserializeAnyVersion_ReadsThePreV1CamelCaseForm()
    {
        const string old = """{"type":"step","runId":"11111111-2222-3333-4444-555555555555","sequence":7,"at":"2026-01-02T03:04:05+00:00","stage":"search","epoch":0,"step":3,"loss":0.5,"archLoss":0.25,"learningRates":{"encoder":0.1}}""";
        Assert.True(TrainingEventJson.IsLegacy(old));
        var e = Assert.IsType<StepLogged>(TrainingEventJson.DeserializeAnyVersion(old));
        Assert.Equal((7L, 3L, 0.25, 0.1), (e.Sequence, e.Step, e.ArchLoss!.Value, e.LearningRates["encoder"]));
        Assert.Contains("\"arch_loss\":0.25", TrainingEventJson.Serialize(e));
    }

    [Fact]
    public void MetricsJsonlRead_ALaterAttemptReplaysFromItsFirstSequence_AndACutLastLineIsSkipped()
    {
        var path = Path.Combine(_dir, "m.jsonl");
        var all = EveryEvent.All();
        var lines = all.Take(6).Select(TrainingEventJson.Serialize)                       // attempt 1: 0..5
            .Concat(all.Skip(3).Take(5).Select(TrainingEventJson.Serialize))               // attempt 2 replays 3..7
            .Append("{\"type\":\"step\",\"run_");                                          // cut by a crash
        File.WriteAllLines(path, lines);
        var read = MetricsJsonl.Read(path);
        Assert.Equal(Enumerable.Range(0, 8).Select(i => (long)i), read.Select(e => e.Sequence));
        MetricsJsonl.KeepBefore(path, 5);
        Assert.Equal(5, File.ReadAllLines(path).Length);
        File.WriteAllLines(path, ["{not json", TrainingEventJson.Serialize(all[0])]);
        Assert.Contains("line 1", Assert.Throws<InvalidDataException>(() => MetricsJsonl.Read(path)).Message);
    }

    [Fact]
    public void Engine_WritesMetricsJsonlThatMatchesTheSchema_AndOwnsTheNumberingAcrossAResume()
    {
        var options = TinyRuns.Options(Framework.SimSiam, RunKind.Search, searchEpochs: 2);
        var dir = Path.Combine(_dir, "run");
        var stopper = new TinyRuns.CancelWhen(e => e is CheckpointSaved { Epoch: 1 });
        var (first, firstEvents) = TinyRuns.Run(options, dir, stopper.Source.Token, extra: stopper);
        Assert.Equal(RunOutcome.Cancelled, first.Outcome);
        var checkpoint = firstEvents.Events.OfType<CheckpointSaved>().Last(); // the cancel writes the newest one

        var (second, events) = TinyRuns.Run(options, dir);
        Assert.Equal(RunOutcome.Succeeded, second.Outcome);
        var started = Assert.IsType<RunStarted>(events.Events[0]);
        Assert.Equal(checkpoint.Sequence + 1, started.Sequence);
        Assert.Equal("checkpoints/search.ckpt", started.ResumedFrom);

        var lines = File.ReadAllLines(MetricsJsonl.PathIn(dir));
        Assert.All(lines, AssertValid);
        var written = lines.Select(TrainingEventJson.Deserialize).ToList();
        // One gap-free numbering: the first attempt up to its checkpoint, then the second attempt.
        Assert.Equal(Enumerable.Range(0, written.Count).Select(i => (long)i), written.Select(e => e.Sequence));
        Assert.Equal(2, written.OfType<RunStarted>().Count());
        Assert.Equal(events.Events.Select(TrainingEventJson.Serialize), lines.Skip((int)started.Sequence));
    }
}

using System.Text.Json;
using NASiam.Core.Reporting;

namespace NASiam.Core.Tests.Reporting;

public class TrainingEventJsonTests
{
    [Fact]
    public void Serialize_WritesTypeFirstAndSnakeCaseFields()
    {
        var line = TrainingEventJson.Serialize(ObserverTestEvents.Step(3));
        Assert.StartsWith("{\"type\":\"step\"", line);
        Assert.DoesNotContain('\n', line);
        using var doc = JsonDocument.Parse(line);
        var root = doc.RootElement;
        Assert.Equal(3, root.GetProperty("step").GetInt64());
        Assert.Equal(0.25, root.GetProperty("arch_loss").GetDouble());
        Assert.Equal(0.12, root.GetProperty("learning_rates").GetProperty("encoder").GetDouble());
        Assert.Equal("search", root.GetProperty("stage").GetString());
        Assert.Equal("11111111-2222-3333-4444-555555555555", root.GetProperty("run_id").GetString());
    }

    [Fact]
    public void Serialize_WritesNaNLossAsString()
    {
        using var doc = JsonDocument.Parse(TrainingEventJson.Serialize(ObserverTestEvents.Step(1, double.NaN)));
        Assert.Equal("NaN", doc.RootElement.GetProperty("loss").GetString());
    }

    [Fact]
    public void Serialize_WritesOutcomeEnumAsSnakeCaseString()
    {
        var e = new StageFinished { RunId = Guid.Empty, Sequence = 1, At = DateTimeOffset.UnixEpoch, Stage = "pretrain", Outcome = RunOutcome.Cancelled };
        using var doc = JsonDocument.Parse(TrainingEventJson.Serialize(e));
        Assert.Equal("cancelled", doc.RootElement.GetProperty("outcome").GetString());
        Assert.Equal("stage_finished", doc.RootElement.GetProperty("type").GetString());
    }

    [Fact]
    public void MetricsJsonlObserver_AppendsOneObjectPerLine()
    {
        var path = Path.Combine(Path.GetTempPath(), $"nasiam-metrics-{Guid.NewGuid():N}.jsonl");
        try
        {
            using (var observer = new MetricsJsonlObserver(path))
            {
                observer.On(ObserverTestEvents.Started(4));
                observer.On(ObserverTestEvents.Step(1));
            }
            var lines = File.ReadAllLines(path);
            Assert.Equal(2, lines.Length);
            Assert.Equal(["stage_started", "step"], lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("type").GetString()));
        }
        finally { File.Delete(path); }
    }
}

using NASiam.Core.Reporting;

namespace NASiam.Core.Tests.Reporting;

public class ConsoleProgressObserverTests
{
    [Fact]
    public void On_Interactive_RedrawsOneLineWithBarAndEta()
    {
        var output = new StringWriter();
        var observer = new ConsoleProgressObserver(output, interactive: true);
        observer.On(ObserverTestEvents.Started(10));
        observer.On(ObserverTestEvents.Step(5));
        var text = output.ToString();
        Assert.Contains("\r[############............]  50%", text);
        Assert.Contains("ETA", text);
        Assert.Contains("loss 0.5 arch 0.25", text);
    }

    [Fact]
    public void On_NotInteractive_WritesPlainLinesEveryNSteps()
    {
        var output = new StringWriter();
        var observer = new ConsoleProgressObserver(output, interactive: false, plainEvery: 2);
        observer.On(ObserverTestEvents.Started(4));
        for (int i = 1; i <= 4; i++) observer.On(ObserverTestEvents.Step(i));
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.DoesNotContain('\r', output.ToString());
        Assert.Equal(3, lines.Length); // started, step 2, step 4
        Assert.Contains("step 4/4", lines[2]);
    }

    [Fact]
    public void On_Throughput_PrintsResidentMemory_OrSaysItWasNotMeasured()
    {
        var output = new StringWriter();
        var observer = new ConsoleProgressObserver(output, interactive: false);
        var measured = EveryEvent.All().OfType<ThroughputLogged>().Single();
        observer.On(measured);
        observer.On(measured with { RssMib = null, PeakRssMib = null });
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.EndsWith("RSS 812 MiB (peak 901 MiB)", lines[0].TrimEnd());
        Assert.EndsWith("RSS not measured here", lines[1].TrimEnd());
    }

    // Events count epochs from 0; what people read counts from 1, the checkpoint by the epochs it holds.
    [Fact]
    public void Epochs_ArePrintedFromOne_AndACheckpointByTheEpochsDone()
    {
        var output = new StringWriter();
        var observer = new ConsoleProgressObserver(output, interactive: false);
        observer.On(new KnnLogged { Stage = "pretrain", Epoch = 0, Top1 = 40, Top5 = 80, IsBest = true, Protocol = "k=200" });
        observer.On(new CheckpointSaved { Stage = "pretrain", Name = "pretrain", Path = "checkpoints/pretrain.ckpt", Epoch = 1, Step = 16 });
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd()).ToArray();
        Assert.Equal("[pretrain] epoch 1 kNN top-1 40.00% top-5 80.00% (best)", lines[0]);
        Assert.Equal("[pretrain] checkpoint pretrain (after 1 epoch(s), step 16)", lines[1]);
    }

    [Theory]
    [InlineData(0, 10, 5, null)]
    [InlineData(5, 10, 10, "10s")]
    [InlineData(1, 61, 1, "1m00s")]
    public void Eta_ExtrapolatesElapsedPerStep(long done, long total, int elapsedSeconds, string? expected) =>
        Assert.Equal(expected ?? "--", ConsoleProgressObserver.Format(ConsoleProgressObserver.Eta(done, total, TimeSpan.FromSeconds(elapsedSeconds))));
}

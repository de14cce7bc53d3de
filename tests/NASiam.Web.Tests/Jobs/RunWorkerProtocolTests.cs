using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Options;
using NASiam.Core.Engine;
using NASiam.Core.Reporting;
using NASiam.Web.Tests.Fakes;
using NASiam.Web.Worker;

namespace NASiam.Web.Tests.Jobs;

/// <summary>
/// The child-process wire without a child: events and results cross it losslessly (NaN and
/// infinities included, which the web's storage JSON refuses), anything unreadable is an error,
/// exit codes decode to signals, and a run isolation that cannot work stops the app at start-up.
/// </summary>
public class RunWorkerProtocolTests : IDisposable
{
    readonly string _data = Directory.CreateTempSubdirectory("nasiam-proto-").FullName;
    static readonly Guid Run = Guid.NewGuid();
    static readonly DateTimeOffset At = new(2026, 11, 30, 6, 0, 0, 123, TimeSpan.FromHours(1));

    static TrainingEvent RoundTrip(TrainingEvent e)
    {
        var line = RunWorkerProtocol.EventLine(e);
        Assert.DoesNotContain('\n', line);
        var back = RunWorkerProtocol.ReadEvent(RunWorkerProtocol.ParseLine(line));
        Assert.Equal(e.GetType(), back.GetType());
        Assert.Equal(line, RunWorkerProtocol.EventLine(back));
        return back;
    }

    [Fact]
    public void Events_CrossTheWireLosslessly_NonFiniteDoublesIncluded()
    {
        var step = (StepLogged)RoundTrip(new StepLogged
        {
            RunId = Run, Sequence = 41, At = At, Stage = "search", Epoch = 3, Step = 37, Loss = double.NaN, ArchLoss = 0.1 + 0.2,
            LearningRates = new Dictionary<string, double> { ["encoder"] = 0.05, ["alpha"] = double.PositiveInfinity },
        });
        Assert.True(double.IsNaN(step.Loss));
        Assert.Equal(0.1 + 0.2, step.ArchLoss);
        Assert.Equal(double.PositiveInfinity, step.LearningRates["alpha"]);
        Assert.Equal((Run, 41L, At, "search", 3, 37L), (step.RunId, step.Sequence, step.At, step.Stage, step.Epoch, step.Step));

        var lincls = (LinearEvalLogged)RoundTrip(new LinearEvalLogged
        {
            RunId = Run, Sequence = 2, At = At, Stage = "lincls", Epoch = 9, TrainLoss = double.NaN, Top1 = 41.5, Top5 = 90, IsBest = true,
        });
        Assert.True(double.IsNaN(lincls.TrainLoss));

        var alphas = (AlphasLogged)RoundTrip(new AlphasLogged
        {
            RunId = Run, Sequence = 3, At = At, Stage = "search", Epoch = 0, Step = 2, GenotypeText = "x",
            Cells = [new CellAlphas("encoder", ["a", "b"], [new AlphaLayer(0, [0.25, 0.75], "b", 0.56, 0.5)])],
        });
        Assert.Equal([0.25, 0.75], alphas.Cells[0].Layers[0].Weights);

        var finished = (StageFinished)RoundTrip(new StageFinished
        {
            RunId = Run, Sequence = 4, At = At, Stage = "search", Outcome = RunOutcome.Cancelled, Message = "stopped",
            Metrics = new Dictionary<string, double> { ["final_loss"] = double.NegativeInfinity },
        });
        Assert.Equal(RunOutcome.Cancelled, finished.Outcome);
        Assert.Equal(double.NegativeInfinity, finished.Metrics["final_loss"]);
    }

    [Fact]
    public void Result_CrossesTheWireLosslessly()
    {
        var result = new RunResult
        {
            Outcome = RunOutcome.Succeeded, Message = null, GenotypeText = "g", NextSequence = 120,
            Metrics = new Dictionary<string, double> { ["knn_top1"] = 12.5, ["lincls_top1"] = double.NaN },
            Artifacts = new Dictionary<string, string> { ["search"] = "checkpoints/search.ckpt" },
        };
        var m = RunWorkerProtocol.ParseLine(RunWorkerProtocol.ResultLine(result));
        Assert.Equal(RunWorkerMessage.ResultKind, m.Kind);
        var back = m.Result!;
        Assert.Equal((result.Outcome, result.GenotypeText, result.NextSequence), (back.Outcome, back.GenotypeText, back.NextSequence));
        Assert.Equal(12.5, back.Metrics["knn_top1"]);
        Assert.True(double.IsNaN(back.Metrics["lincls_top1"]));
        Assert.Equal(result.Artifacts, back.Artifacts);
    }

    [Fact]
    public void UnknownOrBrokenLines_AreErrorsNotSilence()
    {
        var unknown = RunWorkerProtocol.ParseLine("""{"kind":"event","eventType":"telepathy","event":{"runId":"00000000-0000-0000-0000-000000000000"}}""");
        Assert.Contains("Unknown event type 'telepathy'", Assert.Throws<JsonException>(() => RunWorkerProtocol.ReadEvent(unknown)).Message);
        Assert.Throws<JsonException>(() => RunWorkerProtocol.ReadEvent(RunWorkerProtocol.ParseLine("""{"kind":"event"}""")));
        Assert.ThrowsAny<JsonException>(() => RunWorkerProtocol.ParseLine("Warning: something native printed this"));
        Assert.ThrowsAny<JsonException>(() => RunWorkerProtocol.ParseLine("null"));
    }

    [Theory]
    [InlineData(136, 8, "SIGFPE (signal 8)")]
    [InlineData(139, 11, "SIGSEGV (signal 11)")]
    [InlineData(137, 9, "SIGKILL (signal 9)")]
    [InlineData(134, 6, "SIGABRT (signal 6)")]
    [InlineData(190, 62, "signal 62")]
    public void ExitCodeAbove128_IsDeathBySignal(int exitCode, int signal, string described)
    {
        Assert.Equal(signal, ExitStatus.Signal(exitCode));
        Assert.Equal(described, ExitStatus.Describe(signal));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(128)]
    [InlineData(255)]
    public void ExitCode_PlainExit_IsNoSignal(int exitCode) => Assert.Null(ExitStatus.Signal(exitCode));

    [Fact]
    public void Startup_UnknownRunIsolation_FailsWithClearMessage()
    {
        using var app = new NasiamAppFactory(_data, new ScriptedRunEngine()).WithWebHostBuilder(b => b.UseSetting("Nasiam:RunIsolation", "thread"));
        var ex = Assert.Throws<OptionsValidationException>(() => app.Server);
        Assert.Contains("Nasiam:RunIsolation 'thread' is not one of process, inprocess", ex.Message);
    }

    [Fact]
    public void Startup_ProcessIsolationWithAReplacedEngine_FailsInsteadOfBypassingIt()
    {
        using var app = new NasiamAppFactory(_data, new ScriptedRunEngine(),
            settings: new Dictionary<string, string> { ["Nasiam:RunIsolation"] = "process" });
        var ex = Assert.Throws<InvalidOperationException>(() => app.Server);
        Assert.Contains("ScriptedRunEngine", ex.Message);
        Assert.Contains("set Nasiam:RunIsolation=inprocess", ex.Message);
    }

    public void Dispose()
    {
        try { Directory.Delete(_data, true); } catch (IOException) { }
    }
}

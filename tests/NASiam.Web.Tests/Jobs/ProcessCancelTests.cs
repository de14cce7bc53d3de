using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using NASiam.Core.Engine;
using NASiam.Core.Options;
using NASiam.Core.Reporting;
using NASiam.Web.Jobs;
using NASiam.Web.Tests.Engine;
using NASiam.Web.Tests.Fakes;
using NASiam.Web.Worker;

namespace NASiam.Web.Tests.Jobs;

/// <summary>
/// A run cancelled while its child is still setting up (before its first step) ends Cancelled, not
/// Failed, whether the child is killed after the cancel grace or dies of a signal while stopping.
/// The child is a shell script standing in for the app: fast, no engine.
/// </summary>
public class ProcessCancelTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("nasiam-pcancel-").FullName;

    sealed class Events : ITrainingObserver
    {
        public readonly List<TrainingEvent> Seen = [];
        public void On(TrainingEvent e) { lock (Seen) Seen.Add(e); }
    }

    /// <summary>A child that reads its spec, reports that the search stage started, then runs <paramref name="then"/>.</summary>
    static ProcessRunEngine Engine(string then, TimeSpan grace)
    {
        var started = RunWorkerProtocol.EventLine(new StageStarted { Stage = "search", TotalEpochs = 1, TotalSteps = 2, StepsPerEpoch = 2 });
        var script = $"read spec; printf '%s\\n' '{started}'; {then}";
        return new ProcessRunEngine(RunProcessLauncher.ForCommand("/bin/sh", "-c", script), new RunExecutionRegistry(), NullLogger<ProcessRunEngine>.Instance)
        {
            CancelGrace = grace,
        };
    }

    RunResult CancelAfterStageStart(ProcessRunEngine engine, out Events events)
    {
        var seen = events = new Events();
        using var cts = new CancellationTokenSource();
        var observer = new Relay(e => { seen.On(e); if (e is StageStarted) cts.Cancel(); });
        var context = new RunContext { RunId = Guid.NewGuid(), OutputDirectory = _dir, Resume = true };
        return engine.Run(RealEngineRunTests.TinySearch(), context, observer, cts.Token);
    }

    sealed class Relay(Action<TrainingEvent> on) : ITrainingObserver
    {
        public void On(TrainingEvent e) => on(e);
    }

    [Fact]
    public void ChildIgnoringTheCancel_KilledAfterTheGrace_EndsCancelledAtTheUsersRequest()
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var result = CancelAfterStageStart(Engine("sleep 60", TimeSpan.FromSeconds(1)), out _);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(30), $"took {sw.Elapsed}");
        Assert.Equal(RunOutcome.Cancelled, result.Outcome);
        Assert.Contains("at the user's request during search, before its first step", result.Message);
        Assert.Contains("did not stop within 1 s", result.Message);
        Assert.Contains("no checkpoint yet", result.Message);
        Assert.DoesNotContain("out-of-memory", result.Message);
    }

    [Fact]
    public void ChildDyingOfSigkillWhileStopping_EndsCancelled_NotFailed()
    {
        // Reads the cancel, then dies as a SIGKILL from outside would leave it, long before the grace.
        var result = CancelAfterStageStart(Engine("read cmd; kill -9 $$", TimeSpan.FromMinutes(10)), out _);
        Assert.Equal(RunOutcome.Cancelled, result.Outcome);
        Assert.Contains("at the user's request during search, before its first step", result.Message);
        Assert.Contains("SIGKILL", result.Message);
    }

    [Fact]
    public void ChildDyingOfSigkill_WithoutACancel_StillFailsNamingTheSignal()
    {
        var engine = Engine("kill -9 $$", TimeSpan.FromMinutes(10));
        var context = new RunContext { RunId = Guid.NewGuid(), OutputDirectory = _dir, Resume = true };
        var e = Assert.Throws<RunProcessException>(() => engine.Run(RealEngineRunTests.TinySearch(), context, new Events(), CancellationToken.None));
        Assert.Equal(9, e.Signal);
        Assert.Contains("out-of-memory", e.Message);
    }

    /// <summary>The job's side: an engine that throws a process death after the user's cancel ends the run Cancelled.</summary>
    sealed class DiesOnCancelEngine : IRunEngine
    {
        public RunResult Run(RunOptions options, RunContext context, ITrainingObserver observer, CancellationToken ct)
        {
            ct.WaitHandle.WaitOne(TimeSpan.FromSeconds(30));
            throw new RunProcessException("The run's process (pid 1) died with SIGKILL (signal 9) during search, before its first step.", 137, 9);
        }
    }

    [Fact]
    public async Task Job_ProcessDeathAfterAUserCancel_EndsTheRunCancelled()
    {
        await using var app = new NasiamAppFactory(Path.Combine(_dir, "app"), new DiesOnCancelEngine());
        using var c = app.Api();
        var id = await NasiamAppFactory.CreateQuickDemo(c);
        await NasiamAppFactory.WaitForStatus(c, id, "Running", 20);
        Assert.Equal(HttpStatusCode.Accepted, (await c.PostAsync($"/api/runs/{id}/cancel", null)).StatusCode);
        var run = await NasiamAppFactory.WaitForStatus(c, id, "Cancelled", 20);
        Assert.StartsWith("Stopped at the user's request", run.GetProperty("message").GetString());
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using NASiam.Core.Engine.Checkpoints;
using NASiam.Core.Options;
using NASiam.Core.Reporting;
using NASiam.Web.Jobs;
using NASiam.Web.Runs;
using NASiam.Web.Tests.Engine;
using NASiam.Web.Tests.Fakes;

namespace NASiam.Web.Tests.Jobs;

/// <summary>
/// Process isolation in the web host with the real engine on a tiny search (resnet-tiny, 128
/// synthetic images, 2 steps per epoch, a checkpoint per epoch): runs execute in a child process
/// whose events and result land exactly as in-process ones; a child killed by a signal fails its
/// run with the signal named while the server stays up, and a resume finishes the run from the
/// last checkpoint; cancel reaches the child, which checkpoints and exits.
/// </summary>
public class RunIsolationTests : IDisposable
{
    readonly string _data = Directory.CreateTempSubdirectory("nasiam-iso-").FullName;

    const int StepsPerEpoch = 2;

    static RunOptions Tiny(int epochs) => RealEngineRunTests.TinySearch() with
    {
        Name = $"isolation {epochs} epochs",
        SyntheticTrainSize = 128,
        MaxStepsPerStage = StepsPerEpoch * epochs,
        Search = RealEngineRunTests.TinySearch().Search with { Epochs = epochs },
    };

    static async Task<Guid> Create(HttpClient c, RunOptions options)
    {
        using var json = JsonDocument.Parse(options.ToJson());
        var created = await c.PostAsJsonAsync("/api/runs", new { options = json.RootElement });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        return (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
    }

    static async Task<List<TrainingEvent>> StoredEvents(HttpClient c, Guid id)
    {
        var m = await c.GetFromJsonAsync<JsonElement>($"/api/runs/{id}/metrics?maxPoints=100000");
        return m.GetProperty("events").EnumerateArray().Select(e => TrainingEventJson.Deserialize(e)).ToList();
    }

    static async Task<int> WaitForProcess(NasiamAppFactory app, Guid id)
    {
        var registry = app.Services.GetRequiredService<RunExecutionRegistry>();
        int? pid = null;
        await NasiamAppFactory.WaitUntil(() => Task.FromResult((pid = registry.ProcessId(id)) is not null), TimeSpan.FromSeconds(30), $"run {id}'s process");
        return pid!.Value;
    }

    static bool Alive(int pid)
    {
        try { using var p = Process.GetProcessById(pid); return !p.HasExited; }
        catch (ArgumentException) { return false; }
    }

    [DllImport("libc", SetLastError = true, EntryPoint = "kill")]
    static extern int Kill(int pid, int signal);

    [DllImport("libc", SetLastError = true, EntryPoint = "tgkill")]
    static extern int ThreadKill(int pid, int tid, int signal);

    const int SIGKILL = 9, SIGSEGV = 11;

    /// <summary>
    /// Kills <paramref name="pid"/> with SIGSEGV from outside. A real fault in native code (what this
    /// stands for) kills a .NET process at once: the runtime's handler finds no managed frame, puts
    /// the default action back and returns, and the faulting instruction faults again. A SIGSEGV sent
    /// by kill() has no instruction to repeat, so the first one only puts the default action back
    /// (and, landing on a thread in managed code, it may be taken for a NullReferenceException). So:
    /// the first goes to the child's stdin reader thread, which always sits in read(); the second,
    /// to the process, then kills it as the repeated fault would.
    /// </summary>
    static void KillWithSegv(int pid)
    {
        var reader = Directory.EnumerateDirectories($"/proc/{pid}/task")
            .Select(t => (Tid: int.Parse(Path.GetFileName(t), System.Globalization.CultureInfo.InvariantCulture), Comm: TryRead(Path.Combine(t, "comm"))))
            .Single(t => t.Comm.StartsWith("run-child comm", StringComparison.Ordinal));
        Assert.Equal(0, ThreadKill(pid, reader.Tid, SIGSEGV));
        Thread.Sleep(200);
        Assert.True(Alive(pid), "the first SIGSEGV killed the child: the runtime's handling changed, revisit KillWithSegv");
        Assert.Equal(0, Kill(pid, SIGSEGV));

        static string TryRead(string file)
        {
            try { return File.ReadAllText(file).Trim(); } catch (IOException) { return ""; }
        }
    }

    /// <summary>The event as the dashboard stores it, without what legitimately differs between two runs (run id, time, speed).</summary>
    static string Comparable(TrainingEvent e) => e is ThroughputLogged t
        ? $"throughput {t.Stage} {t.Epoch} {t.Step}"
        : TrainingEventJson.Serialize(e with { RunId = Guid.Empty, At = default });

    [Fact]
    public async Task Run_InChildProcess_StoresTheSameEventsAndResultAsInProcess()
    {
        var options = Tiny(epochs: 1);
        List<string> inProcess;
        JsonElement inProcessRun;
        await using (var app = new NasiamAppFactory(Path.Combine(_data, "a"), engine: null,
                         settings: new Dictionary<string, string> { ["Nasiam:RunIsolation"] = "inprocess" }))
        {
            using var c = app.Api();
            var id = await Create(c, options);
            await NasiamAppFactory.WaitForStatus(c, id, "Succeeded", 60);
            Assert.Null(app.Services.GetRequiredService<RunExecutionRegistry>().ProcessId(id));
            inProcess = (await StoredEvents(c, id)).Select(Comparable).ToList();
            inProcessRun = await c.GetFromJsonAsync<JsonElement>($"/api/runs/{id}");
        }

        await using (var app = new NasiamAppFactory(Path.Combine(_data, "b"), engine: null))
        {
            using var c = app.Api();
            var id = await Create(c, options);
            var pid = await WaitForProcess(app, id);
            Assert.NotEqual(Environment.ProcessId, pid);
            var run = (await NasiamAppFactory.WaitForStatus(c, id, "Succeeded", 60));
            await NasiamAppFactory.WaitUntil(() => Task.FromResult(!Alive(pid)), TimeSpan.FromSeconds(5), "the child to be gone");
            Assert.Null(app.Services.GetRequiredService<RunExecutionRegistry>().ProcessId(id));

            var events = await StoredEvents(c, id);
            Assert.Equal(Enumerable.Range(0, events.Count).Select(i => (long)i), events.Select(e => e.Sequence));
            Assert.Equal([1L, 2], events.OfType<StepLogged>().Select(s => s.Step));
            // Event for event the same bytes as the in-process run: losses, alphas, genotype, collapse, kNN.
            Assert.Equal(inProcess, events.Select(Comparable).ToList());

            // The result landed on the run as before: genotype, metrics, artefacts.
            var detail = await c.GetFromJsonAsync<JsonElement>($"/api/runs/{id}");
            Assert.Equal(inProcessRun.GetProperty("genotypeText").GetString(), detail.GetProperty("genotypeText").GetString());
            Assert.False(string.IsNullOrEmpty(detail.GetProperty("genotypeText").GetString()));
            Assert.Equal(inProcessRun.GetProperty("metrics").GetRawText(), detail.GetProperty("metrics").GetRawText());
            Assert.Equal(inProcessRun.GetProperty("artifacts").GetRawText(), detail.GetProperty("artifacts").GetRawText());
            Assert.Equal(events.Count, run.GetProperty("events").GetInt64());
        }
    }

    [Fact]
    public async Task ChildKilledBySigsegvThenSigkill_FailsTheRunNamingTheSignal_ServerStaysUp_ResumeFinishes()
    {
        await using var app = new NasiamAppFactory(_data, engine: null);
        using var c = app.Api();
        var id = await Create(c, Tiny(epochs: 4));

        int attempt = 0;
        foreach (var (signal, name) in new[] { (SIGSEGV, "SIGSEGV (signal 11)"), (SIGKILL, "SIGKILL (signal 9)") })
        {
            // One step past this attempt's start (and, the first time, past the first checkpoint), so the kill
            // lands mid-training and the resume has a checkpoint to continue from.
            attempt++;
            long killAfter = 0;
            await NasiamAppFactory.WaitUntil(async () =>
            {
                var events = await StoredEvents(c, id);
                var starts = events.OfType<StageStarted>().ToList();
                if (starts.Count < attempt) return false;
                killAfter = attempt == 1 ? StepsPerEpoch + 1 : starts[^1].ResumedAtStep + 1;
                return events.OfType<StepLogged>().Any(s => s.Step >= killAfter);
            }, TimeSpan.FromSeconds(60), $"attempt {attempt} to train");
            var pid = await WaitForProcess(app, id);
            Assert.NotEqual(Environment.ProcessId, pid);

            if (signal == SIGSEGV) KillWithSegv(pid);
            else Assert.Equal(0, Kill(pid, signal));
            var sw = Stopwatch.StartNew();
            var failed = await NasiamAppFactory.WaitForStatus(c, id, "Failed", 15);
            var detect = sw.Elapsed;
            var message = failed.GetProperty("message").GetString() ?? "";
            Assert.Contains($"died with {name} during search, after step", message);
            Assert.False(Alive(pid));
            Assert.Null(app.Services.GetRequiredService<RunExecutionRegistry>().ProcessId(id));
            Assert.Equal(HttpStatusCode.OK, (await c.GetAsync("/healthz")).StatusCode);
            Console.WriteLine($"{name}: run marked Failed {detect.TotalMilliseconds:0} ms after the kill: {message}");

            Assert.Equal(HttpStatusCode.Accepted, (await c.PostAsync($"/api/runs/{id}/resume", null)).StatusCode);
        }

        await NasiamAppFactory.WaitForStatus(c, id, "Succeeded", 60);
        var all = await StoredEvents(c, id);
        // Resumed from the last checkpoint each time: every step exactly once, numbering without gaps.
        Assert.Equal(Enumerable.Range(1, 4 * StepsPerEpoch).Select(i => (long)i), all.OfType<StepLogged>().Select(s => s.Step));
        Assert.Equal(Enumerable.Range(0, all.Count).Select(i => (long)i), all.Select(e => e.Sequence));
        // A start that resumed from the same checkpoint as a later one was rolled back with its attempt's
        // events, so 2 or 3 starts remain: the first, then one per checkpoint resumed from.
        var resumedAt = all.OfType<StageStarted>().Select(s => s.ResumedAtStep).ToList();
        Assert.InRange(resumedAt.Count, 2, 3);
        Assert.Equal(0, resumedAt[0]);
        Assert.All(resumedAt.Skip(1), r => Assert.True(r > 0 && r % StepsPerEpoch == 0, $"resumed at step {r}, not at an epoch checkpoint"));
        Assert.Equal(resumedAt.Order().Distinct(), resumedAt);
        var state = CheckpointStore.ReadState(Path.Combine(app.Services.GetRequiredService<RunPaths>().RunDirectory(id), "checkpoints", "search.ckpt"));
        Assert.True(state.Completed);
        Assert.Equal(4 * StepsPerEpoch, state.Step);
    }

    [Fact]
    public async Task Cancel_ReachesTheChild_WhichCheckpointsAndExits()
    {
        await using var app = new NasiamAppFactory(_data, engine: null);
        using var c = app.Api();
        var id = await Create(c, Tiny(epochs: 50));
        await NasiamAppFactory.WaitUntil(async () => (await StoredEvents(c, id)).OfType<StepLogged>().Any(s => s.Step >= 2),
            TimeSpan.FromSeconds(60), "step 2");
        var pid = await WaitForProcess(app, id);

        var sw = Stopwatch.StartNew();
        Assert.Equal(HttpStatusCode.Accepted, (await c.PostAsync($"/api/runs/{id}/cancel", null)).StatusCode);
        await NasiamAppFactory.WaitForStatus(c, id, "Cancelled", 30);
        Console.WriteLine($"cancel: run Cancelled {sw.Elapsed.TotalMilliseconds:0} ms after the request");
        await NasiamAppFactory.WaitUntil(() => Task.FromResult(!Alive(pid)), TimeSpan.FromSeconds(5), "the child to exit");

        var events = await StoredEvents(c, id);
        var lastStep = events.OfType<StepLogged>().Max(s => s.Step);
        Assert.True(lastStep < 100, $"ran to step {lastStep}: the cancel did not reach the child");
        Assert.Equal(RunOutcome.Cancelled, events.OfType<StageFinished>().Single().Outcome);
        var state = CheckpointStore.ReadState(Path.Combine(app.Services.GetRequiredService<RunPaths>().RunDirectory(id), "checkpoints", "search.ckpt"));
        Assert.False(state.Completed);
        Assert.Equal(lastStep, state.Step);
    }

    /// <summary>
    /// The server dies (SIGKILL, OOM) while a run trains: its child sees stdin close and stops as on a
    /// cancel, leaving a checkpoint for the restarted server's resume instead of training on, orphaned.
    /// </summary>
    [Fact]
    public async Task ChildWhoseServerIsGone_CancelsItselfWithACheckpoint()
    {
        var launcher = new NASiam.Web.Worker.RunProcessLauncher();
        var dir = Path.Combine(_data, "orphan");
        var spec = new NASiam.Web.Worker.RunWorkerSpec { RunId = Guid.NewGuid(), OptionsJson = Tiny(epochs: 50).ToJson(), OutputDirectory = dir };
        using var child = Process.Start(launcher.StartInfo(spec.RunId))!;
        var stderr = child.StandardError.ReadToEndAsync();
        await child.StandardInput.WriteLineAsync(NASiam.Web.Worker.RunWorkerProtocol.SpecLine(spec));
        await child.StandardInput.FlushAsync();

        var messages = new List<NASiam.Web.Worker.RunWorkerMessage>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (await child.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            messages.Add(NASiam.Web.Worker.RunWorkerProtocol.ParseLine(line));
            if (messages[^1].EventType == "step") break;
        }
        child.StandardInput.Close(); // what the kernel does to the pipe when the server process dies
        while (await child.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            messages.Add(NASiam.Web.Worker.RunWorkerProtocol.ParseLine(line));
        await child.WaitForExitAsync(timeout.Token);

        Assert.Equal(0, child.ExitCode);
        Assert.Contains("stdin closed", await stderr);
        var result = Assert.Single(messages, m => m.Kind == NASiam.Web.Worker.RunWorkerMessage.ResultKind).Result!;
        Assert.Equal(RunOutcome.Cancelled, result.Outcome);
        var lastStep = messages.Where(m => m.EventType == "step").Select(m => ((StepLogged)NASiam.Web.Worker.RunWorkerProtocol.ReadEvent(m)).Step).Max();
        Assert.True(lastStep < 100);
        var state = CheckpointStore.ReadState(Path.Combine(dir, "checkpoints", "search.ckpt"));
        Assert.Equal(lastStep, state.Step);
        Assert.False(state.Completed);

        // Every event, also those written after its server was gone, is in the run's metrics.jsonl, which the next job imports.
        var events = messages.Where(m => m.Kind == NASiam.Web.Worker.RunWorkerMessage.EventKind).Select(NASiam.Web.Worker.RunWorkerProtocol.ReadEvent).ToList();
        var journal = MetricsJsonl.Read(MetricsJsonl.PathIn(dir));
        Assert.Equal(events.Select(TrainingEventJson.Serialize), journal.Select(TrainingEventJson.Serialize));
        Assert.Contains(journal, e => e is CheckpointSaved c && c.Step == lastStep);
    }

    public void Dispose()
    {
        try { Directory.Delete(_data, true); } catch (IOException) { }
    }
}

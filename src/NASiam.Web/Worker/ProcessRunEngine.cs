using System.Diagnostics;
using System.Text.Json;
using NASiam.Core.Engine;
using NASiam.Core.Options;
using NASiam.Core.Reporting;
using NASiam.Web.Jobs;
using NASiam.Web.Runs;

namespace NASiam.Web.Worker;

/// <summary>
/// The server side of process isolation: an <see cref="IRunEngine"/> that runs the real engine in
/// a child process (<see cref="RunWorker"/>) and behaves, to its caller, like the engine running
/// in-process: every event reaches <paramref name="observer"/> in order, the result comes back,
/// the token cancels within a step (the child checkpoints), bad options throw ArgumentException.
/// What it adds: when the child dies (SIGFPE/SIGSEGV in native code, SIGKILL from the OOM killer)
/// the run fails with a <see cref="RunProcessException"/> naming the signal, the stage and the last
/// step, and the server and its other runs carry on. The child's memory goes back to the system
/// when it exits. Its pid is published in <see cref="RunExecutionRegistry"/> while it lives.
/// </summary>
public sealed class ProcessRunEngine(RunProcessLauncher launcher, RunExecutionRegistry registry, ILogger<ProcessRunEngine> log) : IRunEngine
{
    /// <summary>
    /// How long a cancelled child may take to checkpoint and exit before it is killed. Generous:
    /// a ResNet-50 step on a few CPU cores can take minutes, and killing loses the work since the
    /// last checkpoint. An app stop does not wait for it (Hangfire's shutdown timeout applies,
    /// and a child whose server is gone still checkpoints and exits on its own).
    /// </summary>
    public TimeSpan CancelGrace { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>How long a child that has closed its output may take to exit before it is killed.</summary>
    public static readonly TimeSpan ExitWait = TimeSpan.FromSeconds(60);

    public RunResult Run(RunOptions options, RunContext context, ITrainingObserver observer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(observer);
        options.EnsureValid(); // bad options fail here, as in-process, before a process starts
        var runId = context.RunId;
        var spec = new RunWorkerSpec
        {
            RunId = runId, OptionsJson = options.ToJson(), OutputDirectory = Path.GetFullPath(context.OutputDirectory),
            Resume = context.Resume, FirstSequence = context.FirstSequence,
        };

        using var process = new Process { StartInfo = launcher.StartInfo(runId) };
        var stderr = new OutputTail(20);
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not { } line) return;
            // The child's own notes ("run-child: ...") are not what a failure message should quote.
            if (!line.StartsWith(RunWorker.NotePrefix, StringComparison.Ordinal)) stderr.Add(line);
            log.LogInformation("Run {RunId} [pid {Pid}]: {Line}", runId, SafeId(process), line);
        };
        var started = Stopwatch.StartNew();
        if (!process.Start()) throw new InvalidOperationException($"Could not start the run's process ({launcher.Describe()}).");
        int pid = process.Id;
        process.BeginErrorReadLine();
        registry.SetProcess(runId, pid);
        log.LogInformation("Run {RunId} executes in process {Pid} ({Command})", runId, pid, launcher.Describe());

        var stdinGate = new object();
        bool cancelSent = false, killedAfterCancel = false, killedAfterOutput = false;
        Timer? killTimer = null;
        var progress = new Progress();
        RunResult? result = null;
        RunWorkerMessage? error = null;
        try
        {
            if (!Send(RunWorkerProtocol.SpecLine(spec)))
                log.LogWarning("Run {RunId}: process {Pid} ended before it read its spec", runId, pid);
            using (cancellationToken.Register(Cancel))
            {
                while (process.StandardOutput.ReadLine() is { } line)
                    Handle(line);
            }
            // Stdout closes when the child closes its protocol stream, just before it exits; a child
            // that then hangs in native teardown must not hold the job (and the device) forever.
            if (process.WaitForExit(ExitWait)) process.WaitForExit(); // the second call drains stderr
            else
            {
                log.LogError("Run {RunId}: process {Pid} closed its output but did not exit within {Wait}; killing it", runId, pid, ExitWait);
                killedAfterOutput = true;
                TryKill(process);
                process.WaitForExit();
            }
        }
        finally
        {
            killTimer?.Dispose();
            registry.ClearProcess(runId, pid);
            if (!process.HasExited)
            {
                log.LogError("Run {RunId}: process {Pid} is still alive after its job stopped reading it; killing it", runId, pid);
                TryKill(process);
            }
        }

        int exitCode = process.ExitCode;
        log.LogInformation("Run {RunId}: process {Pid} exited with code {Code} after {Seconds:0.0} s, {Events} events",
            runId, pid, exitCode, started.Elapsed.TotalSeconds, progress.Events);
        if (result is not null) return result;
        if (error is not null)
        {
            var message = error.Error ?? "The run's process reported an error without a message.";
            if (error.ErrorType is { } t && (t == typeof(ArgumentException).FullName || t == typeof(ArgumentNullException).FullName
                                              || t == typeof(ArgumentOutOfRangeException).FullName))
                throw new ArgumentException(message);
            throw new RunProcessException(message, exitCode, signal: null);
        }
        var signal = ExitStatus.Signal(exitCode);
        // A child that dies after it was told to stop ends the run as cancelled, not failed: the user
        // (or an app stop, which the job writes as Interrupted with its own message) asked for it, and
        // a child that is still building its model can take longer than the grace, or be killed from
        // outside while it tears down. Its message is what a user sees after a cancel.
        if (cancelSent)
        {
            var how = killedAfterCancel
                ? $"its process did not stop within {Duration(CancelGrace)} of the cancel and was killed"
                : killedAfterOutput ? $"its process did not exit within {Duration(ExitWait)} of closing its output and was killed"
                : signal is { } cs ? $"its process ended with {ExitStatus.Describe(cs)} while stopping" + (cs == 9 ? " (not killed by this app)" : "")
                : $"its process exited with code {exitCode} while stopping";
            return new RunResult
            {
                Outcome = RunOutcome.Cancelled,
                Message = $"Stopped at the user's request {progress.Where()}; {how}. {ResumeNote(context.OutputDirectory)}",
                NextSequence = progress.NextSequence,
            };
        }
        var last = stderr.Last is { } l ? $" Its last output: {Truncate(l, 300)}" : "";
        if (signal is { } s)
        {
            var hint = s == 9 ? " SIGKILL comes from outside the process: often the kernel's out-of-memory killer (see dmesg)." : last;
            throw new RunProcessException(
                $"The run's process (pid {pid}) died with {ExitStatus.Describe(s)} {progress.Where()}. Resume continues from its last checkpoint.{hint}",
                exitCode, s);
        }
        throw new RunProcessException(
            $"The run's process (pid {pid}) exited with code {exitCode} without reporting a result, {progress.Where()}.{last}", exitCode, signal: null);

        void Handle(string line)
        {
            RunWorkerMessage m;
            TrainingEvent e;
            try
            {
                m = RunWorkerProtocol.ParseLine(line);
                if (m.Kind != RunWorkerMessage.EventKind)
                {
                    if (m.Kind == RunWorkerMessage.ResultKind) result = m.Result ?? throw new JsonException("A result message without a result.");
                    else if (m.Kind == RunWorkerMessage.ErrorKind) error = m;
                    else log.LogError("Run {RunId}: unknown message kind '{Kind}' from process {Pid}", runId, m.Kind, pid);
                    return;
                }
                e = RunWorkerProtocol.ReadEvent(m);
            }
            catch (JsonException ex)
            {
                // Same binary on both sides, so this is a bug: loud, but the run goes on.
                log.LogError("Run {RunId}: unreadable line from process {Pid} ({Error}): {Line}", runId, pid, ex.Message, Truncate(line, 500));
                return;
            }
            if (progress.Events == 0)
                log.LogInformation("Run {RunId}: first event from process {Pid} {Seconds:0.00} s after its start", runId, pid, started.Elapsed.TotalSeconds);
            progress.Saw(e);
            try { observer.On(e); }
            catch (Exception ex) { log.LogError(ex, "Run {RunId}: the observer failed on event {Sequence}", runId, e.Sequence); }
        }

        void Cancel()
        {
            if (cancelSent) return;
            cancelSent = true;
            log.LogInformation("Run {RunId}: cancelling process {Pid}", runId, pid);
            if (!Send(RunWorkerProtocol.CancelCommand)) return; // already gone: the read loop sees it
            killTimer = new Timer(_ =>
            {
                if (SafeHasExited(process)) return;
                killedAfterCancel = true;
                log.LogWarning("Run {RunId}: process {Pid} did not stop within {Grace} of the cancel; killing it", runId, pid, CancelGrace);
                TryKill(process);
            }, null, CancelGrace, Timeout.InfiniteTimeSpan);
        }

        bool Send(string line)
        {
            lock (stdinGate)
            {
                try
                {
                    process.StandardInput.Write(line + "\n");
                    process.StandardInput.Flush();
                    return true;
                }
                catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException) { return false; }
            }
        }
    }

    static void TryKill(Process p)
    {
        try { p.Kill(entireProcessTree: true); }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception) { }
    }

    static bool SafeHasExited(Process p)
    {
        try { return p.HasExited; } catch (InvalidOperationException) { return true; }
    }

    static int SafeId(Process p)
    {
        try { return p.Id; } catch (InvalidOperationException) { return 0; }
    }

    /// <summary>"10 min", "90 s": a test's grace of a second must not read "0 min".</summary>
    static string Duration(TimeSpan t) => t.TotalMinutes >= 1 ? $"{t.TotalMinutes:0.#} min" : $"{t.TotalSeconds:0.#} s";

    /// <summary>What a resume does: a run killed before any checkpoint has nothing to continue from.</summary>
    static string ResumeNote(string outputDirectory)
    {
        var dir = NASiam.Core.Engine.Runs.StageEnvironment.CheckpointDirectoryIn(outputDirectory);
        bool any;
        try { any = Directory.Exists(dir) && Directory.EnumerateFiles(dir, "*.ckpt").Any(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { any = false; }
        return any ? "Resume continues from its last checkpoint." : "It had no checkpoint yet; resume starts it from the beginning.";
    }

    static string Truncate(string s, int max) => s.Length <= max ? s : s[..max] + "…";

    /// <summary>Where the run was when its process ended: the stage and last step the events reported.</summary>
    sealed class Progress
    {
        string? _stage;
        long? _step;
        public long Events { get; private set; }
        public long NextSequence { get; private set; }

        public void Saw(TrainingEvent e)
        {
            Events++;
            NextSequence = e.Sequence + 1;
            if (e is StageStarted s)
            {
                _stage = s.Stage;
                _step = s.ResumedAtStep > 0 ? s.ResumedAtStep : null;
            }
            else if (e is StepLogged or CheckpointSaved or AlphasLogged)
            {
                _stage = e.Stage;
                _step = Math.Max(_step ?? 0, e.StepOrNull ?? 0);
            }
        }

        public string Where() => _stage is null ? "before it reported any progress"
            : _step is null ? $"during {_stage}, before its first step"
            : $"during {_stage}, after step {_step}";
    }

    /// <summary>The last lines of the child's stderr, for the failure message of a child that ends without a result.</summary>
    sealed class OutputTail(int capacity)
    {
        readonly Queue<string> _lines = new();

        public void Add(string line)
        {
            lock (_lines)
            {
                if (string.IsNullOrWhiteSpace(line)) return;
                _lines.Enqueue(line);
                while (_lines.Count > capacity) _lines.Dequeue();
            }
        }

        public string? Last { get { lock (_lines) return _lines.LastOrDefault(); } }
    }
}

/// <summary>A run's child process failed or died; <see cref="Signal"/> is set when a signal killed it.</summary>
public sealed class RunProcessException(string message, int exitCode, int? signal) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
    public int? Signal { get; } = signal;
}

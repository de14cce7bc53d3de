using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using NASiam.Core.Engine;
using NASiam.Core.Options;
using NASiam.Core.Reporting;

namespace NASiam.Web.Worker;

/// <summary>
/// The child side of process isolation: the web app's own executable started as
/// <c>NASiam.Web --run-child RUN_ID</c> runs one run's engine and nothing else (no web host, no
/// settings, no database). A native crash in libtorch (SIGFPE in oneDNN kernels on some hosts)
/// then kills this process only; the job in the server sees the signal and fails that run.
/// Protocol: the first stdin line is a <see cref="RunWorkerSpec"/>; further stdin lines are
/// commands ("cancel"); stdout carries <see cref="RunWorkerMessage"/> lines; stderr is free text
/// that the server logs. End of stdin means the server is gone: the run is cancelled, so it
/// checkpoints and exits instead of training on unsupervised.
/// </summary>
public static class RunWorker
{
    /// <summary>Exit codes of a child that ended on its own (a result or error line was written first).</summary>
    public const int ExitOk = 0, ExitFailed = 1, ExitBadInput = 2;

    /// <summary>Starts the child's own informational stderr lines (the server logs them but does not quote them as errors).</summary>
    public const string NotePrefix = "run-child: ";

    /// <summary>
    /// Called first thing in Program.cs: when <paramref name="args"/> start with the hidden child
    /// argument, runs the run and exits the process; otherwise returns at once and the web app starts.
    /// </summary>
    public static void TryRunAsChild(string[] args)
    {
        if (args.Length == 0 || args[0] != RunWorkerProtocol.ChildArgument) return;
        Environment.Exit(RunChild(args));
    }

    static int RunChild(string[] args)
    {
        // Before anything can print: only protocol lines may reach the parent's reader.
        using var protocol = new ProtocolWriter(OpenProtocolStream());
        try
        {
            return Run(args, protocol);
        }
        catch (Exception e)
        {
            Console.Error.WriteLine(e);
            protocol.TryWrite(RunWorkerProtocol.ErrorLine(e));
            return e is ArgumentException or System.Text.Json.JsonException ? ExitBadInput : ExitFailed;
        }
    }

    static int Run(string[] args, ProtocolWriter protocol)
    {
        var stdin = new StreamReader(Console.OpenStandardInput());
        var first = stdin.ReadLine() ?? throw new ArgumentException("No run spec on stdin (expected one JSON line).");
        var spec = RunWorkerProtocol.ParseSpec(first);
        if (args.Length > 1 && args[1] != spec.RunId.ToString())
            throw new ArgumentException($"The command line names run {args[1]} but the spec is for run {spec.RunId}.");
        var options = RunOptions.FromJson(spec.OptionsJson);
        // Start-up cost of isolation, for the server log: process launch to here is .NET's own start.
        var sinceLaunch = DateTime.Now - System.Diagnostics.Process.GetCurrentProcess().StartTime;
        Console.Error.WriteLine($"{NotePrefix}run {spec.RunId} read its spec {sinceLaunch.TotalSeconds:0.00} s after launch; starting the engine");

        using var cancel = new CancellationTokenSource();
        // SIGTERM (kill, a service stop) and SIGINT/SIGQUIT (Ctrl-C reaches the whole process group)
        // stop the run like a cancel from the server: checkpoint, report, exit.
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
        using var intr = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
        using var quit = PosixSignalRegistration.Create(PosixSignal.SIGQUIT, Cancel);
        new Thread(() => ReadCommands(stdin, cancel)) { IsBackground = true, Name = "run-child commands" }.Start();

        using var runLock = RunFolderLock.Acquire(spec.OutputDirectory, TimeSpan.FromSeconds(30));
        var context = new RunContext
        {
            RunId = spec.RunId, OutputDirectory = spec.OutputDirectory, Resume = spec.Resume, FirstSequence = spec.FirstSequence,
        };
        var result = new NasiamEngine().Run(options, context, new ProtocolObserver(protocol), cancel.Token);
        protocol.Write(RunWorkerProtocol.ResultLine(result));
        return ExitOk;

        void Cancel(PosixSignalContext c)
        {
            c.Cancel = true;
            Console.Error.WriteLine($"{NotePrefix}{c.Signal} received; cancelling (the run checkpoints and exits).");
            try { cancel.Cancel(); } catch (ObjectDisposedException) { }
        }
    }

    static void ReadCommands(TextReader stdin, CancellationTokenSource cancel)
    {
        try
        {
            while (stdin.ReadLine() is { } line)
            {
                if (line.Trim() == RunWorkerProtocol.CancelCommand) { cancel.Cancel(); continue; }
                Console.Error.WriteLine($"{NotePrefix}unknown command '{line}' ignored (known: {RunWorkerProtocol.CancelCommand}).");
            }
            Console.Error.WriteLine(NotePrefix + "stdin closed (the server is gone); cancelling.");
            cancel.Cancel();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            try { cancel.Cancel(); } catch (ObjectDisposedException) { }
        }
    }

    [DllImport("libc", SetLastError = true, EntryPoint = "dup")]
    static extern int Dup(int fd);

    [DllImport("libc", SetLastError = true, EntryPoint = "dup2")]
    static extern int Dup2(int oldFd, int newFd);

    /// <summary>
    /// A private copy of stdout for protocol lines, with fd 1 itself pointed at stderr: anything
    /// else that writes to stdout (native libraries, a stray Console.WriteLine) lands in the log
    /// instead of splitting a protocol line.
    /// </summary>
    static Stream OpenProtocolStream()
    {
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
        {
            int fd = Dup(1);
            if (fd >= 0 && Dup2(2, 1) >= 0)
                return new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Write, bufferSize: 0);
            throw new IOException($"run-child: could not duplicate stdout (errno {Marshal.GetLastPInvokeError()}).");
        }
        return Console.OpenStandardOutput();
    }

    /// <summary>Writes whole lines, flushed at once, from any thread (events come from the training thread).</summary>
    sealed class ProtocolWriter(Stream stream) : IDisposable
    {
        readonly StreamWriter _writer = new(stream, new System.Text.UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };
        readonly object _gate = new();

        public void Write(string line)
        {
            lock (_gate) _writer.WriteLine(line);
        }

        /// <summary>For the last word of a failing child: the parent may already be gone.</summary>
        public void TryWrite(string line)
        {
            try { Write(line); } catch (IOException) { }
        }

        public void Dispose()
        {
            try { lock (_gate) _writer.Dispose(); } catch (IOException) { }
        }
    }

    /// <summary>
    /// Writes every engine event to the parent. A failed write (the parent is gone) is swallowed
    /// by the engine's emitter; the engine's own metrics.jsonl in the run folder keeps every event,
    /// and the next job of the run imports what the server missed from it.
    /// </summary>
    sealed class ProtocolObserver(ProtocolWriter writer) : ITrainingObserver
    {
        public void On(TrainingEvent e) => writer.Write(RunWorkerProtocol.EventLine(e));
    }
}

/// <summary>
/// An exclusive lock on a run's folder held for the child's lifetime (.worker.lock, holding the
/// pid). When the server dies, its children cancel and checkpoint on their own; a restarted
/// server that resumes the same run at once waits here for that checkpoint instead of training
/// alongside it on the same files.
/// </summary>
public sealed class RunFolderLock : IDisposable
{
    public const string FileName = ".worker.lock";
    readonly FileStream _file;

    RunFolderLock(FileStream file) => _file = file;

    public static RunFolderLock Acquire(string runDirectory, TimeSpan wait)
    {
        Directory.CreateDirectory(runDirectory);
        var path = Path.Combine(runDirectory, FileName);
        var until = DateTime.UtcNow + wait;
        while (true)
        {
            try
            {
                // FileShare.None is an advisory flock on Unix: released by the kernel when the process dies.
                var file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                file.SetLength(0);
                var pid = System.Text.Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture) + "\n");
                file.Write(pid);
                file.Flush();
                return new RunFolderLock(file);
            }
            catch (IOException) when (DateTime.UtcNow < until)
            {
                Thread.Sleep(200);
            }
            catch (IOException e)
            {
                throw new IOException($"Another process still works on {runDirectory} ({path} is locked) after {wait.TotalSeconds:0} s: {e.Message}", e);
            }
        }
    }

    public void Dispose() => _file.Dispose();
}

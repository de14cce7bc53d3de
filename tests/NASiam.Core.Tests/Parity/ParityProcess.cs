using System.Diagnostics;
using System.Text;

namespace NASiam.Core.Tests.Parity;

/// <summary>Result of a child process: exit code, wall time, and the tail of what it printed.</summary>
public sealed record ProcessResult(int ExitCode, TimeSpan Elapsed, string Output, bool TimedOut)
{
    /// <summary>"exit 0", or the signal for a process killed by one (exit 128 + n on Linux).</summary>
    public string Describe() => TimedOut ? $"timed out after {Elapsed.TotalSeconds:0} s" : ExitCode switch
    {
        > 128 and < 160 => $"killed by {SignalName(ExitCode - 128)} (exit {ExitCode})",
        _ => $"exit {ExitCode}",
    };

    static string SignalName(int n) => n switch
    {
        4 => "SIGILL", 6 => "SIGABRT", 7 => "SIGBUS", 8 => "SIGFPE", 9 => "SIGKILL", 11 => "SIGSEGV", 15 => "SIGTERM",
        _ => $"signal {n}",
    };
}

/// <summary>Starts the parity suite's child processes: the C# half of a case, and the Python comparison.</summary>
public static class ParityProcess
{
    public const string CaseVariable = "NASIAM_PARITY_CASE";
    public const string OutVariable = "NASIAM_PARITY_OUT";

    /// <summary>The repository root: the first folder above the test binaries that holds tools/parity/compare.py.</summary>
    public static string RepositoryRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "tools", "parity", "compare.py"))) return d.FullName;
        throw new InvalidOperationException($"tools/parity/compare.py not found above {AppContext.BaseDirectory}.");
    }

    /// <summary>
    /// Runs <see cref="ParityDump.Write"/> for <paramref name="c"/> in a child process (see
    /// StartupHook in ParityChild.cs). When the child dies without writing error.txt (a native
    /// crash), error.txt is written here with the signal and the child's last output, so the
    /// comparison's table names the case and the cause.
    /// </summary>
    public static ProcessResult RunCase(ParityCase c, string dir, TimeSpan timeout)
    {
        var assembly = typeof(ParityProcess).Assembly.Location;
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h) ? h : "dotnet";
        var env = new Dictionary<string, string>
        {
            ["DOTNET_STARTUP_HOOKS"] = assembly,
            [CaseVariable] = c.Name,
            [OutVariable] = dir,
        };
        var result = Run(host, ["exec", assembly], env, timeout);
        var error = Path.Combine(dir, "error.txt");
        if ((result.ExitCode != 0 || result.TimedOut) && !File.Exists(error))
        {
            Directory.CreateDirectory(dir);
            var last = string.Join(" / ", Tail(result.Output, 600).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            File.WriteAllText(error, $"C# process {result.Describe()}; last output: {last}");
        }
        return result;
    }

    /// <summary>
    /// The Python interpreter to use: NASIAM_PYTHON, else Debian's /usr/bin/python3 (where
    /// python3-torch installs), else python3 on the PATH.
    /// </summary>
    public static string Python() =>
        Environment.GetEnvironmentVariable("NASIAM_PYTHON") is { Length: > 0 } p ? p
        : File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

    static readonly Lazy<string?> TorchProbe = new(() =>
    {
        try
        {
            var r = Run(Python(), ["-c", "import torch, sys; print(torch.__version__)"], new Dictionary<string, string>(), TimeSpan.FromMinutes(2));
            return r.ExitCode == 0 ? null : $"{Python()} cannot import torch ({r.Describe()}): {Tail(r.Output, 300)}";
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return $"{Python()} could not be started: {e.Message}";
        }
    });

    /// <summary>Null when Python with torch is usable, else why not.</summary>
    public static string? TorchUnavailableReason => TorchProbe.Value;

    /// <summary>
    /// Runs a process to completion (or kills it at <paramref name="timeout"/>), capturing stdout and stderr
    /// together; <paramref name="unset"/> names inherited variables the child must not see.
    /// </summary>
    public static ProcessResult Run(string file, IEnumerable<string> args, IReadOnlyDictionary<string, string> env, TimeSpan timeout, IEnumerable<string>? unset = null)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var name in unset ?? []) psi.Environment.Remove(name);
        foreach (var (k, v) in env) psi.Environment[k] = v;
        var output = new StringBuilder();
        var sw = Stopwatch.StartNew();
        using var p = new Process { StartInfo = psi };
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        p.Start();
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        bool timedOut = !p.WaitForExit(timeout);
        if (timedOut)
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
        }
        p.WaitForExit(); // flushes the asynchronous readers
        lock (output) return new ProcessResult(timedOut ? -1 : p.ExitCode, sw.Elapsed, output.ToString(), timedOut);
    }

    static string Tail(string text, int chars) =>
        text.Length <= chars ? text.Trim() : "…" + text[^chars..].Trim();
}

using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;

namespace NASiam.Web.Worker;

/// <summary>
/// Finds how to start the web app's own executable as a run's child process. The process that
/// hosts the app is not always that executable: under <c>dotnet NASiam.Web.dll</c> it is the
/// dotnet host, and under tests (WebApplicationFactory) it is the test host, with NASiam.Web.dll,
/// its runtimeconfig.json and deps.json copied next to the tests. So:
/// <list type="bullet">
/// <item>the app started through its own apphost (<c>./NASiam.Web</c>, self-contained or not):
/// that same file;</item>
/// <item>otherwise: the dotnet host running NASiam.Web.dll from where this assembly was loaded,
/// which picks up that folder's deps.json and native libraries (runtimes/…/libLibTorchSharp.so,
/// already patched by build/TorchSharpGlibcxxFix.targets in every build output, tests included).</item>
/// </list>
/// The child inherits the server's environment and working directory, so relative data paths and
/// settings such as ONEDNN_MAX_CPU_ISA mean the same to it.
/// </summary>
public sealed class RunProcessLauncher
{
    readonly Lazy<(string FileName, string[] Prefix)> _command = new(Resolve);

    public RunProcessLauncher() { }

    RunProcessLauncher(string fileName, string[] prefix) => _command = new(() => (fileName, prefix));

    /// <summary>
    /// Starts <paramref name="fileName"/> with <paramref name="prefix"/> instead of the app: tests stand in a
    /// scripted child (one that ignores a cancel, or dies while stopping). A factory, not a constructor, so DI keeps the default.
    /// </summary>
    public static RunProcessLauncher ForCommand(string fileName, params string[] prefix) => new(fileName, prefix);

    /// <summary>The executable and the arguments before the child's own, e.g. ("/usr/bin/dotnet", ["/app/NASiam.Web.dll"]).</summary>
    public (string FileName, IReadOnlyList<string> Prefix) Command => _command.Value;

    /// <summary>The command line as a person would type it (for logs).</summary>
    public string Describe() => string.Join(' ', new[] { Command.FileName }.Concat(Command.Prefix).Append(RunWorkerProtocol.ChildArgument));

    public ProcessStartInfo StartInfo(Guid runId)
    {
        var (file, prefix) = Command;
        var psi = new ProcessStartInfo(file)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Environment.CurrentDirectory,
            StandardInputEncoding = new System.Text.UTF8Encoding(false),
            StandardOutputEncoding = new System.Text.UTF8Encoding(false),
            StandardErrorEncoding = new System.Text.UTF8Encoding(false),
        };
        foreach (var p in prefix) psi.ArgumentList.Add(p);
        psi.ArgumentList.Add(RunWorkerProtocol.ChildArgument);
        psi.ArgumentList.Add(runId.ToString());
        return psi;
    }

    static (string, string[]) Resolve()
    {
        var web = typeof(RunWorker).Assembly;
        var dll = web.Location;
        if (string.IsNullOrEmpty(dll))
            throw new InvalidOperationException("NASiam.Web.dll has no file location (single-file publish?); runs cannot start in child processes. Set Nasiam:RunIsolation=inprocess.");
        var processPath = Environment.ProcessPath;
        bool hostIsDotnet = processPath is not null && Path.GetFileNameWithoutExtension(processPath) == "dotnet";
        if (Assembly.GetEntryAssembly() == web && processPath is not null && !hostIsDotnet)
            return (processPath, []);
        if (!File.Exists(dll))
            throw new InvalidOperationException($"{dll} does not exist; runs cannot start in child processes.");
        var dotnet = hostIsDotnet ? processPath! : FindDotnetHost();
        return (dotnet, [dll]);
    }

    /// <summary>The dotnet host: DOTNET_HOST_PATH (set by the SDK), else the root of the running shared runtime.</summary>
    static string FindDotnetHost()
    {
        var exe = OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet";
        var fromEnv = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(fromEnv) && File.Exists(fromEnv)) return fromEnv;
        // .../dotnet/shared/Microsoft.NETCore.App/10.0.x/ → .../dotnet/dotnet
        var runtimeDir = RuntimeEnvironment.GetRuntimeDirectory().TrimEnd(Path.DirectorySeparatorChar);
        var root = Path.GetFullPath(Path.Combine(runtimeDir, "..", "..", ".."));
        var candidate = Path.Combine(root, exe);
        if (File.Exists(candidate)) return candidate;
        var root2 = Environment.GetEnvironmentVariable("DOTNET_ROOT");
        if (!string.IsNullOrEmpty(root2) && File.Exists(Path.Combine(root2, exe))) return Path.Combine(root2, exe);
        throw new InvalidOperationException($"Cannot find the dotnet host (looked at DOTNET_HOST_PATH, {candidate}, DOTNET_ROOT) to start run processes.");
    }
}

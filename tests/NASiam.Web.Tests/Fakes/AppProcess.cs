using System.Diagnostics;

namespace NASiam.Web.Tests.Fakes;

/// <summary>The app as users start it: its own process (dotnet NASiam.Web.dll --urls ...), for start-up behaviour a test host cannot show.</summary>
public static class AppProcess
{
    /// <summary>Starts the app on <paramref name="url"/> (default: a free port) with <paramref name="env"/> over production defaults.</summary>
    public static (Process Process, Task<string> Output) Start(IReadOnlyDictionary<string, string> env, string? url = null)
    {
        var psi = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = AppContext.BaseDirectory,
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "NASiam.Web.dll"));
        psi.ArgumentList.Add("--urls");
        psi.ArgumentList.Add(url ?? $"http://127.0.0.1:{TestEnvironment.FreePort()}");
        foreach (var (k, v) in env) psi.Environment[k] = v;
        psi.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        psi.Environment["DOTNET_DbgEnableMiniDump"] = "0";
        var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        return (p, Task.WhenAll(stdout, stderr).ContinueWith(t => string.Concat(t.Result)));
    }

    /// <summary>Runs the app until it exits by itself (a start-up error); fails the test if it is still running after 90 s.</summary>
    public static async Task<(int Exit, string Output)> RunToExit(IReadOnlyDictionary<string, string> env, string? url = null)
    {
        var (p, output) = Start(env, url);
        using (p)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            try { await p.WaitForExitAsync(timeout.Token); }
            catch (OperationCanceledException)
            {
                p.Kill(entireProcessTree: true);
                Assert.Fail("the app kept running where it should have stopped at start-up");
            }
            return (p.ExitCode, await output);
        }
    }
}

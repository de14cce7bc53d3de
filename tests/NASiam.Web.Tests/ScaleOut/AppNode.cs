using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace NASiam.Web.Tests.ScaleOut;

/// <summary>
/// One node of the app as deployed: <c>dotnet NASiam.Web.dll --role ROLE</c> (built next to the
/// tests) in its own process with its own port, sharing a data directory and a database with the
/// other nodes. Keeps the tail of its output for failure messages.
/// </summary>
public sealed class AppNode : IAsyncDisposable
{
    readonly Process _process;
    readonly StringBuilder _output = new();

    public string Role { get; }
    public int Port { get; }
    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;
    public Uri BaseAddress => new($"http://127.0.0.1:{Port}");

    AppNode(string role, int port, Process process)
    {
        Role = role; Port = port; _process = process;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>Starts the node (does not wait for it: see <see cref="WaitHealthy"/>).</summary>
    public static AppNode Start(string role, IDictionary<string, string> settings)
    {
        int port = TestEnvironment.FreePort();
        var psi = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "NASiam.Web.dll"));
        psi.ArgumentList.Add("--role");
        psi.ArgumentList.Add(role);
        psi.ArgumentList.Add("--urls");
        psi.ArgumentList.Add($"http://127.0.0.1:{port}");
        psi.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        psi.Environment.Remove("ASPNETCORE_URLS");
        foreach (var (k, v) in settings) psi.Environment[k] = v;
        return new AppNode(role, port, Process.Start(psi)!);
    }

    /// <summary>Waits until /healthz answers, or throws with the node's output.</summary>
    public async Task WaitHealthy(TimeSpan timeout)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                if ((await http.GetAsync(new Uri(BaseAddress, "/healthz"))).StatusCode == HttpStatusCode.OK) return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { }
            if (_process.HasExited || DateTime.UtcNow > deadline)
                throw new InvalidOperationException($"{Role} node (pid {Pid}) did not become healthy (exited: {_process.HasExited}):\n{Output()}");
            await Task.Delay(200);
        }
    }

    public async Task<bool> WaitForExit(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try { await _process.WaitForExitAsync(cts.Token); return true; }
        catch (OperationCanceledException) { return false; }
    }

    /// <summary>SIGKILL: no shutdown, no lease release, no status write (a crash, the OOM killer, a pulled plug).</summary>
    public void KillHard() => _process.Kill(entireProcessTree: false);

    public string Output(int lastChars = 6000)
    {
        lock (_output)
        {
            var s = _output.ToString();
            return s.Length <= lastChars ? s : s[^lastChars..];
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }

}

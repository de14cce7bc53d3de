using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace NASiam.Web.LoadBench;

/// <summary>
/// The built web app started as a child process on 127.0.0.1 with its own temporary data directory
/// and in-memory job storage, so the benchmark measures the real server, not a test host.
/// </summary>
public sealed class BenchServer : IAsyncDisposable
{
    readonly Process _process;
    readonly string _data;

    public Uri BaseAddress { get; }
    /// <summary>The server's process id (for EventPipe: <see cref="RenderTimings"/>).</summary>
    public int ProcessId => _process.Id;

    BenchServer(Process process, string data, Uri baseAddress) => (_process, _data, BaseAddress) = (process, data, baseAddress);

    /// <summary>Resident memory of the server process now (Linux /proc), bytes.</summary>
    public long RssBytes()
    {
        foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        return 0;
    }

    /// <summary>
    /// CPU time the server process has used so far (user + system, Linux /proc; clock ticks of 1/100 s),
    /// seconds. Unlike wall-clock rates it barely moves with other work on the host.
    /// </summary>
    public double CpuSeconds()
    {
        var stat = File.ReadAllText($"/proc/{_process.Id}/stat");
        // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture)) / 100.0;
    }

    /// <param name="seed">Writes into the data directory before the server starts (e.g. a synthetic finished run).</param>
    /// <param name="environment">
    /// Development for page benchmarks: a build output (not a publish) serves blazor.web.js and the
    /// other static web assets only with the build's static-asset manifest, which Development loads.
    /// </param>
    public static async Task<BenchServer> StartAsync(string webDll, string appRoot, Action<string>? seed = null, string environment = "Production")
    {
        if (!File.Exists(webDll)) throw new FileNotFoundException($"Built web app not found at {webDll}; build the solution first or pass --web-dll.", webDll);
        var data = Directory.CreateTempSubdirectory("nasiam-bench-").FullName;
        seed?.Invoke(data);
        int port = FreePort();
        var url = new Uri($"http://127.0.0.1:{port}");
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = appRoot, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(webDll);
        psi.Environment["NASIAM_APP_ROOT"] = appRoot;
        psi.Environment["ASPNETCORE_ENVIRONMENT"] = environment;
        psi.Environment["Kestrel__Endpoints__Http__Url"] = url.ToString();
        psi.Environment["Nasiam__DataDirectory"] = data;
        psi.Environment["Nasiam__Storage"] = "inmemory";
        psi.Environment["Nasiam__QueuePollSeconds"] = "0.1";
        psi.Environment["Nasiam__AccessKey"] = "";
        psi.Environment["Logging__LogLevel__Default"] = "Warning";
        psi.Environment["Logging__Console__LogToStandardErrorThreshold"] = "Warning"; // printed as [server] lines
        // (The app-root wwwroot is served from disk, outside the build's static-asset manifest: not news.)
        psi.Environment["Logging__LogLevel__Microsoft.AspNetCore.Builder.StaticAssetDevelopmentRuntimeHandler"] = "Error";
        var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start the web app");
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, e) => { if (e.Data is { Length: > 0 }) Console.Error.WriteLine("[server] " + e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        var server = new BenchServer(p, data, url);
        using var http = new HttpClient { BaseAddress = url };
        var until = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            if (p.HasExited) throw new InvalidOperationException($"the web app exited with code {p.ExitCode}");
            try { if ((await http.GetAsync("/healthz")).IsSuccessStatusCode) return server; }
            catch (HttpRequestException) { }
            if (DateTime.UtcNow > until) { await server.DisposeAsync(); throw new TimeoutException("the web app did not answer /healthz within 60 s"); }
            await Task.Delay(200);
        }
    }

    static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        try { Directory.Delete(_data, recursive: true); } catch (IOException) { }
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace NASiam.Web.Tests.Live;

/// <summary>
/// A throwaway redis-server on loopback (a free port, no persistence, its own temp directory),
/// killed on dispose. Debian's redis-server package provides it (CI installs it with .ci/run).
/// </summary>
public sealed class RedisServer : IAsyncLifetime
{
    public const string Binary = "/usr/bin/redis-server";

    /// <summary>Why Redis tests cannot run here, or null. Under CI=true a missing server is a failure, not a skip.</summary>
    public static string? Missing => File.Exists(Binary) ? null
        : $"{Binary} is missing: install Debian's redis-server (apt-get install -y redis-server; .ci/run does it).";

    Process? _process;
    string? _dir;
    public int Port { get; private set; }
    /// <summary>The StackExchange.Redis connection string for Nasiam:Redis.</summary>
    public string ConnectionString => $"127.0.0.1:{Port}";

    public async Task InitializeAsync()
    {
        if (Missing is { } why)
        {
            // Outside CI its tests are skipped (RedisFact) and this stays unused; under CI=true they fail here.
            if (Environment.GetEnvironmentVariable("CI") == "true") throw new InvalidOperationException(why);
            return;
        }
        _dir = Directory.CreateTempSubdirectory("nasiam-redis-").FullName;
        for (int attempt = 0; ; attempt++)
        {
            Port = TestEnvironment.FreePort();
            var psi = new ProcessStartInfo(Binary) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _dir };
            foreach (var a in new[] { "--port", Port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", _dir, "--daemonize", "no" })
                psi.ArgumentList.Add(a);
            _process = Process.Start(psi)!;
            var log = new System.Text.StringBuilder();
            _process.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
            _process.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
            var until = DateTime.UtcNow.AddSeconds(15);
            while (DateTime.UtcNow < until && !_process.HasExited)
            {
                if (await Answers(Port)) return;
                await Task.Delay(50);
            }
            string output; lock (log) output = log.ToString();
            Kill();
            if (attempt == 2) throw new InvalidOperationException($"redis-server did not start on port {Port}:\n{output}");
        }
    }

    public Task DisposeAsync()
    {
        Kill();
        if (_dir is not null) try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
        return Task.CompletedTask;
    }

    void Kill()
    {
        if (_process is null) return;
        try { if (!_process.HasExited) { _process.Kill(); _process.WaitForExit(5000); } } catch (InvalidOperationException) { }
        _process.Dispose();
        _process = null;
    }

    /// <summary>True when something on the port answers PING with PONG.</summary>
    static async Task<bool> Answers(int port)
    {
        try
        {
            using var c = new TcpClient();
            await c.ConnectAsync(IPAddress.Loopback, port);
            var s = c.GetStream();
            await s.WriteAsync("PING\r\n"u8.ToArray());
            var buf = new byte[16];
            int n = await s.ReadAsync(buf).AsTask().WaitAsync(TimeSpan.FromSeconds(1));
            return System.Text.Encoding.ASCII.GetString(buf, 0, n).StartsWith("+PONG");
        }
        catch (Exception e) when (e is SocketException or IOException or TimeoutException) { return false; }
    }

}

/// <summary>A fact that needs redis-server: skipped with the reason when it is missing, except under CI=true, where the fixture then fails the test.</summary>
public sealed class RedisFactAttribute : FactAttribute
{
    public RedisFactAttribute()
    {
        if (RedisServer.Missing is { } why && Environment.GetEnvironmentVariable("CI") != "true") Skip = why;
    }
}

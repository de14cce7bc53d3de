using System.Diagnostics;
using Npgsql;

namespace NASiam.Web.Tests.Live;

/// <summary>
/// A throwaway PostgreSQL cluster on loopback (initdb in a temp directory, trust auth, fsync off, a
/// free port), killed on dispose. Debian's postgresql package provides the binaries. PostgreSQL
/// refuses to run as root, so under root (CI) the cluster runs as the package's postgres user.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    /// <summary>The newest /usr/lib/postgresql/N/bin, or null.</summary>
    public static string? BinDirectory => Directory.Exists("/usr/lib/postgresql")
        ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin"))
            .Where(b => File.Exists(Path.Combine(b, "initdb"))).OrderByDescending(b => b, StringComparer.Ordinal).FirstOrDefault()
        : null;

    public static string? Missing => BinDirectory is null
        ? "PostgreSQL server binaries (/usr/lib/postgresql/N/bin/initdb) are missing: install Debian's postgresql (.ci/run does it)." : null;

    Process? _process;
    string? _dir;
    public int Port { get; private set; }
    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=nasiam;Database=postgres;Timeout=5";

    static bool IsRoot => Environment.UserName == "root";

    public async Task InitializeAsync()
    {
        if (Missing is { } why)
        {
            if (Environment.GetEnvironmentVariable("CI") == "true") throw new InvalidOperationException(why);
            return; // the tests are skipped (PostgresFact)
        }
        var bin = BinDirectory!;
        _dir = Directory.CreateTempSubdirectory("nasiam-pg-").FullName;
        if (IsRoot) Run("chown", ["-R", "postgres:postgres", _dir]);
        var data = Path.Combine(_dir, "data");
        Run(Path.Combine(bin, "initdb"), ["-D", data, "-A", "trust", "-U", "nasiam", "-E", "UTF8", "--no-sync"], asPostgres: true);
        Port = RedisServer.FreePort();
        _process = Start(Path.Combine(bin, "postgres"), ["-D", data, "-p", Port.ToString(), "-k", _dir, "-c", "listen_addresses=127.0.0.1",
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]);
        var log = new System.Text.StringBuilder();
        _process.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var until = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < until && !_process.HasExited)
        {
            try
            {
                await using var c = new NpgsqlConnection(ConnectionString);
                await c.OpenAsync();
                return;
            }
            catch (NpgsqlException) { await Task.Delay(100); }
        }
        string output; lock (log) output = log.ToString();
        throw new InvalidOperationException($"postgres did not start on port {Port}:\n{output}");
    }

    static ProcessStartInfo Info(string file, IEnumerable<string> args, bool asPostgres)
    {
        var psi = new ProcessStartInfo(asPostgres && IsRoot ? "runuser" : file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        if (asPostgres && IsRoot) foreach (var a in new[] { "-u", "postgres", "--", file }) psi.ArgumentList.Add(a);
        foreach (var a in args) psi.ArgumentList.Add(a);
        return psi;
    }

    static void Run(string file, IEnumerable<string> args, bool asPostgres = false)
    {
        using var p = Process.Start(Info(file, args, asPostgres))!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{Path.GetFileName(file)} failed ({p.ExitCode}): {output.Result}{error}");
    }

    static Process Start(string file, IEnumerable<string> args) => Process.Start(Info(file, args, asPostgres: true))!;

    public Task DisposeAsync()
    {
        if (_process is not null)
        {
            try { if (!_process.HasExited) { _process.Kill(entireProcessTree: true); _process.WaitForExit(5000); } } catch (InvalidOperationException) { }
            _process.Dispose();
        }
        if (_dir is not null) try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        return Task.CompletedTask;
    }
}

/// <summary>A fact that needs a PostgreSQL server: skipped with the reason when it is missing, except under CI=true, where the fixture then fails the test.</summary>
public sealed class PostgresFactAttribute : FactAttribute
{
    public PostgresFactAttribute()
    {
        if (PostgresServer.Missing is { } why && Environment.GetEnvironmentVariable("CI") != "true") Skip = why;
    }
}

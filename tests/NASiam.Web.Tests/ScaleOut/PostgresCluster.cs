using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using Npgsql;
using Xunit.Sdk;

namespace NASiam.Web.Tests.ScaleOut;

/// <summary>
/// A throwaway PostgreSQL cluster on loopback for the tests: initdb + pg_ctl from the Debian
/// package (/usr/lib/postgresql/N/bin, newest N; or NASIAM_PG_BIN) in a temp folder, on a free
/// port, trust authentication, fsync off. Started once per test process on first use and dropped
/// (stopped, folder deleted) when the process exits. As root (initdb refuses root) the server runs
/// as the package's 'postgres' user via runuser. Each test takes its own database
/// (<see cref="NewDatabase"/>). Under CI=true a missing PostgreSQL fails the tests that need it;
/// elsewhere they are skipped with <see cref="SkipReason"/>.
/// </summary>
public static class PostgresCluster
{
    static readonly Lazy<Server> Instance = new(Start, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The folder holding initdb and pg_ctl, or null.</summary>
    public static string? BinDirectory { get; } = FindBin();

    static bool OnCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Null when the tests can run (PostgreSQL found, or CI=true so that its absence fails); else why they are skipped.</summary>
    public static string? SkipReason => BinDirectory is not null || OnCi ? null
        : "PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin or NASIAM_PG_BIN; install the 'postgresql' package (CI=true makes this a failure)";

    static string? FindBin()
    {
        var env = Environment.GetEnvironmentVariable("NASIAM_PG_BIN");
        if (!string.IsNullOrEmpty(env) && File.Exists(Path.Combine(env, "initdb"))) return env;
        if (!Directory.Exists("/usr/lib/postgresql")) return null;
        return Directory.GetDirectories("/usr/lib/postgresql")
            .Select(d => (Dir: Path.Combine(d, "bin"), Version: int.TryParse(Path.GetFileName(d), out var v) ? v : 0))
            .Where(x => File.Exists(Path.Combine(x.Dir, "initdb")) && File.Exists(Path.Combine(x.Dir, "pg_ctl")))
            .OrderByDescending(x => x.Version).Select(x => x.Dir).FirstOrDefault();
    }

    /// <summary>Creates a fresh empty database and returns its connection string (short connect timeout).</summary>
    public static string NewDatabase(string prefix = "t")
    {
        var server = Instance.Value;
        var name = $"{prefix}_{Guid.NewGuid():N}"[..Math.Min(40, prefix.Length + 33)];
        using (var c = new NpgsqlConnection(server.ConnectionString("postgres")))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = $"CREATE DATABASE \"{name}\"";
            cmd.ExecuteNonQuery();
        }
        return server.ConnectionString(name);
    }

    /// <summary>The port the cluster listens on (127.0.0.1).</summary>
    public static int Port => Instance.Value.Port;

    sealed record Server(string Directory, int Port, string? RunAs)
    {
        public string ConnectionString(string database) =>
            $"Host=127.0.0.1;Port={Port};Username=nasiam;Database={database};Timeout=5;Include Error Detail=true";
    }

    static Server Start()
    {
        var bin = BinDirectory ?? throw new InvalidOperationException(
            "PostgreSQL server binaries (initdb, pg_ctl) were not found (/usr/lib/postgresql/*/bin or NASIAM_PG_BIN) and CI=true requires them: install the 'postgresql' package.");
        RemoveStoppedClusters();
        var dir = System.IO.Directory.CreateTempSubdirectory("nasiam-pg-").FullName;
        string? runAs = Environment.UserName == "root" || geteuid() == 0 ? "postgres" : null;
        if (runAs is not null) Run("chown", null, "-R", runAs, dir);
        int port = TestEnvironment.FreePort();
        Run(Path.Combine(bin, "initdb"), runAs, "-D", Path.Combine(dir, "data"), "-U", "nasiam", "-A", "trust", "-E", "UTF8", "--no-sync");
        Run(Path.Combine(bin, "pg_ctl"), runAs, "-D", Path.Combine(dir, "data"), "-l", Path.Combine(dir, "server.log"), "-w", "-t", "60",
            "-o", $"-p {port} -k {dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200", "start");
        var server = new Server(dir, port, runAs);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Stop(server, bin);
        return server;
    }

    static void Stop(Server s, string bin)
    {
        try { Run(Path.Combine(bin, "pg_ctl"), s.RunAs, "-D", Path.Combine(s.Directory, "data"), "-m", "immediate", "-w", "stop"); }
        catch (Exception) { /* already gone */ }
        try { System.IO.Directory.Delete(s.Directory, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>Folders of earlier test processes whose server is stopped (a host killed before its exit handler finished).</summary>
    static void RemoveStoppedClusters()
    {
        foreach (var d in System.IO.Directory.GetDirectories(Path.GetTempPath(), "nasiam-pg-*"))
        {
            if (File.Exists(Path.Combine(d, "data", "postmaster.pid"))) continue;
            try { System.IO.Directory.Delete(d, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    static void Run(string exe, string? runAs, params string[] args)
    {
        var psi = new ProcessStartInfo(runAs is null ? exe : "runuser") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (runAs is not null) { psi.ArgumentList.Add("-u"); psi.ArgumentList.Add(runAs); psi.ArgumentList.Add("--"); psi.ArgumentList.Add(exe); }
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        if (!p.WaitForExit(120_000)) { p.Kill(true); throw new TimeoutException($"{exe} did not finish in 120 s"); }
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{Path.GetFileName(exe)} {string.Join(' ', args)} exited {p.ExitCode}: {stderr} {stdout.Result}");
    }


    [System.Runtime.InteropServices.DllImport("libc")]
    static extern uint geteuid();
}

/// <summary>A theory row for the PostgreSQL backend: skipped with <see cref="PostgresCluster.SkipReason"/> when no server can be started (never under CI=true).</summary>
public sealed class PostgresDataAttribute : DataAttribute
{
    public PostgresDataAttribute() => Skip = PostgresCluster.SkipReason!;
    public override IEnumerable<object[]> GetData(MethodInfo testMethod) => [["postgresql"]];
}

/// <summary>A fact that needs PostgreSQL: skipped with <see cref="PostgresCluster.SkipReason"/> when none can be started (never under CI=true).</summary>
public sealed class PostgresFactAttribute : FactAttribute
{
    public PostgresFactAttribute() => Skip = PostgresCluster.SkipReason!;
}

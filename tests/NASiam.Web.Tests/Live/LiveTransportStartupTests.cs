using System.Diagnostics;

namespace NASiam.Web.Tests.Live;

/// <summary>The app as users start it (its own process): a live-events transport configured but unreachable is a clear error naming the setting and a non-zero exit.</summary>
public class LiveTransportStartupTests
{
    [Fact]
    public async Task RedisConfiguredButUnreachable_StopsWithAnErrorNamingTheSetting_ExitNonZero()
    {
        int port = TestEnvironment.FreePort(); // nothing listens there
        var (exit, output) = await StartApp(new() { ["Nasiam__Redis"] = $"127.0.0.1:{port},connectTimeout=2000" });
        Assert.Equal(2, exit); // the app's one exit code for a configuration it cannot start with
        Assert.Contains($"Nasiam:Redis is set but Redis at 127.0.0.1:{port} cannot be reached", output);
    }

    [Fact]
    public async Task PostgresLiveEventsButUnreachable_StopsWithAnErrorNamingTheSetting_ExitNonZero()
    {
        int port = TestEnvironment.FreePort();
        var (exit, output) = await StartApp(new()
        {
            ["Nasiam__LiveEvents"] = "postgresql", ["Nasiam__ConnectionString"] = $"Host=127.0.0.1;Port={port};Username=x;Timeout=2",
        });
        Assert.Equal(2, exit); // the app's one exit code for a configuration it cannot start with
        Assert.Contains($"PostgreSQL at 127.0.0.1:{port} (Nasiam:ConnectionString) cannot be reached", output);
    }

    static async Task<(int Exit, string Output)> StartApp(Dictionary<string, string> env)
    {        var data = Directory.CreateTempSubdirectory("nasiam-redis-down-").FullName;
        var psi = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = AppContext.BaseDirectory,
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "NASiam.Web.dll"));
        psi.ArgumentList.Add("--urls");
        psi.ArgumentList.Add($"http://127.0.0.1:{TestEnvironment.FreePort()}");
        psi.Environment["Nasiam__DataDirectory"] = data;
        psi.Environment["Nasiam__Storage"] = "inmemory";
        foreach (var (k, v) in env) psi.Environment[k] = v;
        psi.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        psi.Environment["DOTNET_DbgEnableMiniDump"] = "0";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        try { await p.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail("the app kept running with Redis unreachable");
        }
        string output = await stdout + await stderr;
        try { Directory.Delete(data, recursive: true); } catch (IOException) { }
        return (p.ExitCode, output);
    }
}

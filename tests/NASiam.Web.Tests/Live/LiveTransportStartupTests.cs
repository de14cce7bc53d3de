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
    {
        var data = Directory.CreateTempSubdirectory("nasiam-redis-down-").FullName;
        env["Nasiam__DataDirectory"] = data;
        env["Nasiam__Storage"] = "inmemory";
        var result = await NASiam.Web.Tests.Fakes.AppProcess.RunToExit(env);
        try { Directory.Delete(data, recursive: true); } catch (IOException) { }
        return result;
    }
}

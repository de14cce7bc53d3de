using System.Net;
using System.Net.Sockets;
using NASiam.Web.Runs.Storage;
using NASiam.Web.Tests.Fakes;

namespace NASiam.Web.Tests.Hosting;

/// <summary>Start-up refusals of the app as users start it (its own process): one line naming the way out, exit code 2.</summary>
public class AppStartupTests : IDisposable
{
    readonly string _data = Directory.CreateTempSubdirectory("nasiam-startup-").FullName;

    // Was: an unhandled exception, exit code 134 and a 59-line stack trace. (The host still logs the bind
    // failure with its trace before this line: its logger category also reports failed background services.)
    [Fact]
    public async Task AnAddressInUse_IsOneLineNamingTheWayOut_Exit2()
    {
        using var occupant = new TcpListener(IPAddress.Loopback, 0);
        occupant.Start();
        int port = ((IPEndPoint)occupant.LocalEndpoint).Port;
        var (exit, output) = await AppProcess.RunToExit(new Dictionary<string, string> { ["Nasiam__DataDirectory"] = _data, ["Nasiam__Storage"] = "inmemory" },
            $"http://127.0.0.1:{port}");
        Assert.Equal(2, exit);
        Assert.Contains($"NASiam.Web cannot start: Failed to bind to address http://127.0.0.1:{port}: address already in use.", output);
        Assert.Contains("--urls", output);
        // Nothing ran first: the job workers start only once the address is bound (they took a queued run before).
        Assert.DoesNotContain("one worker on queue", output);
    }

    // Was: "Unhandled exception. System.InvalidOperationException: Failed to convert configuration value 'abc' at
    // 'Nasiam:LeaseSeconds' to type 'System.Double'", a stack trace and exit code 134; every other bad setting is one line, exit 2.
    [Theory]
    [InlineData("Nasiam__LeaseSeconds", "abc", "NASiam.Web cannot start: Nasiam:LeaseSeconds 'abc' is not a number")]
    [InlineData("Nasiam__ResumeInterruptedRuns", "maybe", "NASiam.Web cannot start: Nasiam:ResumeInterruptedRuns 'maybe' is not true or false.")]
    public async Task ASettingOfTheWrongType_IsOneLineNamingIt_Exit2(string variable, string value, string expected)
    {
        var (exit, output) = await AppProcess.RunToExit(new Dictionary<string, string>
        {
            ["Nasiam__DataDirectory"] = _data, ["Nasiam__Storage"] = "inmemory", [variable] = value,
        });
        Assert.Equal(2, exit);
        Assert.Contains(expected, output);
        Assert.DoesNotContain("Unhandled exception", output);
        Assert.DoesNotContain("   at ", output);
    }

    // Was: a second app on the same SQLite folder started without a word and ran jobs beside the first.
    [Fact]
    public async Task ASecondAppOnTheSameSqliteDataDirectory_Stops_WhileTheFirstServes_AndTheLockGoesWithTheFirst()
    {
        var env = new Dictionary<string, string> { ["Nasiam__DataDirectory"] = _data };
        int port = TestEnvironment.FreePort();
        var (first, _) = AppProcess.Start(env, $"http://127.0.0.1:{port}");
        try
        {
            await WaitHealthy(port);
            var (exit, output) = await AppProcess.RunToExit(env);
            Assert.Equal(2, exit);
            Assert.Contains($"NASiam.Web cannot start: another NASiam.Web serves the data directory {_data} (Nasiam:DataDirectory", output);
            Assert.False(first.HasExited);
            Assert.Equal(HttpStatusCode.OK, (await new HttpClient().GetAsync($"http://127.0.0.1:{port}/healthz")).StatusCode);
        }
        finally
        {
            first.Kill(entireProcessTree: true); // as a crash would: the operating system lets go of the lock
            await first.WaitForExitAsync();
            first.Dispose();
        }
        int again = TestEnvironment.FreePort();
        var (next, _) = AppProcess.Start(env, $"http://127.0.0.1:{again}");
        try { await WaitHealthy(again); }
        finally
        {
            next.Kill(entireProcessTree: true);
            await next.WaitForExitAsync();
            next.Dispose();
        }
        Assert.True(File.Exists(Path.Combine(_data, DataDirectoryLock.FileName)));
    }

    static async Task WaitHealthy(int port)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var until = DateTime.UtcNow.AddSeconds(90);
        while (DateTime.UtcNow < until)
        {
            try
            {
                if ((await http.GetAsync($"http://127.0.0.1:{port}/healthz")).IsSuccessStatusCode) return;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            await Task.Delay(250);
        }
        Assert.Fail($"the app on port {port} did not become healthy within 90 s");
    }

    public void Dispose()
    {
        try { Directory.Delete(_data, recursive: true); } catch (IOException) { }
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace NASiam.Web.Tests.Hosting;

/// <summary>
/// The app as users start it (its own process, Kestrel): the address comes from <c>--urls</c> or
/// <c>ASPNETCORE_URLS</c> when given (the root appsettings.json once pinned Kestrel:Endpoints and
/// silently overrode both).
/// </summary>
public class ListenAddressTests
{

    /// <summary>Starts NASiam.Web.dll (built next to the tests) and returns once /healthz answers on <paramref name="port"/>, or throws with its output.</summary>
    static async Task AssertServesOn(int port, IEnumerable<string> args, IDictionary<string, string>? env = null)
    {
        var data = Directory.CreateTempSubdirectory("nasiam-urls-").FullName;
        var psi = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "NASiam.Web.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["Nasiam__DataDirectory"] = data;
        psi.Environment["Nasiam__Storage"] = "inmemory";
        psi.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        psi.Environment.Remove("ASPNETCORE_URLS");
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var output = new System.Text.StringBuilder();
        p.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            var deadline = DateTime.UtcNow.AddSeconds(90);
            while (true)
            {
                try
                {
                    var r = await http.GetAsync($"http://127.0.0.1:{port}/healthz");
                    Assert.Equal(HttpStatusCode.OK, r.StatusCode);
                    return;
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    if (p.HasExited || DateTime.UtcNow > deadline)
                        Assert.Fail($"the app did not serve on port {port} (exited: {p.HasExited}):\n{output}");
                    await Task.Delay(250);
                }
            }
        }
        finally
        {
            if (!p.HasExited) { p.Kill(entireProcessTree: true); await p.WaitForExitAsync(); }
            try { Directory.Delete(data, true); } catch (IOException) { }
        }
    }

    [Fact]
    public async Task UrlsOnTheCommandLine_AreHonoured()
    {
        int port = TestEnvironment.FreePort();
        await AssertServesOn(port, ["--urls", $"http://127.0.0.1:{port}"]);
    }

    [Fact]
    public async Task AspNetCoreUrlsVariable_IsHonoured()
    {
        int port = TestEnvironment.FreePort();
        await AssertServesOn(port, [], new Dictionary<string, string> { ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}" });
    }
}

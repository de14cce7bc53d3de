using System.Net;
using Microsoft.AspNetCore.SignalR.Client;
using NASiam.Web.Tests.Fakes;

namespace NASiam.Web.Tests.Security;

public class AccessKeyAuthenticationTests : IAsyncLifetime
{
    const string Key = "correct-horse-battery";
    readonly string _data = Directory.CreateTempSubdirectory("nasiam-key-").FullName;
    NasiamAppFactory _app = null!;

    public Task InitializeAsync()
    {
        _app = new NasiamAppFactory(_data, new ScriptedRunEngine(), accessKey: Key);
        return Task.CompletedTask;
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/runs")]
    [InlineData("/hangfire")]
    public async Task Page_WithoutKey_RedirectsToSignIn(string path)
    {
        using var c = _app.Api();
        var r = await c.GetAsync(path);
        Assert.Equal(HttpStatusCode.Redirect, r.StatusCode);
        Assert.StartsWith("/signin", r.Headers.Location!.PathAndQuery);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("wrong-key-123")]
    public async Task Api_WithoutOrWrongKey_Returns401(string? key)
    {
        using var c = _app.Api(key);
        Assert.Equal(HttpStatusCode.Unauthorized, (await c.GetAsync("/api/runs")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await c.PostAsync("/api/runs", new StringContent("{}"))).StatusCode);
    }

    [Fact]
    public async Task Api_WithKey_Succeeds_AndHangfireWithKeyIsServed()
    {
        using var c = _app.Api(Key);
        Assert.Equal(HttpStatusCode.OK, (await c.GetAsync("/api/runs")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await c.GetAsync("/hangfire")).StatusCode);
    }

    [Fact]
    public async Task Hub_WithoutKey_IsRefused_WithKey_Connects()
    {
        await using var anonymous = _app.Hub();
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => anonymous.StartAsync());
        Assert.Contains("401", ex.Message);

        await using var keyed = _app.Hub(Key);
        await keyed.StartAsync();
        Assert.Equal(HubConnectionState.Connected, keyed.State);
    }

    [Fact]
    public async Task SignIn_WithKey_SetsCookieThatOpensPages()
    {
        using var c = _app.CreateClient(new() { AllowAutoRedirect = false, HandleCookies = true });
        var wrong = await c.PostAsync("/signin", new FormUrlEncodedContent(new Dictionary<string, string> { ["key"] = "nope-nope", ["returnUrl"] = "/runs" }));
        Assert.Contains("error=1", wrong.Headers.Location!.ToString());
        var ok = await c.PostAsync("/signin", new FormUrlEncodedContent(new Dictionary<string, string> { ["key"] = Key, ["returnUrl"] = "/runs" }));
        Assert.Equal("/runs", ok.Headers.Location!.ToString());
        Assert.Equal(HttpStatusCode.OK, (await c.GetAsync("/runs")).StatusCode);
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        try { Directory.Delete(_data, true); } catch (IOException) { }
    }
}

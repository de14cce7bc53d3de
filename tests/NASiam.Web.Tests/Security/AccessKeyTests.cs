using System.Net;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using NASiam.Web.Hubs;
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

    /// <summary>
    /// A hub client that sends the key the way SignalR clients send an access token: a browser's
    /// WebSocket carries it only as the access_token query parameter (no negotiate, no headers);
    /// the .NET and JavaScript clients' negotiate carries "Authorization: Bearer".
    /// </summary>
    HubConnection TokenHub(string key, bool queryOnly) => new HubConnectionBuilder()
        .WithUrl(new Uri(_app.Server.BaseAddress, queryOnly ? $"/hubs/runs?access_token={Uri.EscapeDataString(key)}" : "/hubs/runs"), o =>
        {
            o.Transports = Microsoft.AspNetCore.Http.Connections.HttpTransportType.WebSockets;
            o.SkipNegotiation = queryOnly;
            if (!queryOnly) o.AccessTokenProvider = () => Task.FromResult<string?>(key);
            o.HttpMessageHandlerFactory = _ => _app.Server.CreateHandler();
            o.WebSocketFactory = async (ctx, ct) =>
            {
                var ws = _app.Server.CreateWebSocketClient();
                // What the .NET client's own factory does with the token (a browser cannot: it uses the query).
                if (!queryOnly) ws.ConfigureRequest = r => r.Headers.Authorization = $"Bearer {key}";
                return await ws.ConnectAsync(ctx.Uri, ct);
            };
        }).Build();

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Hub_AcceptsTheKeyAsSignalRAccessToken_AndRefusesAWrongOne(bool queryOnly)
    {
        await using var keyed = TokenHub(Key, queryOnly);
        await keyed.StartAsync();
        Assert.Equal(HubConnectionState.Connected, keyed.State);
        var missing = await Assert.ThrowsAsync<HubException>(() => keyed.InvokeAsync<RunSnapshot>("Subscribe", Guid.NewGuid()));
        Assert.Contains("does not exist", missing.Message); // authorised: the hub itself answered

        await using var wrong = TokenHub("wrong-key-wrong", queryOnly);
        await Assert.ThrowsAnyAsync<Exception>(() => wrong.StartAsync());
        Assert.NotEqual(HubConnectionState.Connected, wrong.State);
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

using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Hangfire.Dashboard;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;
using NASiam.Web.Options;

namespace NASiam.Web.Security;

/// <summary>
/// Optional access key. When Nasiam:AccessKey is set, browsers sign in once (cookie), API clients
/// send the X-Api-Key header and hub clients the header or the key as their SignalR access token;
/// every endpoint, the hub and /hangfire require one of them.
/// Without a key the app is open (it listens on localhost by default).
/// </summary>
public static class AccessKeyAuthentication
{
    public const string HeaderName = "X-Api-Key";
    public const string PolicyName = "nasiam";
    public const string ApiKeyScheme = "nasiam-key";
    public const string SelectorScheme = "nasiam";
    public const string CookieName = "nasiam.auth";

    public static IServiceCollection AddNasiamAccessKey(this IServiceCollection services)
    {
        services.AddAuthentication(SelectorScheme)
            .AddPolicyScheme(SelectorScheme, "header or cookie", o => o.ForwardDefaultSelector = ctx =>
                ctx.Request.Headers.ContainsKey(HeaderName) || (IsMachinePath(ctx.Request.Path) && !ctx.Request.Cookies.ContainsKey(CookieName))
                    ? ApiKeyScheme : CookieAuthenticationDefaults.AuthenticationScheme)
            .AddCookie(o =>
            {
                o.LoginPath = "/signin";
                o.Cookie.Name = CookieName;
                o.Cookie.HttpOnly = true;
                o.Cookie.SameSite = SameSiteMode.Strict;
                o.ExpireTimeSpan = TimeSpan.FromDays(7);
            })
            .AddScheme<AuthenticationSchemeOptions, ApiKeyHandler>(ApiKeyScheme, null);
        services.AddAuthorization(o =>
        {
            // The fallback covers every endpoint without its own metadata: pages, API, hub, /hangfire.
            o.FallbackPolicy = o.DefaultPolicy = new AuthorizationPolicyBuilder(SelectorScheme)
                .AddRequirements(new AccessKeyRequirement()).Build();
            o.AddPolicy(PolicyName, o.DefaultPolicy);
        });
        services.AddSingleton<IAuthorizationHandler, AccessKeyRequirementHandler>();
        services.AddCascadingAuthenticationState();
        return services;
    }

    /// <summary>API and hub requests get 401 instead of a redirect to the sign-in page.</summary>
    static bool IsMachinePath(PathString p) => p.StartsWithSegments("/api") || p.StartsWithSegments("/hubs");

    /// <summary>Constant-time comparison, so the key cannot be guessed byte by byte from timings.</summary>
    public static bool Matches(string? configured, string? given) =>
        !string.IsNullOrEmpty(configured) && given is not null &&
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(configured)), SHA256.HashData(Encoding.UTF8.GetBytes(given)));

    public static ClaimsPrincipal Principal(string scheme) =>
        new(new ClaimsIdentity([new Claim(ClaimTypes.Name, "nasiam-user")], scheme));
}

/// <summary>Satisfied when no key is configured, or the user authenticated with it.</summary>
public sealed class AccessKeyRequirement : IAuthorizationRequirement;

public sealed class AccessKeyRequirementHandler(IOptions<NasiamWebOptions> options) : AuthorizationHandler<AccessKeyRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, AccessKeyRequirement requirement)
    {
        if (!options.Value.AccessKeyRequired || context.User.Identity?.IsAuthenticated == true) context.Succeed(requirement);
        return Task.CompletedTask;
    }
}

/// <summary>
/// Authenticates requests carrying the right key: the X-Api-Key header anywhere; on /hubs also
/// "Authorization: Bearer KEY" or the access_token query parameter (how SignalR clients send an
/// access token; docs/hub.md).
/// </summary>
public sealed class ApiKeyHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> schemeOptions, ILoggerFactory logger, UrlEncoder encoder, IOptions<NasiamWebOptions> options)
    : AuthenticationHandler<AuthenticationSchemeOptions>(schemeOptions, logger, encoder)
{
    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? given = Request.Headers[AccessKeyAuthentication.HeaderName];
        if (given is null && Request.Path.StartsWithSegments("/hubs"))
        {
            // SignalR clients given an access token (accessTokenFactory / AccessTokenProvider) send it as
            // "Authorization: Bearer" on negotiate and, since browsers cannot set WebSocket headers, as
            // the access_token query parameter on the WebSocket (and SSE) request. access_key: older clients.
            var auth = Request.Headers.Authorization.ToString();
            if (auth.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) given = auth["Bearer ".Length..].Trim();
            given ??= Request.Query["access_token"].FirstOrDefault() ?? Request.Query["access_key"].FirstOrDefault();
        }
        if (given is null) return Task.FromResult(AuthenticateResult.NoResult());
        return Task.FromResult(AccessKeyAuthentication.Matches(options.Value.AccessKey, given)
            ? AuthenticateResult.Success(new AuthenticationTicket(AccessKeyAuthentication.Principal(Scheme.Name), Scheme.Name))
            : AuthenticateResult.Fail("The access key is wrong."));
    }
}

/// <summary>The endpoint's own authorization protects /hangfire; Hangfire's default (local requests only) is replaced.</summary>
public sealed class DashboardAccessFilter : IDashboardAuthorizationFilter
{
    public bool Authorize(DashboardContext context) => true;
}

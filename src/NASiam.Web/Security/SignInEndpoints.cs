using System.Net;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.Extensions.Options;
using NASiam.Web.Options;

namespace NASiam.Web.Security;

/// <summary>/signin (a plain HTML form, usable without the Blazor circuit) and /signout.</summary>
public static class SignInEndpoints
{
    public static void MapSignIn(this IEndpointRouteBuilder app)
    {
        app.MapGet("/signin", (string? returnUrl, string? error) => Results.Content(Page(returnUrl, error is not null), "text/html"))
            .AllowAnonymous().ExcludeFromDescription();
        app.MapPost("/signin", async (HttpContext ctx, IOptions<NasiamWebOptions> options) =>
        {
            var form = await ctx.Request.ReadFormAsync();
            string returnUrl = form["returnUrl"].ToString() is { Length: > 0 } r && r.StartsWith('/') && !r.StartsWith("//") ? r : "/";
            if (!AccessKeyAuthentication.Matches(options.Value.AccessKey, form["key"]))
                return Results.Redirect($"/signin?error=1&returnUrl={WebUtility.UrlEncode(returnUrl)}");
            await ctx.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, AccessKeyAuthentication.Principal(CookieAuthenticationDefaults.AuthenticationScheme));
            return Results.LocalRedirect(returnUrl);
        }).AllowAnonymous().DisableAntiforgery().ExcludeFromDescription();
        app.MapPost("/signout", async (HttpContext ctx) =>
        {
            await ctx.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
            return Results.Redirect("/signin");
        }).AllowAnonymous().DisableAntiforgery().ExcludeFromDescription();
    }

    static string Page(string? returnUrl, bool failed) => $$"""
        <!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Sign in · NASiam.Web</title><link href="/_content/MudBlazor/MudBlazor.min.css" rel="stylesheet"><link href="/css/app.css" rel="stylesheet">
        <style>body{font-family:Roboto,sans-serif;display:flex;justify-content:center;margin-top:10vh}form{display:flex;flex-direction:column;gap:12px;width:320px}
        input,button{padding:10px;font-size:16px}.err{color:#c62828}</style></head>
        <body><form method="post" action="/signin"><h2>NASiam.Web</h2><label for="key">Access key</label>
        <input id="key" name="key" type="password" autocomplete="current-password" autofocus required>
        <input type="hidden" name="returnUrl" value="{{WebUtility.HtmlEncode(returnUrl ?? "/")}}">
        {{(failed ? "<div class=\"err\" id=\"signin-error\">That key is not right.</div>" : "")}}
        <button type="submit" id="signin-submit">Sign in</button></form></body></html>
        """;
}

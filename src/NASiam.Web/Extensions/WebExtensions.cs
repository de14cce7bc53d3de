using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.FileProviders;
using MudBlazor.Services;
using NASiam.Web.Components;

namespace NASiam.Web.Extensions;

public static class WebExtensions
{
    /// <summary>Registers everything the app needs; Program.cs stays thin.</summary>
    public static WebApplicationBuilder AddNasiamWeb(this WebApplicationBuilder builder)
    {
        var appRoot = AppRoot.Find();
        builder.Configuration.AddRootAppSettings(appRoot, builder.Environment.EnvironmentName);
        builder.Services.AddSingleton(new AppRootInfo(appRoot, AppRoot.WebRoot(appRoot)));

        builder.Services.AddRazorComponents().AddInteractiveServerComponents();
        builder.Services.AddMudServices();
        return builder;
    }

    public static WebApplication MapNasiamWeb(this WebApplication app)
    {
        var root = app.Services.GetRequiredService<AppRootInfo>();
        if (!app.Environment.IsDevelopment()) app.UseExceptionHandler("/error", createScopeForErrors: true);
        if (Directory.Exists(root.WebRoot))
            app.UseStaticFiles(new StaticFileOptions { FileProvider = new PhysicalFileProvider(root.WebRoot) });
        app.UseAntiforgery();
        app.MapStaticAssets();
        app.MapGet("/healthz", () => Results.Ok(new { status = "ok" }));
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
        return app;
    }

    /// <summary>
    /// Puts the root appsettings.json (and appsettings.{Environment}.json) where the default
    /// appsettings sources sit, so environment variables and the command line still override it.
    /// </summary>
    static void AddRootAppSettings(this ConfigurationManager config, string appRoot, string environment)
    {
        var sources = ((IConfigurationBuilder)config).Sources;
        int insertAt = sources.Select((s, i) => (s, i)).LastOrDefault(p => p.s is JsonConfigurationSource j && j.Path?.StartsWith("appsettings", StringComparison.OrdinalIgnoreCase) == true).i + 1;
        if (insertAt <= 0) insertAt = Math.Min(sources.Count, 1);
        var main = new JsonConfigurationSource { Path = Path.Combine(appRoot, "appsettings.json"), Optional = true, ReloadOnChange = true };
        var env = new JsonConfigurationSource { Path = Path.Combine(appRoot, $"appsettings.{environment}.json"), Optional = true, ReloadOnChange = true };
        main.ResolveFileProvider();
        env.ResolveFileProvider();
        sources.Insert(insertAt, main);
        sources.Insert(insertAt + 1, env);
    }
}

/// <summary>Where the app's root files were found.</summary>
public sealed record AppRootInfo(string AppRoot, string WebRoot);

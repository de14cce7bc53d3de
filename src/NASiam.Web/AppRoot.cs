using System.Reflection;

namespace NASiam.Web;

/// <summary>
/// Finds the folder that holds the app's real <c>appsettings.json</c> and <c>wwwroot/</c>: the
/// repository root. We serve that folder directly (a static-file provider plus the root JSON
/// as a configuration source) instead of moving the host project to the root, because static
/// web assets deliberately do not serve a linked wwwroot, and keeping the project in src/ keeps
/// the layout of every other project. MudBlazor's <c>_content/</c> still comes from static web assets.
/// Order: NASIAM_APP_ROOT, then a published layout (files next to the binaries), then the
/// repository root recorded at build time.
/// </summary>
public static class AppRoot
{
    public const string EnvironmentVariable = "NASIAM_APP_ROOT";

    public static string Find()
    {
        var fromEnv = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnv)) return Path.GetFullPath(fromEnv);

        var baseDir = AppContext.BaseDirectory;
        if (File.Exists(Path.Combine(baseDir, "appsettings.json"))) return baseDir;

        var recorded = typeof(AppRoot).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "NasiamAppRoot")?.Value;
        if (recorded is not null && File.Exists(Path.Combine(recorded, "appsettings.json"))) return recorded;

        return baseDir;
    }

    /// <summary>The static files folder under the app root (published: approot-wwwroot).</summary>
    public static string WebRoot(string appRoot)
    {
        var published = Path.Combine(appRoot, "approot-wwwroot");
        return Directory.Exists(published) ? published : Path.Combine(appRoot, "wwwroot");
    }
}

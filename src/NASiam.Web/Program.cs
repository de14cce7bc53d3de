using Microsoft.Extensions.Options;
using NASiam.Web.Extensions;
using NASiam.Web.Runs.Storage;

NASiam.Core.Engine.Numerics.KernelProbe.TryRunAsChild(args); // exits here when re-launched as a kernel-probe child
NASiam.Web.Worker.RunWorker.TryRunAsChild(args); // a run's child process: runs the engine and exits, no web host
var builder = WebApplication.CreateBuilder(args);
// `--role web|worker|all` as a short form of --Nasiam:Role (docs/deploy.md).
builder.Configuration.AddCommandLine(args, new Dictionary<string, string> { ["--role"] = "Nasiam:Role" });
builder.AddNasiamWeb();

try
{
    var app = builder.Build();
    // SQLite storage belongs to one process: a second app on the same folder stops here (docs/deploy.md).
    var nasiam = app.Services.GetRequiredService<IOptions<NASiam.Web.Options.NasiamWebOptions>>().Value;
    using var dataLock = RunAsTheApp() && nasiam.StorageKey == "sqlite"
        ? DataDirectoryLock.Acquire(app.Services.GetRequiredService<NASiam.Web.Runs.RunPaths>().DataDirectory)
        : null;
    app.MapNasiamWeb();
    app.Run();
}
catch (Exception e) when (RunAsTheApp() && StartupError(e) is { } reason)
{
    // A configuration the app cannot start with: one clear line naming the setting, exit code 2.
    Console.Error.WriteLine($"NASiam.Web cannot start: {reason}");
    return 2;
}
return 0;

// Only as the app's own process: a test host (WebApplicationFactory) sees the exception itself.
static bool RunAsTheApp() => System.Reflection.Assembly.GetEntryAssembly() == typeof(Program).Assembly;

// The setting-naming error inside whatever wrapped it (DI, the host, Hangfire), or null for any other failure.
static string? StartupError(Exception? e)
{
    for (; e is not null; e = e.InnerException)
    {
        if (e is BackingServiceUnavailableException or OptionsValidationException) return e.Message;
        // Kestrel's "Failed to bind to address http://127.0.0.1:5080: address already in use.", with the way out.
        if (e is IOException { InnerException: Microsoft.AspNetCore.Connections.AddressInUseException })
            return $"{e.Message} Another process listens there (another NASiam.Web?): stop it, or give this one another address (--urls or ASPNETCORE_URLS).";
    }
    return null;
}

/// <summary>Public so WebApplicationFactory&lt;Program&gt; can host the app in tests.</summary>
public partial class Program;

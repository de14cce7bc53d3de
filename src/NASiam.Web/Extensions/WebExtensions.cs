using Hangfire;
using Hangfire.InMemory;
using Hangfire.PostgreSql;
using Hangfire.Storage.SQLite;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Options;
using MudBlazor.Services;
using NASiam.Web.Api;
using NASiam.Web.Components;
using NASiam.Web.Hubs;
using NASiam.Web.Jobs;
using NASiam.Web.Live;
using NASiam.Web.Options;
using NASiam.Web.Runs;
using NASiam.Web.Runs.Storage;
using NASiam.Web.Security;

namespace NASiam.Web.Extensions;

public static class WebExtensions
{
    /// <summary>Registers everything the app needs; Program.cs stays thin.</summary>
    public static WebApplicationBuilder AddNasiamWeb(this WebApplicationBuilder builder)
    {
        var appRoot = AppRoot.Find();
        builder.Configuration.AddRootAppSettings(appRoot, builder.Environment.EnvironmentName);
        builder.UseDefaultUrlUnlessConfigured();
        builder.Services.AddSingleton(new AppRootInfo(appRoot, AppRoot.WebRoot(appRoot)));
        builder.Services.AddNasiamServices(appRoot);

        builder.Services.AddRazorComponents().AddInteractiveServerComponents();
        // Snackbars at the bottom: at the top right they covered a run page's Cancel/Resume/Retry/Delete buttons.
        builder.Services.AddMudServices(c => c.SnackbarConfiguration.PositionClass = MudBlazor.Defaults.Classes.Position.BottomRight);
        builder.Services.AddSignalR();
        builder.Services.AddOpenApi(o => o.AddDocumentTransformer(NASiam.Web.Api.OpenApiRequestBodies.OptionalNotNull));
        // A query or route value that does not bind (maxPoints=abc) throws, and UseBindingFailureProblems
        // answers 400 naming the parameter, instead of an empty 400 (or Development's stack trace).
        builder.Services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        // A call that fails because the run database cannot be reached is 503 naming the storage (the client
        // may retry; the operator knows what to look at), not a generic 500.
        builder.Services.Configure<ExceptionHandlerOptions>(o => o.StatusCodeSelector = e =>
            e is BadHttpRequestException bad ? bad.StatusCode
            : RunDatabase.IsFull(e) ? StatusCodes.Status507InsufficientStorage
            : RunDatabase.IsUnavailable(e) ? StatusCodes.Status503ServiceUnavailable
            : StatusCodes.Status500InternalServerError);
        builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = c =>
        {
            if (c.Exception is BadHttpRequestException bad) c.ProblemDetails.Detail = bad.Message;
            else if (RunDatabase.IsFull(c.Exception))
            {
                var storage = c.HttpContext.RequestServices.GetRequiredService<RunDatabase>().Description;
                c.ProblemDetails.Title = "Storage full";
                c.ProblemDetails.Detail = $"{storage}: the disk holding it is full ({c.Exception!.GetBaseException().Message}); nothing was stored. Free space and try again.";
                c.ProblemDetails.Extensions["storage"] = storage;
            }
            else if (RunDatabase.IsUnavailable(c.Exception))
            {
                var storage = c.HttpContext.RequestServices.GetRequiredService<RunDatabase>().Description;
                c.ProblemDetails.Title = "Storage unavailable";
                c.ProblemDetails.Detail = $"{storage} is unreachable: {c.Exception!.GetBaseException().Message}";
                c.ProblemDetails.Extensions["storage"] = storage;
            }
        });
        builder.Services.AddNasiamAccessKey();
        builder.Services.Configure<FormOptions>(o => o.MultipartBodyLengthLimit = 64L * 1024 * 1024);
        return builder;
    }

    /// <summary>The address the app listens on when nobody chose one: loopback only.</summary>
    public const string DefaultUrl = "http://127.0.0.1:5080";

    /// <summary>
    /// Listens on <see cref="DefaultUrl"/> unless the user chose an address the ASP.NET Core way:
    /// <c>--urls</c>, <c>ASPNETCORE_URLS</c>/<c>URLS</c>, <c>ASPNETCORE_HTTP_PORTS</c>/<c>HTTP_PORTS</c>,
    /// or <c>Kestrel:Endpoints</c>. (A default pinned in appsettings.json would override the first two.)
    /// </summary>
    static void UseDefaultUrlUnlessConfigured(this WebApplicationBuilder builder)
    {
        var c = builder.Configuration;
        bool chosen = !string.IsNullOrWhiteSpace(c[WebHostDefaults.ServerUrlsKey]) || !string.IsNullOrWhiteSpace(c[WebHostDefaults.HttpPortsKey])
                      || !string.IsNullOrWhiteSpace(c[WebHostDefaults.HttpsPortsKey]) || c.GetSection("Kestrel:Endpoints").GetChildren().Any();
        if (!chosen) builder.WebHost.UseUrls(DefaultUrl);
    }

    /// <summary>Options, run store, jobs and live updates (no UI).</summary>
    public static IServiceCollection AddNasiamServices(this IServiceCollection services, string appRoot)
    {
        // NasiamWebOptions.Bind, not BindConfiguration: a value of the wrong type (LeaseSeconds=abc) is one
        // validation line naming the setting (exit code 2), not the binder's InvalidOperationException and trace.
        services.AddOptions<NasiamWebOptions>().Configure<IConfiguration>((o, config) => NasiamWebOptions.Bind(o, config.GetSection(NasiamWebOptions.Section)))
            .ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<IValidateOptions<NasiamWebOptions>>(new DeviceAvailability());
        services.AddSingleton(sp => new RunPaths(sp.GetRequiredService<IOptions<NasiamWebOptions>>().Value.DataPath(appRoot)));
        services.AddSingleton(sp => OpenRunDatabase(sp.GetRequiredService<IOptions<NasiamWebOptions>>().Value, sp.GetRequiredService<RunPaths>()));
        services.AddSingleton(sp => new RunStore(sp.GetRequiredService<RunDatabase>()));
        services.AddSingleton<NodeIdentity>();
        services.AddSingleton<RunLeaseKeeper>();
        services.AddSingleton<RunFiles>();
        services.AddSingleton<GenotypeLibrary>();
        services.AddSingleton<ProgressChannel>();
        services.AddSingleton<RunNotificationService>();
        services.AddSingleton<RunExecutionRegistry>();
        services.AddSingleton<RunLifecycle>();
        services.AddSingleton<RunScheduler>();
        services.AddTransient<NasiamRunJob>();
        services.AddSingleton(sp => new ComparisonStore(sp.GetRequiredService<RunDatabase>()));
        services.AddSingleton<ComparisonService>();
        services.AddRunEngine();

        services.AddHangfire((sp, c) =>
        {
            var o = sp.GetRequiredService<IOptions<NasiamWebOptions>>().Value;
            // The run database first: an unreachable PostgreSQL fails here with a message naming Nasiam:ConnectionString.
            sp.GetRequiredService<RunDatabase>();
            c.SetDataCompatibilityLevel(CompatibilityLevel.Version_180).UseSimpleAssemblyNameTypeSerializer().UseRecommendedSerializerSettings();
            var poll = TimeSpan.FromSeconds(o.QueuePollSeconds);
            var invisible = TimeSpan.FromHours(o.InvisibilityTimeoutHours);
            switch (o.StorageKey)
            {
                case "inmemory":
                    c.UseInMemoryStorage(new InMemoryStorageOptions());
                    break;
                case "postgresql":
                    c.UsePostgreSqlStorage(b => b.UseNpgsqlConnection(o.ConnectionString), new PostgreSqlStorageOptions
                    {
                        QueuePollInterval = poll, InvisibilityTimeout = invisible, PrepareSchemaIfNecessary = true,
                    });
                    break;
                default:
                    var paths = sp.GetRequiredService<RunPaths>();
                    Directory.CreateDirectory(paths.DataDirectory);
                    c.UseSQLiteStorage(paths.JobDatabase, new SQLiteStorageOptions { QueuePollInterval = poll, InvisibilityTimeout = invisible });
                    break;
            }
        });
        services.AddRunEventTransport(); // before the pump: live events to other nodes (Nasiam:Redis)
        // Start order matters: the pump first (jobs need it), then recovery, then the workers.
        services.AddHostedService<ProgressPump>();
        services.AddHostedService<RunRecoveryService>();
        services.AddHostedService<DeviceWorkers>();
        services.AddHostedService<ComparisonCoordinator>();
        services.AddHostedService<RunLeaseSweeper>();
        return services;
    }

    /// <summary>
    /// The run database of the configured storage: PostgreSQL for Storage=postgresql (shared by
    /// every node), else the SQLite file in the data directory. Schema created or migrated here.
    /// </summary>
    static RunDatabase OpenRunDatabase(NasiamWebOptions o, RunPaths paths) =>
        o.UsesPostgreSql
            ? RunDatabase.PostgreSql(o.ConnectionString!)
            : RunDatabase.Sqlite(paths.RunDatabase);

    public static WebApplication MapNasiamWeb(this WebApplication app)
    {
        var root = app.Services.GetRequiredService<AppRootInfo>();
        // Read from configuration, not the validated options: a bad setting must fail at host start
        // with the options' own message, not here.
        if (string.Equals(app.Configuration[$"{NasiamWebOptions.Section}:{nameof(NasiamWebOptions.Role)}"]?.Trim(), "worker", StringComparison.OrdinalIgnoreCase))
        {
            // A worker node serves no pages, API or hub: only its health, for the orchestrator.
            app.MapGet("/healthz", (RunDatabase db, CancellationToken ct) => Health(db, "worker", ct)).AllowAnonymous().WithTags("Health");
            return app;
        }
        // An unhandled exception becomes a 500 problem document (AddProblemDetails; the app has no /error page to
        // re-execute) in every environment: the README's `dotnet run` is Development, where the developer exception
        // page sent the stack trace to any client (the README also shows binding 0.0.0.0). The log keeps the trace.
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        // Inside both: a value that does not bind is the client's error, named, in every environment.
        app.UseBindingFailureProblems();
        if (Directory.Exists(root.WebRoot))
            app.UseStaticFiles(new StaticFileOptions { FileProvider = new PhysicalFileProvider(root.WebRoot) });
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseAntiforgery();
        app.MapStaticAssets().AllowAnonymous();
        app.MapGet("/healthz", (RunDatabase db, CancellationToken ct) => Health(db, null, ct)).AllowAnonymous().WithTags("Health");
        app.MapSignIn();
        app.MapOpenApi();
        app.MapRunsApi();
        app.MapPresetsApi();
        app.MapGenotypesApi();
        app.MapComparisonsApi();
        app.MapHub<RunsHub>("/hubs/runs");
        app.MapHangfireDashboard("/hangfire", new DashboardOptions
        {
            Authorization = [new DashboardAccessFilter()], DashboardTitle = "NASiam jobs", AppPath = "/",
        });
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
        return app;
    }

    /// <summary>How long /healthz waits for the run database: an orchestrator's probe must not hang on a dead server's connect timeout.</summary>
    static readonly TimeSpan HealthProbeTimeout = TimeSpan.FromSeconds(3);

    /// <summary>/healthz: 200 when the run database answers a trivial query; else 503 naming the storage (nothing on the node works without it).</summary>
    static async Task<IResult> Health(RunDatabase db, string? role, CancellationToken ct)
    {
        if (await db.ProbeAsync(HealthProbeTimeout, ct) is { } error)
            return Results.Json(new { status = "unavailable", role, storage = db.Description, error }, statusCode: StatusCodes.Status503ServiceUnavailable);
        return role is null ? Results.Ok(new { status = "ok" }) : Results.Ok(new { status = "ok", role });
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

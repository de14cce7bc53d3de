namespace NASiam.Web.Tests.Fakes;

/// <summary>
/// A test class's own app (real services, scripted engine) on a temporary data folder, started before
/// its tests and removed after them.
/// </summary>
public abstract class ScriptedAppTests(string name, Func<ScriptedRunEngine> engine) : IAsyncLifetime
{
    /// <summary>The app's data folder.</summary>
    protected string Data { get; } = Directory.CreateTempSubdirectory($"nasiam-{name}-").FullName;

    /// <summary>The app, created in <see cref="InitializeAsync"/>.</summary>
    protected NasiamAppFactory App { get; private set; } = null!;

    /// <summary>A bUnit context whose components get this app's services (store, scheduler, notifications).</summary>
    protected global::Bunit.BunitContext PageContext()
    {
        var ctx = NASiam.Web.Tests.Components.Bunit.Context();
        ctx.Services.AddFallbackServiceProvider(App.Services);
        return ctx;
    }

    /// <summary>A quick demo submitted through the API and run to its end.</summary>
    protected static async Task<Guid> SucceededQuickDemo(HttpClient c)
    {
        var id = await NasiamAppFactory.CreateQuickDemo(c);
        await NasiamAppFactory.WaitForStatus(c, id, "Succeeded");
        return id;
    }

    public Task InitializeAsync()
    {
        App = new NasiamAppFactory(Data, engine());
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await App.DisposeAsync();
        try { Directory.Delete(Data, true); } catch (IOException) { }
    }
}

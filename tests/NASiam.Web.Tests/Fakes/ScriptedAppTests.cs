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

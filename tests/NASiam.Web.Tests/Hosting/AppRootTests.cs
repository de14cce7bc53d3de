using System.Net;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace NASiam.Web.Tests.Hosting;

/// <summary>The repository root's wwwroot/ and appsettings.json are the ones the app really uses.</summary>
public class AppRootTests : IDisposable
{
    readonly string _root = Directory.CreateTempSubdirectory("nasiam-approot-").FullName;

    static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "NASiam.Web.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root not found");
    }

    [Fact]
    public async Task RepositoryRoot_WwwrootFileAndMudBlazorCss_AreServed()
    {
        // The real root folder, found the way the app finds it (no override).
        Assert.Equal(RepoRoot(), Path.TrimEndingDirectorySeparator(AppRoot.Find()));
        await using var factory = new WebApplicationFactory<Program>();
        using var client = factory.CreateClient();

        var css = await client.GetAsync("/css/app.css");
        Assert.Equal(HttpStatusCode.OK, css.StatusCode);
        Assert.Equal(await File.ReadAllTextAsync(Path.Combine(RepoRoot(), "wwwroot/css/app.css")), await css.Content.ReadAsStringAsync());

        var mud = await client.GetAsync("/_content/MudBlazor/MudBlazor.min.css");
        Assert.Equal(HttpStatusCode.OK, mud.StatusCode);
    }

    [Fact]
    public async Task FilePlacedInRootWwwroot_IsServed_AndRootSetting_TakesEffect()
    {
        // A copy of the layout in a temp folder, so the test can add files without touching the repo.
        Directory.CreateDirectory(Path.Combine(_root, "wwwroot"));
        await File.WriteAllTextAsync(Path.Combine(_root, "wwwroot", "probe.txt"), "served-from-root");
        await File.WriteAllTextAsync(Path.Combine(_root, "appsettings.json"), """{ "Nasiam": { "Title": "title-from-root-file" } }""");
        Environment.SetEnvironmentVariable(AppRoot.EnvironmentVariable, _root);
        try
        {
            await using var factory = new WebApplicationFactory<Program>();
            using var client = factory.CreateClient();
            Assert.Equal("served-from-root", await client.GetStringAsync("/probe.txt"));
            var config = factory.Services.GetRequiredService<IConfiguration>();
            Assert.Equal("title-from-root-file", config["Nasiam:Title"]);
        }
        finally { Environment.SetEnvironmentVariable(AppRoot.EnvironmentVariable, null); }
    }

    [Fact]
    public async Task RepositoryAppSettings_IsTheConfigurationSource()
    {
        await using var factory = new WebApplicationFactory<Program>();
        var config = factory.Services.GetRequiredService<IConfiguration>();
        // The value in the committed root appsettings.json.
        Assert.Equal("NASiam.Web", config["Nasiam:Title"]);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}

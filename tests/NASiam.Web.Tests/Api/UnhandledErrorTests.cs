using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using NASiam.Web.Api;
using NASiam.Web.Tests.Fakes;

namespace NASiam.Web.Tests.Api;

/// <summary>
/// The README's `dotnet run` starts the app in Development, where an unhandled exception answered with the developer
/// exception page: the stack trace, to any client. The test server runs in Development too.
/// </summary>
public class UnhandledErrorTests
{
    [Fact]
    public async Task AnUnhandledException_IsAProblemDocument_WithoutTheStackTrace_InDevelopment()
    {
        var data = Directory.CreateTempSubdirectory("nasiam-500-").FullName;
        try
        {
            await using var app = new NasiamAppFactory(data, new ScriptedRunEngine(totalSteps: 2, stepMilliseconds: 1));
            await using var broken = app.WithWebHostBuilder(b => b.ConfigureTestServices(s =>
                s.Replace(ServiceDescriptor.Singleton<GenotypeLibrary>(_ => throw new InvalidOperationException("secret internals at NASiam.Web.Secret()")))));
            using var c = broken.CreateClient();
            Assert.Equal("Development", broken.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.IWebHostEnvironment>().EnvironmentName);
            var r = await c.GetAsync("/api/genotypes");
            Assert.Equal(HttpStatusCode.InternalServerError, r.StatusCode);
            Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
            var body = await r.Content.ReadAsStringAsync();
            Assert.DoesNotContain("secret internals", body);
            Assert.DoesNotContain("InvalidOperationException", body);
            Assert.Equal(500, JsonDocument.Parse(body).RootElement.GetProperty("status").GetInt32());
        }
        finally { try { Directory.Delete(data, true); } catch (IOException) { } }
    }
}

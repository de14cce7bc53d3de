using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using NASiam.Web.Jobs;
using NASiam.Web.Tests.Fakes;

namespace NASiam.Web.Tests.Jobs;

public sealed class DeviceWorkersTests : IDisposable
{
    readonly string _data = Path.Combine(Path.GetTempPath(), $"nasiam-workers-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_data)) Directory.Delete(_data, recursive: true);
    }

    // A host can dispose its services before (or while) its stop runs; a stop that then met a disposed
    // Hangfire server threw ObjectDisposedException out of the host's shutdown (a clean-clone CI run failed on it).
    [Fact]
    public async Task Stop_AfterDispose_ReturnsQuietly_AndTheHostStillShutsDown()
    {
        var app = new NasiamAppFactory(_data, engine: null);
        using (app.Api()) { } // starts the host and its device workers
        var workers = app.Services.GetServices<IHostedService>().OfType<DeviceWorkers>().Single();
        workers.Dispose();
        await workers.StopAsync(CancellationToken.None);
        workers.Dispose(); // twice is fine too
        await app.DisposeAsync(); // the host's own stop runs StopAsync once more
    }
}

using Hangfire;
using Hangfire.AspNetCore;
using Microsoft.Extensions.Options;
using NASiam.Web.Options;

namespace NASiam.Web.Jobs;

/// <summary>
/// One Hangfire server per configured device, each listening only to that device's queue with a
/// single worker: two runs never share a device, and queued runs wait their turn. Built at start
/// from the validated options (the device list can come from any configuration source). Only on
/// nodes that execute runs (Nasiam:Role all or worker).
/// </summary>
public sealed class DeviceWorkers(JobStorage storage, IServiceScopeFactory scopes, IOptions<NasiamWebOptions> options, ILogger<DeviceWorkers> log) : IHostedService, IDisposable
{
    readonly List<BackgroundJobServer> _servers = [];

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!options.Value.ExecutesRuns)
        {
            log.LogInformation("Role {Role}: no device workers (this node executes nothing)", options.Value.Role);
            return Task.CompletedTask;
        }
        foreach (var device in options.Value.EffectiveDevices)
        {
            var queue = DeviceQueues.QueueFor(device);
            _servers.Add(new BackgroundJobServer(new BackgroundJobServerOptions
            {
                ServerName = $"{Environment.MachineName}:{queue}:{Guid.NewGuid():N}",
                WorkerCount = 1,
                Queues = [queue],
                Activator = new AspNetCoreJobActivator(scopes),
                ShutdownTimeout = TimeSpan.FromSeconds(30),
                SchedulePollingInterval = TimeSpan.FromSeconds(options.Value.QueuePollSeconds),
            }, storage));
            log.LogInformation("Device {Device}: one worker on queue {Queue}", device, queue);
        }
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // A stop cancels the running job's token; the job re-queues itself and resumes at the next start.
        var servers = _servers.ToArray();
        foreach (var s in servers) s.SendStop();
        foreach (var s in servers) await s.WaitForShutdownAsync(cancellationToken);
    }

    public void Dispose()
    {
        foreach (var s in _servers.ToArray()) s.Dispose();
    }
}

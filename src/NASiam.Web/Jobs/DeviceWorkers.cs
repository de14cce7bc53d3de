using Hangfire;
using Hangfire.AspNetCore;
using Microsoft.Extensions.Options;
using NASiam.Web.Options;

namespace NASiam.Web.Jobs;

/// <summary>
/// One Hangfire server per configured device, each listening only to that device's queue with a
/// single worker: two runs never share a device, and queued runs wait their turn. Built at start
/// from the validated options (the device list can come from any configuration source). Only on
/// nodes that execute runs (Nasiam:Role all or worker). The servers start once the app has started
/// (its address bound): an app that cannot start (its port in use) must not take a queued run first.
/// </summary>
public sealed class DeviceWorkers(JobStorage storage, IServiceScopeFactory scopes, IOptions<NasiamWebOptions> options,
    IHostApplicationLifetime lifetime, ILogger<DeviceWorkers> log) : IHostedService, IDisposable
{
    readonly List<BackgroundJobServer> _servers = [];
    readonly Lock _gate = new();
    bool _disposed, _stopping;
    CancellationTokenRegistration _started;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!options.Value.ExecutesRuns)
        {
            log.LogInformation("Role {Role}: no device workers (this node executes nothing)", options.Value.Role);
            return Task.CompletedTask;
        }
        _started = lifetime.ApplicationStarted.Register(StartServers);
        return Task.CompletedTask;
    }

    void StartServers()
    {
        lock (_gate)
        {
            if (_disposed || _stopping) return;
            foreach (var device in options.Value.EffectiveDevices) StartServer(device);
        }
    }

    void StartServer(string device)
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

    /// <summary>
    /// Asks every server to stop and waits for them. A stop after <see cref="Dispose"/> (or of a server
    /// disposed meanwhile) has nothing left to stop and returns: a host can be disposed before its stop
    /// runs, and an ObjectDisposedException here failed a host's shutdown (seen in the web tests).
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // A stop cancels the running job's token; the job re-queues itself and resumes at the next start.
        BackgroundJobServer[] servers;
        lock (_gate)
        {
            _stopping = true; // a start that has not happened yet will not
            if (_disposed) return;
            servers = [.. _servers];
        }
        var stopping = new List<BackgroundJobServer>();
        foreach (var s in servers)
        {
            try { s.SendStop(); stopping.Add(s); }
            catch (ObjectDisposedException) { } // already stopped for good
        }
        foreach (var s in stopping)
        {
            try { await s.WaitForShutdownAsync(cancellationToken); }
            catch (ObjectDisposedException) { }
        }
    }

    public void Dispose()
    {
        BackgroundJobServer[] servers;
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            servers = [.. _servers];
            _servers.Clear();
        }
        _started.Dispose();
        foreach (var s in servers) s.Dispose();
    }
}

using Microsoft.Extensions.Options;
using NASiam.Core.Engine;
using NASiam.Web.Options;

namespace NASiam.Web.Worker;

/// <summary>
/// Checks at start-up that the chosen run isolation can work, so a misconfiguration stops the app
/// with a clear message instead of failing every run later: in "process" mode the child can only
/// run the real <see cref="NasiamEngine"/> (a replaced IRunEngine, such as a test's scripted
/// engine, would be silently bypassed), and the app's executable must be found.
/// </summary>
public sealed class RunIsolationCheck(IOptions<NasiamWebOptions> options, IRunEngine engine, RunProcessLauncher launcher, ILogger<RunIsolationCheck> log) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!options.Value.RunsInChildProcess)
        {
            log.LogInformation("Runs execute inside the server process (Nasiam:RunIsolation=inprocess) with {Engine}", engine.GetType().Name);
            return Task.CompletedTask;
        }
        if (engine is not NasiamEngine)
            throw new InvalidOperationException(
                $"Nasiam:RunIsolation=process runs the real NasiamEngine in a child process, but the registered IRunEngine is {engine.GetType().FullName}; set Nasiam:RunIsolation=inprocess to use it.");
        log.LogInformation("Runs execute in child processes: {Command} RUN_ID", launcher.Describe());
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

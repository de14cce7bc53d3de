using NASiam.Core.Engine;
using NASiam.Web.Worker;

namespace NASiam.Web.Jobs;

/// <summary>
/// Registers the production <see cref="IRunEngine"/>: <see cref="NasiamEngine"/>. It is stateless
/// between runs (each Run builds its own model, data and event numbering), so one instance serves
/// every device worker. Tests may replace the registration with a scripted engine for edge cases
/// (with Nasiam:RunIsolation=inprocess). Also registers process isolation: the
/// <see cref="ProcessRunEngine"/> that runs NasiamEngine in a child process, its launcher, and the
/// start-up check of the chosen mode.
/// </summary>
public static class EngineRegistration
{
    public static IServiceCollection AddRunEngine(this IServiceCollection services)
    {
        services.AddSingleton<IRunEngine, NasiamEngine>();
        services.AddSingleton<RunProcessLauncher>();
        services.AddSingleton<ProcessRunEngine>();
        services.AddHostedService<RunIsolationCheck>();
        return services;
    }
}

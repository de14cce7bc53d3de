using NASiam.Core.Engine;

namespace NASiam.Web.Jobs;

/// <summary>
/// Registers the production <see cref="IRunEngine"/>: <see cref="NasiamEngine"/>. It is stateless
/// between runs (each Run builds its own model, data and event numbering), so one instance serves
/// every device worker. Tests may replace the registration with a scripted engine for edge cases.
/// </summary>
public static class EngineRegistration
{
    public static IServiceCollection AddRunEngine(this IServiceCollection services) =>
        services.AddSingleton<IRunEngine, NasiamEngine>();
}

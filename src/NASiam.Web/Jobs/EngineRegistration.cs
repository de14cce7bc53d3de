using NASiam.Core.Engine;
using NASiam.Core.Options;
using NASiam.Core.Reporting;

namespace NASiam.Web.Jobs;

/// <summary>
/// Registers the production <see cref="IRunEngine"/>: the real engine, found by its type name
/// (NASiam.Core.Engine.NasiamEngine) so this project builds before it lands. Until it exists the
/// registration is <see cref="EngineNotAvailable"/>, which fails every run with a clear message.
/// Tests replace the registration with a scripted engine.
/// </summary>
public static class EngineRegistration
{
    public const string RealEngineTypeName = "NASiam.Core.Engine.NasiamEngine";

    public static Type? RealEngineType { get; } = typeof(IRunEngine).Assembly.GetType(RealEngineTypeName);

    public static bool RealEngineAvailable => RealEngineType is not null && typeof(IRunEngine).IsAssignableFrom(RealEngineType);

    public static IServiceCollection AddRunEngine(this IServiceCollection services)
    {
        if (RealEngineAvailable)
            services.AddSingleton(typeof(IRunEngine), sp => ActivatorUtilities.CreateInstance(sp, RealEngineType!));
        else
            services.AddSingleton<IRunEngine, EngineNotAvailable>();
        return services;
    }
}

/// <summary>Placeholder registration while the real engine has not landed: every run fails with this message.</summary>
public sealed class EngineNotAvailable : IRunEngine
{
    public const string Text = "engine not available: " + EngineRegistration.RealEngineTypeName + " is not part of this build yet.";

    public RunResult Run(RunOptions options, RunContext context, ITrainingObserver observer, CancellationToken cancellationToken) =>
        throw new InvalidOperationException(Text);
}

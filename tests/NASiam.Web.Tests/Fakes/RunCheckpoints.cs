using Microsoft.Extensions.DependencyInjection;
using NASiam.Core.Engine.Checkpoints;
using NASiam.Core.Engine.Runs;
using NASiam.Core.Options;
using NASiam.Web.Runs;

namespace NASiam.Web.Tests.Fakes;

/// <summary>Real engine checkpoints placed in a (scripted) run's folder, where the engine writes them.</summary>
static class RunCheckpoints
{
    /// <summary>Writes checkpoints/pretrain.ckpt (header and options only) for <paramref name="runId"/>, as a finished pre-training of its options.</summary>
    public static string WritePretrain(IServiceProvider services, Guid runId, bool completed = true) =>
        Write(services, runId, "pretrain", RunKind.Pretrain, completed);

    /// <summary>Writes checkpoints/search.ckpt (header and options only) for <paramref name="runId"/>, as a finished search of its options.</summary>
    public static string WriteSearch(IServiceProvider services, Guid runId) => Write(services, runId, "search", RunKind.Search, completed: true);

    static string Write(IServiceProvider services, Guid runId, string stage, RunKind kind, bool completed)
    {
        var run = services.GetRequiredService<RunStore>().Get(runId)!;
        var options = run.Options() with { Kind = kind };
        var path = StageEnvironment.CheckpointPathIn(services.GetRequiredService<RunPaths>().RunDirectory(runId), stage);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        CheckpointStore.Save(path, new CheckpointState { Stage = stage, Epoch = 1, Step = 4, Completed = completed, OptionsJson = options.ToJson() }, new CheckpointContent());
        return path;
    }
}

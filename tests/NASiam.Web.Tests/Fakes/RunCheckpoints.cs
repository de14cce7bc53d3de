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
    public static string WritePretrain(IServiceProvider services, Guid runId, bool completed = true)
    {
        var run = services.GetRequiredService<RunStore>().Get(runId)!;
        var options = run.Options() with { Kind = RunKind.Pretrain };
        var path = StageEnvironment.CheckpointPathIn(services.GetRequiredService<RunPaths>().RunDirectory(runId), "pretrain");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        CheckpointStore.Save(path, new CheckpointState { Stage = "pretrain", Epoch = 1, Step = 4, Completed = completed, OptionsJson = options.ToJson() }, new CheckpointContent());
        return path;
    }
}

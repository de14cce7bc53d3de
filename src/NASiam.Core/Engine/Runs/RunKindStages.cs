using NASiam.Core.Options;

namespace NASiam.Core.Engine.Runs;

/// <summary>The stages each run kind runs, in order, as <see cref="NasiamEngine"/> runs them.</summary>
public static class RunKindStages
{
    /// <summary>search → [search]; pretrain → [pretrain]; lincls → [lincls]; pipeline → [search, pretrain, lincls] (<see cref="StageEnvironment.PipelineStages"/>).</summary>
    public static IReadOnlyList<string> Of(RunKind kind) => kind switch
    {
        RunKind.Search => ["search"],
        RunKind.Pretrain => ["pretrain"],
        RunKind.LinCls => ["lincls"],
        _ => StageEnvironment.PipelineStages,
    };
}

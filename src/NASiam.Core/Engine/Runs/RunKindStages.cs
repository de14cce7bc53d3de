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

    /// <summary>A stage's name in prose: search, pre-training, linear evaluation (notices, memory estimates).</summary>
    public static string Words(string stage) => stage switch { "search" => "search", "pretrain" => "pre-training", _ => "linear evaluation" };

    /// <summary>A run kind in prose: its one stage's words, or "pipeline".</summary>
    public static string Words(RunKind kind) => kind == RunKind.Pipeline ? "pipeline" : Words(Of(kind)[0]);
}

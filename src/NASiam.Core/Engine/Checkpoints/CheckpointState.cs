using System.Text.Json;
using System.Text.Json.Serialization;

namespace NASiam.Core.Engine.Checkpoints;

/// <summary>
/// The plain-data part of a checkpoint: where the run stands and how it was configured. Tensors
/// (weights, alphas, optimizer states, RNG states) are stored next to it by <see cref="CheckpointStore"/>.
/// </summary>
public sealed record CheckpointState
{
    /// <summary>File format version; bumped on incompatible change.</summary>
    public int FormatVersion { get; init; } = CheckpointStore.FormatVersion;
    /// <summary>search | pretrain | lincls.</summary>
    public required string Stage { get; init; }
    /// <summary>Next epoch to run (0-based); equals the total when the stage is complete.</summary>
    public required int Epoch { get; init; }
    /// <summary>Weight steps done so far in the stage.</summary>
    public required long Step { get; init; }
    /// <summary>Steps already done inside <see cref="Epoch"/> (a mid-epoch stop, e.g. cancellation).</summary>
    public int StepInEpoch { get; init; }
    /// <summary>True once the stage ran to its end.</summary>
    public bool Completed { get; init; }
    /// <summary>Schedule position: the epoch the learning rates were last set for.</summary>
    public int ScheduleEpoch { get; init; }
    /// <summary>The run options as JSON (<see cref="Options.RunOptions.ToJson"/>).</summary>
    public required string OptionsJson { get; init; }
    /// <summary>Data-order state (e.g. the alpha iterator position), opaque to the store.</summary>
    public IReadOnlyDictionary<string, long> DataState { get; init; } = new Dictionary<string, long>();
    /// <summary>Headline metrics so far (best kNN top-1, last loss...).</summary>
    public IReadOnlyDictionary<string, double> Metrics { get; init; } = new Dictionary<string, double>();
    /// <summary>The current argmax genotype (search) or the genotype trained (pretrain), reference text.</summary>
    public string? GenotypeText { get; init; }
    /// <summary>Names of the alpha tensors' cells in order ("encoder", "predictor"); empty without alphas.</summary>
    public IReadOnlyList<string> AlphaCells { get; init; } = [];
    /// <summary>Next event sequence number, so a resumed run continues its numbering.</summary>
    public long NextSequence { get; init; }
    public DateTimeOffset SavedAt { get; init; } = DateTimeOffset.UtcNow;

    /// <summary>
    /// For the backbone checkpoint at <paramref name="path"/> (state <paramref name="state"/>, a search or
    /// pretrain checkpoint) of a stage that did not run to its end, a cancelled or failed run's: how far it
    /// got, in the words every door shows where such a backbone is evaluated (the run request's notice, the
    /// linear evaluation's <c>backbone</c> warning). Null when the stage completed. The kNN-best checkpoint
    /// (pretrain-best) is a copy of an earlier epoch's, never marked complete itself: its stage finished when
    /// the stage's own checkpoint beside it did. A linear probe of a stopped pre-training measures a partly
    /// trained backbone: said, never silent.
    /// </summary>
    public static string? UnfinishedBackboneNote(string path, CheckpointState state)
    {
        if (state.Completed) return null;
        // The run folder that holds checkpoints/<stage>.ckpt, as the stages name their files (StageEnvironment).
        var full = Path.GetFullPath(path);
        var output = Path.GetDirectoryName(Path.GetDirectoryName(full)) ?? "";
        var own = Runs.StageEnvironment.CheckpointPathIn(output, state.Stage);
        bool best = full == Runs.StageEnvironment.CheckpointPathIn(output, state.Stage + "-best");
        if (best && File.Exists(own) && CheckpointStore.ReadState(own) is { Completed: true, Stage: var stage } && stage == state.Stage) return null;
        var saved = Options.RunOptions.FromJson(state.OptionsJson);
        bool pretrain = state.Stage == "pretrain";
        int total = pretrain ? saved.Pretrain.Epochs : saved.Search.Epochs;
        return $"the {(pretrain ? "pre-training" : "search")} did not finish; this evaluates its {(best ? "kNN-best " : "")}backbone after {state.Epoch} of {total} epochs (step {state.Step})";
    }

    /// <summary>
    /// For a search checkpoint whose stage did not run to its end (cancelled, failed, or read mid-run): its alphas'
    /// argmax is provisional, not the genotype the search derives at its end (method doc 5.7), in the words of
    /// <see cref="UnfinishedBackboneNote"/>. Null when the search completed.
    /// </summary>
    public static string? ProvisionalGenotypeNote(CheckpointState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Completed) return null;
        int total = Options.RunOptions.FromJson(state.OptionsJson).Search.Epochs;
        return $"the search did not finish; this genotype is provisional: the argmax of its alphas after {state.Epoch} of {total} epochs (step {state.Step}), not a derived final genotype";
    }

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter() },
        // A metric with no value yet (NaN: a search resumed at an epoch boundary saves before its first
        // step) or a diverged loss (NaN, ±Infinity) is kept as written; without this the checkpoint
        // write threw and failed the run (seen after a worker failover in the scale-out test).
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}

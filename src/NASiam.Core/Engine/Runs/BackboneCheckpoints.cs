using NASiam.Core.Engine.Checkpoints;

namespace NASiam.Core.Engine.Runs;

/// <summary>One checkpoint of a run folder that holds a trained backbone, as every door offers it for export.</summary>
/// <param name="Stem">The checkpoint as the export names it (<c>?checkpoint=</c>): pretrain-best, pretrain or search.</param>
/// <param name="Name">Its name in the run's file listing: checkpoints/{Stem}.ckpt.</param>
/// <param name="Evaluated">
/// True for the checkpoint the run stands for (<see cref="StageEnvironment.FinalBackboneCheckpointIn"/>): the one its
/// pipeline's linear evaluation read, a linear evaluation of the run reads, and the export gives when none is named.
/// </param>
/// <param name="Epoch">Epochs done when it was saved (for the kNN-best one, the epoch whose kNN top-1 was best); null when its header does not read.</param>
/// <param name="StepsIntoEpoch">Steps of the next epoch already done (a stage stopped mid-epoch); 0 at an epoch boundary.</param>
/// <param name="Label">What it is, in the words the doors show: "the evaluated checkpoint: kNN-best, epoch 12", "last, epoch 20", "search, epoch 2".</param>
public sealed record BackboneCheckpoint(string Stem, string Name, bool Evaluated, int? Epoch, int StepsIntoEpoch, string Label);

/// <summary>
/// The backbone checkpoints of a run folder, the one the run stands for first (the export's default and what its
/// linear evaluation reads, kNN-best or last by <see cref="NasiamEngine.EvaluatesBestCheckpoint"/>), then the
/// other pre-training one, then the search's. One rule for the run page's export links and the API's default.
/// </summary>
public static class BackboneCheckpoints
{
    /// <summary>The checkpoint stems that hold a backbone, in the order they are listed after the evaluated one.</summary>
    public static IReadOnlyList<string> Stems { get; } = ["pretrain-best", "pretrain", "search"];

    /// <summary>
    /// The backbone checkpoints present in <paramref name="outputDirectory"/> (a run's folder), the evaluated one
    /// first; empty when it has none.
    /// </summary>
    public static IReadOnlyList<BackboneCheckpoint> In(string outputDirectory)
    {
        var evaluated = StageEnvironment.FinalBackboneCheckpointIn(outputDirectory) is { } e ? Path.GetFullPath(e) : null;
        var found = new List<BackboneCheckpoint>();
        foreach (var stem in Stems)
        {
            var path = StageEnvironment.CheckpointPathIn(outputDirectory, stem);
            if (!File.Exists(path)) continue;
            int? epoch = null;
            int steps = 0;
            try
            {
                var state = CheckpointStore.ReadState(path);
                epoch = state.Epoch;
                steps = state.StepInEpoch;
            }
            catch (Exception x) when (x is InvalidDataException or IOException or System.Text.Json.JsonException or ArgumentException) { }
            bool isEvaluated = Path.GetFullPath(path) == evaluated;
            found.Add(new(stem, StageEnvironment.CheckpointName(stem), isEvaluated, epoch, steps, Label(stem, isEvaluated, epoch, steps)));
        }
        return [.. found.Where(c => c.Evaluated), .. found.Where(c => !c.Evaluated)];
    }

    /// <summary>"the evaluated checkpoint: kNN-best, epoch 12" / "last, epoch 20 + 5 steps" / "search, epoch 2"; "epoch ?" when the header does not read.</summary>
    public static string Label(string stem, bool evaluated, int? epoch, int stepsIntoEpoch = 0)
    {
        var what = stem switch
        {
            "pretrain-best" => "kNN-best",
            "pretrain" => "last",
            _ => stem,
        };
        var when = epoch is { } n ? $"epoch {n}{(stepsIntoEpoch > 0 ? $" + {stepsIntoEpoch} steps" : "")}" : "epoch ?";
        return $"{(evaluated ? "the evaluated checkpoint: " : "")}{what}, {when}";
    }
}

using NASiam.Core.Engine.Evaluation;
using NASiam.Core.Genotypes;
using NASiam.Core.Options;
using static TorchSharp.torch;

namespace NASiam.Core.Engine.Checkpoints;

/// <summary>The raw alphas saved in a search checkpoint, by cell name, with the run's framework.</summary>
public sealed record SavedAlphas(Framework Framework, IReadOnlyDictionary<string, double[][]> Cells, int Epoch, long Step)
{
    /// <summary>Why the derived genotype is not final, when the search did not finish (<see cref="CheckpointState.ProvisionalGenotypeNote"/>); null when it did.</summary>
    public string? Provisional { get; init; }

    /// <summary>Reads the alphas of a search checkpoint without building a model.</summary>
    public static SavedAlphas Read(string checkpointPath)
    {
        var tensors = new List<Tensor>();
        var state = CheckpointStore.Load(checkpointPath, new CheckpointContent { AlphasOut = tensors });
        try
        {
            if (tensors.Count == 0 || state.AlphaCells.Count != tensors.Count)
                throw new InvalidDataException($"Checkpoint '{checkpointPath}' (stage {state.Stage}) holds no search alphas.");
            var framework = RunOptions.FromJson(state.OptionsJson).Framework;
            var cells = new Dictionary<string, double[][]>();
            for (int i = 0; i < tensors.Count; i++)
            {
                using var t = tensors[i].to(float64);
                var rows = (int)t.shape[0];
                var cols = (int)t.shape[1];
                var flat = t.data<double>().ToArray();
                cells[state.AlphaCells[i]] = Enumerable.Range(0, rows).Select(r => flat.AsSpan(r * cols, cols).ToArray()).ToArray();
            }
            return new SavedAlphas(framework, cells, state.Epoch, state.Step) { Provisional = CheckpointState.ProvisionalGenotypeNote(state) };
        }
        finally
        {
            foreach (var t in tensors) t.Dispose();
        }
    }

    /// <summary>The argmax ("sparse") genotype of these alphas.</summary>
    public Genotype Derive() => AlphaDiagnostics.Derive(Framework, Cells);
}

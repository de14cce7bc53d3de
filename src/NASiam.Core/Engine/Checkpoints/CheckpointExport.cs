using NASiam.Core.Engine.Runs;
using NASiam.Core.Genotypes;
using NASiam.Core.Methods;
using NASiam.Core.Options;
using static TorchSharp.torch;

namespace NASiam.Core.Engine.Checkpoints;

/// <summary>
/// Turns a NASiam checkpoint into PyTorch files: the model's state dict under the reference's key
/// names (what <c>torch.load</c> + <c>load_state_dict</c> on the reference model expect), and for
/// a search checkpoint the alphas in a second file (the reference keeps them outside the state dict).
/// </summary>
public static class CheckpointExport
{
    /// <summary>Rebuilds the checkpoint's model (from its own options and genotype) on the CPU and loads its weights.</summary>
    public static SiameseModel LoadModel(string checkpointPath)
    {
        var state = CheckpointStore.ReadState(checkpointPath);
        if (state.Stage is not ("search" or "pretrain"))
            throw new ArgumentException($"Checkpoint '{checkpointPath}' is from stage '{state.Stage}'; only search and pretrain checkpoints hold a model.");
        var options = RunOptions.FromJson(state.OptionsJson);
        bool search = state.Stage == "search";
        // The genotype's own depth (method doc 2.6), which need not be the search default.
        var genotype = search || state.GenotypeText is null ? null : GenotypeRules.ParseAnyDepth(state.GenotypeText, options.Framework);
        var model = ModelBuilder.Create(options, search, genotype, CPU, ModelBuilder.CifarStem(options), options.Seed);
        CheckpointStore.Load(checkpointPath, new CheckpointContent { Model = model, Alphas = search ? model.ArchParameters() : null });
        return model;
    }

    /// <summary>Where <see cref="Export"/> writes a search checkpoint's alphas for <paramref name="outputPath"/>: NAME.alphas.pt for NAME.pt.</summary>
    public static string AlphasPathFor(string outputPath) => Path.ChangeExtension(outputPath, null) + ".alphas.pt";

    /// <summary>
    /// Writes <paramref name="outputPath"/> (state dict, reference keys) and, for a search
    /// checkpoint, <c>*.alphas.pt</c> next to it with keys "alphas.&lt;cell&gt;". Returns the files written.
    /// </summary>
    public static IReadOnlyList<string> Export(string checkpointPath, string outputPath)
    {
        using var model = LoadModel(checkpointPath);
        PyTorchExport.SaveStateDict(outputPath, model.ReferenceStateDict());
        var written = new List<string> { outputPath };
        if (model.SearchCells.Count > 0)
        {
            var alphasPath = AlphasPathFor(outputPath);
            PyTorchExport.SaveStateDict(alphasPath, model.SearchCells.Select(c => KeyValuePair.Create("alphas." + c.Name, (Tensor)c.Cell.Alphas)));
            written.Add(alphasPath);
        }
        return written;
    }
}

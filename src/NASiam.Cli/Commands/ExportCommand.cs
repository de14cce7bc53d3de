using NASiam.Core.Engine.Checkpoints;

namespace NASiam.Cli.Commands;

/// <summary><c>nasiam export CHECKPOINT --out FILE.pt</c>: a PyTorch-loadable state dict with the reference key names.</summary>
public sealed class ExportCommand : ICliCommand
{
    public string Name => "export";
    public string Summary => "export a search/pretrain checkpoint as a PyTorch state dict (reference key names)";
    public string Help => """
        Usage: nasiam export CHECKPOINT --out FILE.pt
            Writes the model weights and buffers under the reference PyTorch key names
            (torch.load(FILE) gives the state dict). A search checkpoint also writes
            FILE.alphas.pt with "alphas.encoder" / "alphas.predictor".
        """;

    public int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var a = new CliArgs(args);
        if (a.Positionals.Count != 1) throw new CliException("export needs exactly one checkpoint file.");
        var output = a.String("out") ?? throw new CliException("--out FILE.pt is required.");
        a.EnsureAllUsed();
        if (!File.Exists(a.Positionals[0])) throw new CliException($"checkpoint '{a.Positionals[0]}' does not exist.");
        foreach (var file in CheckpointExport.Export(a.Positionals[0], output)) stdout.WriteLine($"wrote {file}");
        return ExitCodes.Ok;
    }
}

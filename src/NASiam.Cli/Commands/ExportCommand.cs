using System.CommandLine;
using NASiam.Core.Engine.Checkpoints;

namespace NASiam.Cli.Commands;

/// <summary>
/// <c>nasiam export CHECKPOINT OUT.pt</c> (or <c>--out OUT.pt</c>): a PyTorch-loadable state dict
/// with the reference key names. The model's identity (framework, backbone, heads, genotype) comes
/// from the checkpoint's saved options; there is nothing to choose.
/// </summary>
public static class ExportCommand
{
    /// <summary>The export verb.</summary>
    public static Command Create(CliContext context)
    {
        var checkpoint = new Argument<string>("checkpoint") { Description = "A search or pretrain checkpoint (OUT/checkpoints/*.ckpt)." };
        var output = new Argument<string?>("output") { Arity = ArgumentArity.ZeroOrOne, Description = "The .pt file to write (or give --out)." };
        var outOption = new Option<string>("--out") { HelpName = "FILE.pt", Description = "The .pt file to write (same as the second argument)." };
        var command = new Command("export",
            "Export a search/pretrain checkpoint as a PyTorch state dict under the reference key names (torch.load(FILE) gives it). " +
            "Framework, backbone, heads and genotype come from the checkpoint. A search checkpoint also writes the alphas beside it, " +
            "NAME.alphas.pt for NAME.pt (out.pt gives out.alphas.pt), with \"alphas.encoder\" / \"alphas.predictor\".")
        { checkpoint, output, outOption };
        command.SetAction(p =>
        {
            var (positional, flag) = (p.GetValue(output), p.GetValue(outOption));
            if (positional is not null && flag is not null && positional != flag)
                throw new CliException($"two outputs given ('{positional}' and --out '{flag}'); give one.");
            var target = positional ?? flag ?? throw new CliException("missing the output file: nasiam export CHECKPOINT OUT.pt.");
            var path = p.GetValue(checkpoint)!;
            if (!File.Exists(path)) throw new CliException($"checkpoint '{path}' does not exist.");
            foreach (var file in CheckpointExport.Export(path, target)) context.Stdout.WriteLine($"wrote {file}");
            return ExitCodes.Ok;
        });
        return command;
    }
}

using NASiam.Core.Options;

namespace NASiam.Cli.Commands;

/// <summary><c>nasiam pretrain</c>: pre-trains a genotype (or the baseline heads) from scratch.</summary>
public sealed class PretrainCommand : ICliCommand
{
    public string Name => "pretrain";
    public string Summary => "pre-train a genotype or the baseline heads, with the kNN monitor";
    public string Help => "Usage: nasiam pretrain --out DIR [--genotype standard|PRESET|FILE|TEXT] [options]\n\n" +
        "Trains the backbone with the given heads; kNN top-1 each epoch selects checkpoints/pretrain-best.ckpt.\n\nOptions:\n" +
        "  --genotype G         'standard' (default), a preset (nasiam genotype presets), a genotype file or text\n" +
        RunCommandSupport.CommonHelp;

    public int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken) =>
        RunCommandSupport.Execute(new CliArgs(args, SearchCommand.Flags), RunKind.Pretrain, stdout, stderr, cancellationToken);
}

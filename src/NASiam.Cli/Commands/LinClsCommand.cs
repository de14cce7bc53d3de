using NASiam.Core.Options;

namespace NASiam.Cli.Commands;

/// <summary><c>nasiam lincls</c>: linear evaluation of a pre-trained (or untrained) backbone.</summary>
public sealed class LinClsCommand : ICliCommand
{
    public string Name => "lincls";
    public string Summary => "linear evaluation on frozen backbone features (top-1/top-5)";
    public string Help => "Usage: nasiam lincls --out DIR [--checkpoint FILE] [options]\n\n" +
        "Freezes the backbone (BN in eval mode) and trains a linear classifier; reports test top-1/top-5.\n" +
        "Without --checkpoint the backbone is untrained: the baseline a pre-training must beat.\n\nOptions:\n" +
        "  --checkpoint FILE    a pretrain (or search) checkpoint, e.g. OUT/checkpoints/pretrain-best.ckpt\n" +
        RunCommandSupport.CommonHelp;

    public int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken) =>
        RunCommandSupport.Execute(new CliArgs(args, SearchCommand.Flags), RunKind.LinCls, stdout, stderr, cancellationToken);
}

using NASiam.Core.Options;

namespace NASiam.Cli.Commands;

/// <summary><c>nasiam search</c>: differentiable search of the heads; writes the argmax genotype.</summary>
public sealed class SearchCommand : ICliCommand
{
    public string Name => "search";
    public string Summary => "search projector/predictor cells (first-order DARTS) and write the genotype";
    public string Help => "Usage: nasiam search --out DIR [options]\n\n" +
        "Alternates an architecture step (held-out half) and a weight step (other half) per iteration,\n" +
        "then writes DIR/genotype.txt (reference format) and DIR/genotype.json.\n\nOptions:\n" + RunCommandSupport.CommonHelp;

    public int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken) =>
        RunCommandSupport.Execute(new CliArgs(args, Flags), RunKind.Search, stdout, stderr, cancellationToken);

    internal static readonly IReadOnlySet<string> Flags = new HashSet<string> { "fresh" };
}

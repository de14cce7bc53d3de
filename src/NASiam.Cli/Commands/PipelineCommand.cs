using NASiam.Core.Options;

namespace NASiam.Cli.Commands;

/// <summary><c>nasiam pipeline</c>: search → genotype → pre-train → linear evaluation, with lineage.</summary>
public sealed class PipelineCommand : ICliCommand
{
    public string Name => "pipeline";
    public string Summary => "search, derive, pre-train the discovered heads, evaluate linearly";
    public string Help => "Usage: nasiam pipeline --out DIR [--preset quick-demo] [options]\n\n" +
        "Chains the stages; result.json records which search produced which genotype, which\n" +
        "pre-training used it and which evaluation scored it. --epochs/--batch-size/--lr apply to every stage.\n\n" +
        "Presets:\n" + string.Join("\n", RunPresets.Descriptions.Select(kv => $"  {kv.Key,-18} {kv.Value}")) + "\n\nOptions:\n" +
        "  --genotype G         pre-train G instead of the searched genotype (e.g. 'standard')\n" +
        RunCommandSupport.CommonHelp;

    public int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken) =>
        RunCommandSupport.Execute(new CliArgs(args, SearchCommand.Flags), RunKind.Pipeline, stdout, stderr, cancellationToken);
}

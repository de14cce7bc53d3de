using NASiam.Core;
using NASiam.Core.Engine.Checkpoints;
using NASiam.Core.Genotypes;

namespace NASiam.Cli.Commands;

/// <summary><c>nasiam genotype show|presets|convert|derive</c>.</summary>
public sealed class GenotypeCommand : ICliCommand
{
    public string Name => "genotype";
    public string Summary => "show, list, convert and derive genotypes";
    public string Help => """
        Usage:
          nasiam genotype show FILE|TEXT|PRESET [--framework F] [--format json|txt]
              Parse a genotype (reference text or JSON, from a file, inline text, or a preset
              name such as simsiam/cifar10_resnet18) and print it (JSON by default).
          nasiam genotype presets [--framework F]
              List the published genotypes that ship with NASiam.Web.
          nasiam genotype convert FILE|TEXT|PRESET --to json|txt [--out FILE] [--framework F]
              Convert between the reference text format and JSON.
          nasiam genotype derive CHECKPOINT [--format txt|json] [--out FILE]
              Derive the argmax genotype from the alphas saved in a search checkpoint
              (e.g. OUT/checkpoints/search.ckpt), at whatever epoch it was saved.

        --framework simsiam|moco|simclr checks the fields and layer counts for that framework
        (otherwise the framework is inferred from the fields present).
        """;

    public int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var a = new CliArgs(args);
        if (a.Positionals.Count == 0) throw new CliException("missing sub-command: show, presets, convert or derive.");
        var sub = a.Positionals[0];
        Framework? framework = a.String("framework") is { } fs ? FrameworkNames.Parse(fs) : null;
        switch (sub)
        {
            case "presets":
            {
                a.EnsureAllUsed();
                foreach (var p in GenotypePresets.All.Where(p => framework is null || p.Framework == framework))
                    stdout.WriteLine($"{p.Name,-28} {p.Description}\n{"",-28} {(p.Genotype is null ? "(baseline heads)" : GenotypeText.Write(p.Genotype))}");
                return ExitCodes.Ok;
            }
            case "show":
            case "convert":
            {
                if (a.Positionals.Count < 2) throw new CliException($"'{sub}' needs a genotype: a file, inline text or a preset name.");
                var format = sub == "show" ? a.String("format") ?? "json" : a.String("to") ?? throw new CliException("convert needs --to json|txt.");
                if (format is not ("json" or "txt")) throw new CliException($"unknown format '{format}'; use json or txt.");
                var outPath = sub == "convert" ? a.String("out") : null;
                a.EnsureAllUsed();
                var (genotype, fw) = GenotypeSource.Load(string.Join(" ", a.Positionals.Skip(1)), framework);
                var text = format == "json" ? GenotypeJson.Write(genotype, fw) : GenotypeText.Write(genotype);
                if (outPath is null) stdout.WriteLine(text);
                else
                {
                    File.WriteAllText(outPath, text);
                    stdout.WriteLine($"wrote {outPath}");
                }
                return ExitCodes.Ok;
            }
            case "derive":
            {
                if (a.Positionals.Count != 2) throw new CliException("'derive' needs one search checkpoint file.");
                var format = a.String("format") ?? "txt";
                if (format is not ("json" or "txt")) throw new CliException($"unknown format '{format}'; use json or txt.");
                var outPath = a.String("out");
                a.EnsureAllUsed();
                var path = a.Positionals[1];
                if (!File.Exists(path)) throw new CliException($"checkpoint '{path}' does not exist.");
                var saved = SavedAlphas.Read(path);
                if (framework is { } fw && fw != saved.Framework)
                    throw new CliException($"checkpoint '{path}' is a {saved.Framework.ToName()} search, not {fw.ToName()}.");
                var genotype = saved.Derive();
                var text = format == "json" ? GenotypeJson.Write(genotype, saved.Framework) : GenotypeText.Write(genotype);
                if (outPath is null) stdout.WriteLine(text);
                else
                {
                    File.WriteAllText(outPath, text);
                    stdout.WriteLine($"wrote {outPath} (alphas of epoch {saved.Epoch}, step {saved.Step})");
                }
                return ExitCodes.Ok;
            }
            default:
                throw new CliException($"unknown sub-command '{sub}': use show, presets, convert or derive.");
        }
    }
}

/// <summary>Loads a genotype from a preset name, a file (text or JSON) or inline text.</summary>
public static class GenotypeSource
{
    public static (Genotype Genotype, Framework Framework) Load(string source, Framework? framework)
    {
        var preset = GenotypePresets.Find(source, framework);
        if (preset is not null)
        {
            if (preset.Genotype is null) throw new CliException($"'{preset.Name}' is the baseline head, which has no genotype to show.");
            return (preset.Genotype, preset.Framework);
        }
        string text = source;
        if (File.Exists(source)) text = File.ReadAllText(source);
        else if (!source.TrimStart().StartsWith("Genotype", StringComparison.Ordinal) && !source.TrimStart().StartsWith('{'))
            throw new CliException($"'{source}' is not a file, a preset (see 'nasiam genotype presets') or genotype text.");
        var g = text.TrimStart().StartsWith('{') ? GenotypeJson.Parse(text, framework) : GenotypeText.Parse(text, framework);
        return (g, framework ?? GenotypeRules.InferFramework(g));
    }
}

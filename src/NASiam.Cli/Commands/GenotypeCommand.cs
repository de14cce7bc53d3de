using System.CommandLine;
using NASiam.Core;
using NASiam.Core.Engine.Checkpoints;
using NASiam.Core.Genotypes;

namespace NASiam.Cli.Commands;

/// <summary><c>nasiam genotype show|presets|convert|derive</c>.</summary>
public static class GenotypeCommand
{
    /// <summary>The genotype verb and its sub-commands.</summary>
    public static Command Create(CliContext context)
    {
        var command = new Command("genotype", "Show, list, convert and derive genotypes.");
        Option<string> Framework() => new("--framework")
        {
            HelpName = string.Join("|", Core.Options.EnumNames.All<Framework>()),
            Description = "Check the fields and layer counts for that framework (otherwise it is inferred from the fields present).",
        };
        Argument<string[]> Source() => new("genotype")
        {
            Arity = ArgumentArity.OneOrMore,
            Description = "A genotype file (reference text or JSON), inline text, or a preset name such as simsiam/cifar10_resnet18.",
        };

        {
            var framework = Framework();
            var source = Source();
            var format = new Option<string>("--format") { HelpName = "json|txt", Description = "Output format (default json).", DefaultValueFactory = _ => "json" };
            format.AcceptOnlyFromAmong("json", "txt");
            var show = new Command("show", "Parse a genotype and print it (JSON by default).") { source, framework, format };
            show.SetAction(p => Print(context, p.GetValue(source)!, ParseFramework(p.GetValue(framework)), p.GetValue(format)!, null));
            command.Add(show);
        }
        {
            var framework = Framework();
            var presets = new Command("presets", "List the published genotypes that ship with NASiam.Web.") { framework };
            presets.SetAction(p =>
            {
                var fw = ParseFramework(p.GetValue(framework));
                foreach (var g in GenotypePresets.All.Where(g => fw is null || g.Framework == fw))
                    context.Stdout.WriteLine($"{g.Name,-28} {g.Description}\n{"",-28} {(g.Genotype is null ? "(baseline heads)" : GenotypeText.Write(g.Genotype))}");
                return ExitCodes.Ok;
            });
            command.Add(presets);
        }
        {
            var framework = Framework();
            var source = Source();
            var to = new Option<string>("--to") { HelpName = "json|txt", Description = "Output format.", Required = true };
            to.AcceptOnlyFromAmong("json", "txt");
            var output = new Option<string>("--out") { HelpName = "FILE", Description = "Write to FILE instead of the console." };
            var convert = new Command("convert", "Convert between the reference text format and JSON.") { source, to, output, framework };
            convert.SetAction(p => Print(context, p.GetValue(source)!, ParseFramework(p.GetValue(framework)), p.GetValue(to)!, p.GetValue(output)));
            command.Add(convert);
        }
        {
            var framework = Framework();
            var checkpoint = new Argument<string>("checkpoint") { Description = "A search checkpoint, e.g. OUT/checkpoints/search.ckpt." };
            var format = new Option<string>("--format") { HelpName = "txt|json", Description = "Output format (default txt).", DefaultValueFactory = _ => "txt" };
            format.AcceptOnlyFromAmong("json", "txt");
            var output = new Option<string>("--out") { HelpName = "FILE", Description = "Write to FILE instead of the console." };
            var derive = new Command("derive", "Derive the argmax genotype from the alphas saved in a search checkpoint, at whatever epoch it was saved.")
                { checkpoint, format, output, framework };
            derive.SetAction(p =>
            {
                var path = p.GetValue(checkpoint)!;
                if (!File.Exists(path)) throw new CliException($"checkpoint '{path}' does not exist.");
                var saved = SavedAlphas.Read(path);
                if (ParseFramework(p.GetValue(framework)) is { } fw && fw != saved.Framework)
                    throw new CliException($"checkpoint '{path}' is a {saved.Framework.ToName()} search, not {fw.ToName()}.");
                var genotype = saved.Derive();
                var text = p.GetValue(format) == "json" ? GenotypeJson.Write(genotype, saved.Framework) : GenotypeText.Write(genotype);
                // On stderr, so `derive CKPT > g.txt` still writes the genotype alone.
                if (saved.Provisional is { } note) context.Stderr.WriteLine($"nasiam genotype derive: note: {note}");
                if (p.GetValue(output) is { } outPath)
                {
                    File.WriteAllText(outPath, text);
                    context.Stdout.WriteLine($"wrote {outPath} (alphas after {saved.Epoch} epoch(s), step {saved.Step})");
                }
                else context.Stdout.WriteLine(text);
                return ExitCodes.Ok;
            });
            command.Add(derive);
        }
        return command;
    }

    static Framework? ParseFramework(string? text) => text is null ? null : FrameworkNames.Parse(text);

    static int Print(CliContext context, string[] source, Framework? framework, string format, string? outPath)
    {
        var (genotype, fw) = GenotypeSource.Load(string.Join(" ", source), framework);
        var text = format == "json" ? GenotypeJson.Write(genotype, fw) : GenotypeText.Write(genotype);
        if (outPath is null) context.Stdout.WriteLine(text);
        else
        {
            File.WriteAllText(outPath, text);
            context.Stdout.WriteLine($"wrote {outPath}");
        }
        return ExitCodes.Ok;
    }
}

/// <summary>Loads a genotype from a preset name, a file (text or JSON) or inline text.</summary>
public static class GenotypeSource
{
    /// <summary>The genotype <paramref name="source"/> names, and its framework (given, or inferred from its fields).</summary>
    public static (Genotype Genotype, Framework Framework) Load(string source, Framework? framework)
    {
        var preset = GenotypePresets.Find(source, framework);
        if (preset is not null)
        {
            if (preset.Genotype is null) throw new CliException($"'{preset.Name}' is the baseline head, which has no genotype to show.");
            return (preset.Genotype, preset.Framework);
        }
        string text = source;
        if (File.Exists(source) || Directory.Exists(source)) text = GenotypeFile.ReadText(source); // a run folder's genotype.txt; a checkpoint refused
        else if (!source.TrimStart().StartsWith("Genotype", StringComparison.Ordinal) && !source.TrimStart().StartsWith('{'))
            throw new CliException($"'{source}' is not a file, a preset (see 'nasiam genotype presets') or genotype text.");
        var g = text.TrimStart().StartsWith('{') ? GenotypeJson.Parse(text, framework) : GenotypeText.Parse(text, framework);
        return (g, framework ?? GenotypeRules.InferFramework(g));
    }
}

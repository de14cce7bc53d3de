using System.CommandLine;
using System.CommandLine.Invocation;
using NASiam.Cli.Commands;

namespace NASiam.Cli;

/// <summary>
/// The nasiam command, on System.CommandLine: every verb is a <see cref="Command"/> whose help is
/// generated from its definitions. <see cref="Run"/> is the testable entry point.
/// </summary>
public static class NasiamCli
{
    /// <summary>The root command's description (first line of <c>nasiam --help</c>).</summary>
    public const string Description = "nasiam: differentiable search of projector/predictor heads for siamese SSL (NASiam)";

    /// <summary>
    /// Every verb, in help order. A new verb is a <c>static Command Create(CliContext)</c> added
    /// here.
    /// </summary>
    public static IReadOnlyList<Command> Verbs(CliContext context) =>
    [
        RunVerbs.Create(Core.Options.RunKind.Search, context),
        RunVerbs.Create(Core.Options.RunKind.Pretrain, context),
        RunVerbs.Create(Core.Options.RunKind.LinCls, context),
        RunVerbs.Create(Core.Options.RunKind.Pipeline, context),
        CompareCommand.Create(context),
        GenotypeCommand.Create(context),
        ExportCommand.Create(context),
        CheckpointCommand.Create(context),
        BenchCommand.Create(context),
        DatasetsCommand.Create(context),
        OptionsCommand.Create(context),
        DoctorCommand.Create(context),
    ];

    /// <summary>The root command with every verb, writing to <paramref name="context"/>'s writers.</summary>
    public static RootCommand CreateRoot(CliContext context)
    {
        var root = new RootCommand(Description);
        foreach (var verb in Verbs(context)) root.Add(verb);
        return root;
    }

    /// <summary>
    /// Parses <paramref name="args"/> and runs the verb. Bad input (unknown flags, missing values,
    /// invalid options, unreadable files) prints one reason per line on <paramref name="stderr"/>
    /// and returns <see cref="ExitCodes.BadInput"/>; never a stack trace.
    /// </summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        var context = new CliContext(stdout, stderr, cancellationToken);
        var root = CreateRoot(context);
        var configuration = new InvocationConfiguration
        {
            Output = stdout,
            Error = stderr,
            EnableDefaultExceptionHandler = false,
            // Program.cs owns Ctrl-C (first press cancels cleanly through the token).
            ProcessTerminationTimeout = null,
        };
        if (args.Length == 0)
        {
            root.Parse(["--help"]).Invoke(configuration);
            return ExitCodes.BadInput;
        }
        var parse = root.Parse(args);
        var verb = "nasiam" + string.Concat(CommandPath(parse).Select(c => " " + c.Name));
        if (parse.Action is ParseErrorAction)
        {
            stderr.WriteLine($"{verb}: {string.Join(" ", parse.Errors.Select(e => Sentence(e.Message)))}{Suggestion(parse)} See '{verb} --help'.");
            return ExitCodes.BadInput;
        }
        try
        {
            return parse.Invoke(configuration);
        }
        catch (CliException e)
        {
            stderr.WriteLine($"{verb}: {e.Message}");
            return e.ExitCode;
        }
        catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException or InvalidDataException or FormatException)
        {
            stderr.WriteLine($"{verb}: {e.Message}");
            return ExitCodes.BadInput;
        }
    }

    static IEnumerable<Command> CommandPath(ParseResult parse)
    {
        var path = new List<Command>();
        for (var r = parse.CommandResult; r is not null; r = r.Parent as System.CommandLine.Parsing.CommandResult)
            if (r.Command is not RootCommand) path.Insert(0, r.Command);
        return path;
    }

    /// <summary>One line, ending with a full stop (System.CommandLine lists choices on separate lines).</summary>
    static string Sentence(string s)
    {
        s = System.Text.RegularExpressions.Regex.Replace(s.Trim(), @"\s*\r?\n\s*", " ");
        return s.EndsWith('.') ? s : s + ".";
    }

    /// <summary>"Did you mean --epochs?" for an unknown flag close to a known one.</summary>
    static string Suggestion(ParseResult parse)
    {
        var names = parse.CommandResult.Command.Options.Where(o => !o.Hidden)
            .SelectMany(o => o.Aliases.Prepend(o.Name)).Where(n => n.StartsWith("--", StringComparison.Ordinal)).Distinct().ToList();
        foreach (var token in parse.UnmatchedTokens.Where(t => t.StartsWith("--", StringComparison.Ordinal)))
        {
            var best = names.Select(n => (Name: n, Distance: Distance(token, n))).OrderBy(x => x.Distance).FirstOrDefault();
            if (best.Name is not null && best.Distance <= Math.Max(2, token.Length / 4)) return $" Did you mean {best.Name}?";
        }
        return "";
    }

    static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
        return d[a.Length, b.Length];
    }
}

using NASiam.Cli.Commands;

namespace NASiam.Cli;

/// <summary>The nasiam command: dispatches to its verbs.</summary>
public static class NasiamCli
{
    /// <summary>Every verb. Add new verbs here.</summary>
    public static IReadOnlyList<ICliCommand> Commands { get; } =
    [
        new GenotypeCommand(),
        new SearchCommand(),
        new PretrainCommand(),
        new LinClsCommand(),
        new PipelineCommand(),
        new BenchCommand(),
        new ExportCommand(),
        new DatasetsCommand(),
        new DoctorCommand(),
    ];

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken = default)
    {
        if (args.Length == 0 || args[0] is "--help" or "-h" or "help")
        {
            stdout.WriteLine(TopLevelHelp());
            return args.Length == 0 ? ExitCodes.BadInput : ExitCodes.Ok;
        }
        var command = Commands.FirstOrDefault(c => c.Name == args[0]);
        if (command is null)
        {
            stderr.WriteLine($"nasiam: unknown command '{args[0]}'. Commands: {string.Join(", ", Commands.Select(c => c.Name))}.");
            return ExitCodes.BadInput;
        }
        var rest = args.Skip(1).ToArray();
        if (rest.Contains("--help") || rest.Contains("-h"))
        {
            stdout.WriteLine(command.Help);
            return ExitCodes.Ok;
        }
        try
        {
            return command.Run(rest, stdout, stderr, cancellationToken);
        }
        catch (CliException e)
        {
            stderr.WriteLine($"nasiam {command.Name}: {e.Message}");
            return e.ExitCode;
        }
        catch (ArgumentException e)
        {
            stderr.WriteLine($"nasiam {command.Name}: {e.Message}");
            return ExitCodes.BadInput;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or FormatException)
        {
            stderr.WriteLine($"nasiam {command.Name}: {e.Message}");
            return ExitCodes.BadInput;
        }
    }

    static string TopLevelHelp()
    {
        var lines = Commands.Select(c => $"  {c.Name,-10} {c.Summary}");
        return "nasiam: differentiable search of projector/predictor heads for siamese SSL (NASiam)\n\n" +
               "Usage: nasiam COMMAND [options]   (nasiam COMMAND --help for details)\n\nCommands:\n" +
               string.Join("\n", lines);
    }
}

namespace NASiam.Cli;

/// <summary>One verb of the nasiam command.</summary>
public interface ICliCommand
{
    /// <summary>The verb, e.g. "genotype".</summary>
    string Name { get; }
    /// <summary>One line for the top-level help.</summary>
    string Summary { get; }
    /// <summary>Full help text for <c>nasiam VERB --help</c>.</summary>
    string Help { get; }
    /// <summary>Runs the verb; returns the exit code. Throws <see cref="CliException"/> for bad input.</summary>
    int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken);
}

namespace NASiam.Cli;

/// <summary>A user error: printed as one line, exit code <see cref="ExitCode"/>.</summary>
public sealed class CliException(string message, int exitCode = ExitCodes.BadInput) : Exception(message)
{
    /// <summary>The process exit code this error ends the command with.</summary>
    public int ExitCode { get; } = exitCode;
}

/// <summary>Process exit codes of the nasiam command.</summary>
public static class ExitCodes
{
    /// <summary>Success (also for --help and --print-options).</summary>
    public const int Ok = 0;
    /// <summary>The run failed (NaN loss, I/O error during training).</summary>
    public const int RunFailed = 1;
    /// <summary>Bad arguments, options or input files.</summary>
    public const int BadInput = 2;
    /// <summary>Cancelled (Ctrl-C); a resumable checkpoint was left.</summary>
    public const int Cancelled = 130;
}

/// <summary>What every verb's action needs from the invocation: where to write and when to stop.</summary>
/// <param name="Stdout">Results and progress.</param>
/// <param name="Stderr">Errors, notices and warnings.</param>
/// <param name="CancellationToken">Cancels a run cleanly (Ctrl-C); a resumable checkpoint is left.</param>
public sealed record CliContext(TextWriter Stdout, TextWriter Stderr, CancellationToken CancellationToken);

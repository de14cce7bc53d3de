using System.CommandLine;
using NASiam.Core.Engine.Checkpoints;

namespace NASiam.Cli.Commands;

/// <summary>
/// <c>nasiam checkpoint verify CHECKPOINT...</c>: reads each checkpoint whole and checks its checksums
/// (<see cref="CheckpointStore.Verify"/>; format 2 stores one per section), e.g. after copying checkpoints
/// between machines and before a long evaluation or resume. Exit code 1 when one is damaged or unreadable.
/// </summary>
public static class CheckpointCommand
{
    /// <summary>The checkpoint verb.</summary>
    public static Command Create(CliContext context)
    {
        var files = new Argument<string[]>("checkpoint") { Arity = ArgumentArity.OneOrMore, Description = "Checkpoint files (OUT/checkpoints/*.ckpt)." };
        var verify = new Command("verify",
            "Read each checkpoint whole and check its checksums (format 2: the state and every section); prints its stage, epoch and step. " +
            "Exit code 1 when one is damaged, truncated or not a checkpoint.")
        { files };
        verify.SetAction(p =>
        {
            bool allGood = true;
            foreach (var path in p.GetValue(files)!)
            {
                try
                {
                    var state = CheckpointStore.Verify(path);
                    string checks = state.FormatVersion >= CheckpointStore.FormatVersion
                        ? "checksums match"
                        : $"format {state.FormatVersion}: written before checksums, only its structure checked";
                    context.Stdout.WriteLine($"{path}: ok ({state.Stage}, {state.Epoch} epoch(s) done, step {state.Step}{(state.Completed ? ", completed" : "")}; {checks})");
                }
                catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException or System.Text.Json.JsonException)
                {
                    allGood = false;
                    context.Stderr.WriteLine($"{path}: {e.Message}");
                }
            }
            return allGood ? ExitCodes.Ok : ExitCodes.RunFailed;
        });
        return new Command("checkpoint", "Check checkpoint files.") { verify };
    }
}

using NASiam.Cli;

NASiam.Core.Engine.Numerics.KernelProbe.TryRunAsChild(args); // exits here when re-launched as a kernel-probe child
// First Ctrl-C cancels the run cleanly (a resumable checkpoint is written within one step);
// a second one terminates the process as usual.
using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    if (cancellation.IsCancellationRequested) return;
    e.Cancel = true;
    Console.Error.WriteLine("\nnasiam: stopping after the current step (Ctrl-C again to kill)...");
    cancellation.Cancel();
};
return NasiamCli.Run(args, Console.Out, Console.Error, cancellation.Token);

using System.CommandLine;
using NASiam.Core.Engine.Numerics;

namespace NASiam.Cli.Commands;

/// <summary><c>nasiam doctor</c>: the host and the kernel self-check per backbone (logic in <see cref="KernelDoctor"/>).</summary>
public static class DoctorCommand
{
    /// <summary>The doctor verb. Exit code 1 (<see cref="ExitCodes.RunFailed"/>) when some backbone has no correct setting.</summary>
    public static Command Create(CliContext context)
    {
        var backbone = new Option<string?>("--backbone")
        {
            HelpName = "B[,B...]",
            Description = "Backbones to check (default resnet-tiny, resnet18, resnet50; CIFAR stem).",
        };
        var imagenet = new Option<bool>("--imagenet") { Description = "Also check the ImageNet stem (224 px; slow on few cores)." };
        var threads = new Option<int>("--threads") { HelpName = "T", Description = "Intra-op threads (0 = libtorch's default)." };
        threads.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 0) r.AddError("--threads must be >= 0."); });
        var noTiming = new Option<bool>("--no-timing") { Description = "Pick the first correct candidate instead of the fastest." };
        var recheck = new Option<bool>("--recheck") { Description = "Ignore and overwrite the cached result." };
        var cacheDir = new Option<string?>("--cache-dir") { HelpName = "DIR", Description = "Where the result is cached (default $NASIAM_CACHE_DIR or ~/.cache/nasiam)." };
        var json = new Option<bool>("--json") { Description = "Print the report as JSON." };
        var command = new Command("doctor",
            "Check this CPU's convolution kernels per backbone and show the chosen setting. Prints the host (CPU model, " +
            "ISA flags, libtorch version, threads) and, for each backbone, each candidate setting (nchw, nchw+s1x1; " +
            "channels-last is never chosen, docs/kernel-faults.md fault 3) with correct / wrong / crashed, its max relative error against float64, " +
            "its seconds per forward+backward pass, and the setting runs will use. Each candidate runs in a child process. " +
            "Exit code 1 when some backbone has no correct setting.")
        { backbone, imagenet, threads, noTiming, recheck, cacheDir, json };
        command.SetAction(p =>
        {
            var backbones = p.GetValue(backbone)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var unknown = backbones?.Where(b => !Core.Backbones.BackboneFactory.Names.Contains(b)).ToList() ?? [];
            if (unknown.Count > 0)
                throw new CliException($"unknown backbone{(unknown.Count > 1 ? "s" : "")} {string.Join(", ", unknown.Select(u => $"'{u}'"))}; known: {string.Join(", ", Core.Backbones.BackboneFactory.Names)}.");
            var check = new KernelCheckOptions { CacheDirectory = p.GetValue(cacheDir) };
            if (p.GetValue(noTiming)) check = check with { TimingPasses = 0 }; // else Core's default
            var options = new KernelDoctorOptions
            {
                Backbones = backbones,
                Stems = p.GetValue(imagenet) ? [true, false] : [true],
                Threads = p.GetValue(threads),
                Check = p.GetValue(recheck) ? check with { UseCache = false } : check,
            };
            var ok = KernelDoctor.Run(options, context.Stdout, p.GetValue(json), line => context.Stderr.WriteLine(line));
            return ok ? ExitCodes.Ok : ExitCodes.RunFailed;
        });
        return command;
    }
}

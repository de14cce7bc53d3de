using NASiam.Core.Engine.Numerics;

namespace NASiam.Cli.Commands;

/// <summary><c>nasiam doctor</c>: the host and the kernel self-check per backbone (logic in <see cref="KernelDoctor"/>).</summary>
public sealed class DoctorCommand : ICliCommand
{
    public string Name => "doctor";
    public string Summary => "check this CPU's convolution kernels per backbone and show the chosen setting";
    public string Help => """
        Usage:
          nasiam doctor [--backbone B[,B...]] [--imagenet] [--threads T] [--no-timing] [--recheck]
                        [--cache-dir DIR] [--json]
              Prints the host (CPU model, ISA flags, libtorch version, threads) and, for each
              backbone (default resnet-tiny, resnet18, resnet50; CIFAR stem), every candidate
              setting (nchw, nchw+s1x1, channels-last, channels-last+s1x1) with correct / wrong /
              crashed, its max relative error against float64, its seconds per forward+backward
              pass, and the setting runs will use. Each candidate runs in a child process.
              --imagenet also checks the ImageNet stem (224 px; slow on few cores).
              --no-timing picks the first correct candidate instead of the fastest.
              --recheck ignores and overwrites the cached result.
              Exit code 1 when some backbone has no correct setting.
        """;

    public int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var a = new CliArgs(args, new HashSet<string> { "imagenet", "no-timing", "recheck", "json" });
        if (a.Positionals.Count > 0) throw new CliException($"unexpected argument '{a.Positionals[0]}'.");
        var backbones = a.String("backbone")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var imagenet = a.Flag("imagenet");
        var threads = a.Int("threads") ?? 0;
        var noTiming = a.Flag("no-timing");
        var recheck = a.Flag("recheck");
        var cacheDir = a.String("cache-dir");
        var json = a.Flag("json");
        a.EnsureAllUsed();
        if (threads < 0) throw new CliException("--threads must be >= 0.");
        var check = new KernelCheckOptions { CacheDirectory = cacheDir, TimingPasses = noTiming ? 0 : 2 };
        var options = new KernelDoctorOptions
        {
            Backbones = backbones, Stems = imagenet ? [true, false] : [true], Threads = threads,
            Check = recheck ? check with { UseCache = false } : check,
        };
        var ok = KernelDoctor.Run(options, stdout, json, line => stderr.WriteLine(line));
        return ok ? ExitCodes.Ok : ExitCodes.RunFailed;
    }
}

using System.Text.Json;

namespace NASiam.Core.Engine.Numerics;

/// <summary>What <see cref="KernelDoctor.Run"/> checks.</summary>
public sealed record KernelDoctorOptions
{
    /// <summary>Backbones to check; default every <see cref="Backbones.BackboneFactory.Names"/>.</summary>
    public IReadOnlyList<string>? Backbones { get; init; }
    /// <summary>Stems to check (true = CIFAR); default the CIFAR stem only (the ImageNet stem at 224 px takes minutes on 2 cores).</summary>
    public IReadOnlyList<bool> Stems { get; init; } = [true];
    /// <summary>Torch threads (0 = all cores), as a run would use.</summary>
    public int Threads { get; init; }
    /// <summary>Template for every check (timing, cache, tolerance); Backbone and CifarStem are set per check.</summary>
    public KernelCheckOptions Check { get; init; } = new();
}

/// <summary>
/// The report behind <c>nasiam doctor</c>: the host (CPU model, ISA flags, libtorch/TorchSharp
/// versions, threads) and, per backbone and stem, every candidate convolution setting with
/// correct/wrong/crashed, its max relative error, its timing and the choice.
/// </summary>
public static class KernelDoctor
{
    /// <summary>
    /// Runs the checks, writing text (or, with <paramref name="json"/>, one JSON document) to
    /// <paramref name="output"/> and progress to <paramref name="progress"/>. Returns true when every
    /// checked backbone has a correct setting.
    /// </summary>
    public static bool Run(KernelDoctorOptions o, TextWriter output, bool json, Action<string>? progress = null)
    {
        TorchRuntime.SetThreads(o.Threads);
        var host = HostInfo.Current();
        var reports = new List<KernelCheckReport>();
        if (!json)
        {
            output.WriteLine($"host:      {host.CpuModel} ({host.Architecture}, {Environment.ProcessorCount} logical CPUs)");
            output.WriteLine($"ISA:       {string.Join(' ', host.IsaFlags)}");
            output.WriteLine($"libtorch:  {host.LibTorchVersion} (TorchSharp {host.TorchSharpVersion}), {host.Threads} torch threads");
            output.WriteLine($"cache:     {(o.Check.UseCache ? o.Check.CacheDirectory ?? KernelSelfCheck.DefaultCacheDirectory() : "off")}");
        }
        foreach (var backbone in o.Backbones ?? Backbones.BackboneFactory.Names)
            foreach (var stem in o.Stems)
            {
                progress?.Invoke($"checking {backbone} ({(stem ? "CIFAR" : "ImageNet")} stem) ...");
                var report = KernelSelfCheck.Run(o.Check with { Backbone = backbone, CifarStem = stem }, progress);
                reports.Add(report);
                if (!json)
                {
                    output.WriteLine();
                    foreach (var line in report.Lines()) output.WriteLine(line);
                }
            }
        if (json)
            output.WriteLine(JsonSerializer.Serialize(new { host, reports }, new JsonSerializerOptions(KernelProbe.Json) { WriteIndented = true }));
        return reports.All(r => r.Choice is not null);
    }
}

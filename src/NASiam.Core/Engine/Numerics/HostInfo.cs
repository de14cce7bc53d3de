using System.Runtime.InteropServices;
using TorchSharp;

namespace NASiam.Core.Engine.Numerics;

/// <summary>
/// What a kernel-check result depends on: the CPU (model and ISA flags, from /proc/cpuinfo on
/// Linux, else the .NET intrinsics' view), the libtorch and TorchSharp versions, and torch's
/// intra-op thread count (oneDNN picks its blocking, and so its kernels, by thread count).
/// </summary>
public sealed record HostInfo(string CpuModel, IReadOnlyList<string> CpuFlags, string Architecture, string LibTorchVersion, string TorchSharpVersion, int Threads)
{
    /// <summary>The ISA flags that matter to oneDNN's dispatch (AVX*, AMX, FMA, F16C, VNNI, BF16): the rest are left out of reports.</summary>
    public IReadOnlyList<string> IsaFlags => CpuFlags.Where(f => f.StartsWith("avx", StringComparison.Ordinal) || f.StartsWith("amx", StringComparison.Ordinal)
        || f is "fma" or "f16c" or "sse4_2" or "vnni").ToList();

    /// <summary>The current host; reads torch's thread count, so call after <see cref="TorchRuntime.SetThreads"/>.</summary>
    public static HostInfo Current()
    {
        TorchRuntime.Initialise();
        var (model, flags) = ReadCpu();
        return new HostInfo(model, flags, RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant(),
            torch.__version__, typeof(torch).Assembly.GetName().Version?.ToString() ?? "unknown", torch.get_num_threads());
    }

    static (string Model, IReadOnlyList<string> Flags) ReadCpu()
    {
        try
        {
            if (File.Exists("/proc/cpuinfo"))
            {
                string? model = null, flags = null;
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                {
                    var colon = line.IndexOf(':');
                    if (colon < 0) { if (model is not null && flags is not null) break; continue; }
                    var key = line[..colon].Trim();
                    if (key == "model name") model ??= line[(colon + 1)..].Trim();
                    else if (key is "flags" or "Features") flags ??= line[(colon + 1)..].Trim();
                }
                if (model is not null || flags is not null)
                    return (model ?? "unknown", (flags ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal).ToList());
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        // Not Linux: the ISA as .NET sees it (enough to key the cache; the model name is not portable to read).
        var list = new List<string>();
        if (System.Runtime.Intrinsics.X86.Avx2.IsSupported) list.Add("avx2");
        if (System.Runtime.Intrinsics.X86.Avx512F.IsSupported) list.Add("avx512f");
        if (System.Runtime.Intrinsics.X86.Avx512BW.IsSupported) list.Add("avx512bw");
        if (System.Runtime.Intrinsics.X86.Fma.IsSupported) list.Add("fma");
        return (RuntimeInformation.OSDescription, list);
    }
}

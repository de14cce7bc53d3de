using System.Runtime.InteropServices;
using NASiam.Core.Options;
using TorchSharp;

namespace NASiam.Core.Engine;

/// <summary>
/// Process-wide torch set-up: thread count and device resolution. On 2 shared cores OpenMP
/// spin-waiting can slow training 30x (platform notes 1.3), so the thread count is always set
/// deliberately and OpenMP waits passively unless the user chose otherwise.
/// The price on a quiet host, measured (AMD EPYC, 2 threads, 2026-11-30, bench/README.md): every
/// parallel region then wakes its worker through the kernel, and a step runs thousands of them
/// (each BN, ReLU, add and optimizer op), so passive waiting costs 10-15 % of a ResNet-18
/// pre-training step at batch 32 and ~23 % of a SimSiam search step at batch 64 against a short
/// spin (GOMP_SPINCOUNT=30000; GOMP's own default, used by the PyTorch reference, spins 300000).
/// With other processes on the cores the spin lost 1.5-2.5x in 4 of 5 alternating pairs, hence
/// passive stays the default; on a dedicated host set GOMP_SPINCOUNT (it overrides the policy's
/// spin count, results are unchanged).
/// </summary>
public static class TorchRuntime
{
    static readonly object Gate = new();
    static bool _initialised;

    [DllImport("libc", EntryPoint = "setenv")]
    static extern int NativeSetEnv(string name, string value, int overwrite);

    /// <summary>
    /// Call before the first tensor operation. Sets glibc malloc up for training loops
    /// (<see cref="NativeMemory.TuneAllocator"/>) and OMP_WAIT_POLICY=PASSIVE in the native
    /// environment (the OpenMP runtime reads it when libtorch loads; .NET's own
    /// Environment.SetEnvironmentVariable does not reach native getenv on Unix). In a
    /// TorchBackend=system build it then loads the installed PyTorch's libtorch
    /// (<see cref="SystemLibtorch"/>) and writes one line saying which to stderr.
    /// </summary>
    /// <exception cref="ArgumentException">System build: the libtorch could not be found or loaded;
    /// other builds: <c>NASIAM_LIBTORCH_DIR</c> is set although this build bundles its own libtorch.</exception>
    public static void Initialise()
    {
        lock (Gate)
        {
            if (_initialised) return;
            if (OperatingSystem.IsLinux() && Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is null)
            {
                try { NativeSetEnv("OMP_WAIT_POLICY", "PASSIVE", 0); } catch (DllNotFoundException) { }
            }
            NativeMemory.TuneAllocator(); // before the first tensor: no page-fault churn per step (see there)
            if (SystemLibtorch.Active)
                Console.Error.WriteLine($"NASiam: {SystemLibtorch.Load()}");
            else if (Environment.GetEnvironmentVariable(SystemLibtorch.DirVariable) is { Length: > 0 } dir)
                // Loading a second libtorch next to the bundled one would give two c10 registries in one process.
                throw new ArgumentException($"{SystemLibtorch.DirVariable}={dir} is set, but this build bundles libtorch (TorchBackend={SystemLibtorch.BuildBackend}); build with -p:TorchBackend=system to use an installed PyTorch (docs/gpu.md).");
            _initialised = true;
        }
    }

    /// <summary>Sets torch's intra-op thread count: <paramref name="threads"/> when positive, else all cores.</summary>
    public static int SetThreads(int threads)
    {
        Initialise();
        var n = threads > 0 ? threads : Math.Max(1, Environment.ProcessorCount);
        if (torch.get_num_threads() != n) torch.set_num_threads(n);
        return n;
    }

    /// <summary>Resolves auto|cpu|cuda|cuda:N to a torch device; asking for CUDA without it is an error.</summary>
    public static torch.Device ResolveDevice(string request)
    {
        Initialise();
        if (!DeviceSpec.TryParse(request, out var spec))
            throw new ArgumentException($"Device '{request}' is not auto, cpu, cuda or cuda:N.");
        switch (spec.Kind)
        {
            case "cpu":
                return torch.CPU;
            case "auto":
                return torch.cuda.is_available() ? torch.CUDA : torch.CPU;
            default:
                if (!torch.cuda.is_available())
                    throw new ArgumentException($"Device '{request}' was requested but CUDA is not available on this host (CPU build of TorchSharp or no GPU).");
                var index = spec.Index ?? 0;
                if (index >= torch.cuda.device_count())
                    throw new ArgumentException($"Device '{request}': this host has {torch.cuda.device_count()} CUDA device(s).");
                return new torch.Device(DeviceType.CUDA, index);
        }
    }
}

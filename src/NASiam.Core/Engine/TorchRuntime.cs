using System.Runtime.InteropServices;
using NASiam.Core.Options;
using TorchSharp;

namespace NASiam.Core.Engine;

/// <summary>
/// Process-wide torch set-up: thread count, OpenMP waiting and device resolution. OpenMP threads that
/// wait by spinning on shared cores can slow training 30x (platform notes 1.3), and purely passive
/// waiting (every parallel region wakes its workers through the kernel, thousands a step) costs 9-13 %
/// of a step on free cores (fourteenth session, bench/README.md). So, unless the user set
/// OMP_WAIT_POLICY or GOMP_SPINCOUNT, the engine has threads spin ~0.1 ms (<see cref="EngineSpinCount"/>;
/// GOMP's own default, used by the PyTorch reference, spins 300000) and then sleep, and a
/// <see cref="CpuThreadGovernor"/> lowers the thread count while other processes use the cores.
/// </summary>
public static class TorchRuntime
{
    static readonly object Gate = new();
    static bool _initialised;

    /// <summary>
    /// GOMP_SPINCOUNT the engine sets: spins before a waiting OpenMP thread sleeps (libgomp counts ~100,000
    /// to the millisecond, so ~0.1 ms). 10,000 and 30,000 were equal in alternating runs (thirteenth session).
    /// </summary>
    public const string EngineSpinCount = "10000";

    /// <summary>
    /// True when the engine set the OpenMP wait policy (neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT was set
    /// when libtorch loaded): runs then use a <see cref="CpuThreadGovernor"/>. A user who sets either
    /// variable keeps the thread count as given.
    /// </summary>
    public static bool EngineManagesWaiting { get; private set; }

    /// <summary>How OpenMP threads wait in this process, for benchmark host lines.</summary>
    public static string WaitDescription
    {
        get
        {
            Initialise();
            return _waitDescription;
        }
    }

    static string _waitDescription = "as the OpenMP runtime's defaults (not Linux: the engine sets nothing)";

    /// <summary>
    /// The OpenMP variables the engine sets, given what the user set: nothing when OMP_WAIT_POLICY is
    /// set; OMP_WAIT_POLICY=PASSIVE alone when only GOMP_SPINCOUNT is (the user's spin, then sleep);
    /// both, with GOMP_SPINCOUNT=<see cref="EngineSpinCount"/>, when neither is (the engine then manages
    /// waiting, and runs get a thread governor).
    /// </summary>
    public static IReadOnlyDictionary<string, string> WaitVariablesToSet(string? ompWaitPolicy, string? gompSpinCount) =>
        (ompWaitPolicy, gompSpinCount) switch
        {
            (not null, _) => new Dictionary<string, string>(),
            (null, not null) => new Dictionary<string, string> { ["OMP_WAIT_POLICY"] = "PASSIVE" },
            (null, null) => new Dictionary<string, string> { ["OMP_WAIT_POLICY"] = "PASSIVE", ["GOMP_SPINCOUNT"] = EngineSpinCount },
        };

    /// <summary>Whether GNU OpenMP (libgomp, which libtorch brings) is already mapped into this process; false where /proc cannot be read.</summary>
    static bool OpenMpLoaded()
    {
        try { return File.ReadLines("/proc/self/maps").Any(l => l.Contains("libgomp", StringComparison.Ordinal)); }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    [DllImport("libc", EntryPoint = "setenv")]
    static extern int NativeSetEnv(string name, string value, int overwrite);

    /// <summary>
    /// Call before the first tensor operation. Sets glibc malloc up for training loops
    /// (<see cref="NativeMemory.TuneAllocator"/>) and OMP_WAIT_POLICY=PASSIVE (plus
    /// GOMP_SPINCOUNT=<see cref="EngineSpinCount"/> when neither was set) in the native
    /// environment (the OpenMP runtime reads them when libtorch loads; .NET's own
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
            if (OperatingSystem.IsLinux())
            {
                try
                {
                    var set = WaitVariablesToSet(Environment.GetEnvironmentVariable("OMP_WAIT_POLICY"), Environment.GetEnvironmentVariable("GOMP_SPINCOUNT"));
                    bool tooLate = OpenMpLoaded(); // libgomp reads its variables once, when it loads (with libtorch)
                    bool allSet = set.All(kv => NativeSetEnv(kv.Key, kv.Value, 0) == 0);
                    EngineManagesWaiting = allSet && set.ContainsKey("GOMP_SPINCOUNT") && !tooLate;
                    _waitDescription = tooLate ? "as libgomp's defaults (libtorch was loaded before the engine set its wait policy), thread governor off"
                        : EngineManagesWaiting ? $"passive after {EngineSpinCount} spins, thread governor on (engine default)"
                        : $"OMP_WAIT_POLICY={Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") ?? "PASSIVE (engine)"}, GOMP_SPINCOUNT={Environment.GetEnvironmentVariable("GOMP_SPINCOUNT") ?? "unset"}, thread governor off";
                }
                catch (DllNotFoundException) { }
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

    /// <summary>How many CUDA devices torch can use on this host (0 with the CPU build of TorchSharp or no GPU).</summary>
    public static int CudaDeviceCount()
    {
        Initialise();
        return torch.cuda.is_available() ? torch.cuda.device_count() : 0;
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

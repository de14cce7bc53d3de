using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json;
using NASiam.Core.Backbones;
using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Engine.Numerics;

/// <summary>What a probe child checks: one candidate setting on a list of convolution shapes, then (optionally) timed whole-backbone passes.</summary>
internal sealed record ProbeSpec(
    string Backbone, bool CifarStem, string Setting, IReadOnlyList<ConvShape> Shapes, int Batch, int Threads,
    int TimingPasses, int TimingBatch, int TimingInputSize, bool InjectCrash, double Tolerance);

/// <summary>One line of a probe child's report (stdout, prefixed with <see cref="KernelProbe.LinePrefix"/>).</summary>
internal sealed record ProbeEvent(string Kind, int Index = -1, double OutputError = double.NaN, double InputGradError = double.NaN,
    double WeightGradError = double.NaN, double Seconds = double.NaN, string? Message = null);

/// <summary>
/// The child-process side of the kernel self-check (<see cref="KernelSelfCheck"/>). A candidate
/// setting can kill the process (SIGFPE inside oneDNN, docs/kernel-faults.md), so each candidate
/// is checked in a child: the same executable, re-launched with a hidden argument.
/// </summary>
public static class KernelProbe
{
    /// <summary>The hidden first argument that turns a process into a probe child: <c>--nasiam-kernel-probe SPEC.json</c>.</summary>
    public const string ChildArgument = "--nasiam-kernel-probe";
    /// <summary>Environment variable naming the spec file when the child is started through the startup hook (hosts that do not call <see cref="TryRunAsChild"/>, such as test hosts).</summary>
    public const string SpecVariable = "NASIAM_KERNEL_PROBE_SPEC";
    internal const string LinePrefix = "@@nasiam-probe ";
    internal static readonly JsonSerializerOptions Json = new()
    {
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() },
    };

    static volatile bool _entryPointHandlesProbes;

    /// <summary>True once the entry point has called <see cref="TryRunAsChild"/>: children are then started with <see cref="ChildArgument"/>.</summary>
    public static bool EntryPointHandlesProbes => _entryPointHandlesProbes;

    /// <summary>
    /// Call as the first line of Main. When <paramref name="args"/> is <c>--nasiam-kernel-probe SPEC</c>
    /// this runs the probe and exits the process (exit 0 = probe finished, its results on stdout;
    /// 2 = bad spec); otherwise it returns at once and records that this executable can run probes.
    /// </summary>
    public static void TryRunAsChild(string[] args)
    {
        _entryPointHandlesProbes = true;
        if (args.Length >= 1 && args[0] == ChildArgument)
            Environment.Exit(args.Length == 2 ? RunChild(args[1]) : 2);
    }

    /// <summary>The startup-hook path (<c>DOTNET_STARTUP_HOOKS</c> = this assembly): runs the probe named by <see cref="SpecVariable"/> before the host's Main.</summary>
    internal static void RunFromStartupHook()
    {
        var spec = Environment.GetEnvironmentVariable(SpecVariable);
        if (!string.IsNullOrEmpty(spec)) Environment.Exit(RunChild(spec));
    }

    /// <summary>
    /// The command that re-launches this process as a probe child for <paramref name="specPath"/>:
    /// the executable (plus the entry assembly when it runs under <c>dotnet</c>) with the hidden
    /// argument when the entry point calls <see cref="TryRunAsChild"/>; otherwise this process's own
    /// command line (from /proc/self/cmdline) with a .NET startup hook that runs the probe before Main.
    /// </summary>
    internal static ProcessStartInfo ChildStartInfo(string specPath)
    {
        var exe = Environment.ProcessPath ?? throw new InvalidOperationException("Kernel self-check: the path of this executable is unknown, so no probe child can be started.");
        var entry = Assembly.GetEntryAssembly()?.Location;
        bool underDotnet = Path.GetFileNameWithoutExtension(exe).Equals("dotnet", StringComparison.OrdinalIgnoreCase);
        ProcessStartInfo psi;
        if (EntryPointHandlesProbes)
        {
            psi = new ProcessStartInfo(exe);
            if (underDotnet && !string.IsNullOrEmpty(entry)) psi.ArgumentList.Add(entry);
            psi.ArgumentList.Add(ChildArgument);
            psi.ArgumentList.Add(specPath);
        }
        else
        {
            var argv = OwnCommandLine();
            if (argv is null || argv.Count == 0)
            {
                argv = [exe];
                if (underDotnet && !string.IsNullOrEmpty(entry)) argv.Add(entry);
            }
            psi = new ProcessStartInfo(argv[0]);
            foreach (var a in argv.Skip(1)) psi.ArgumentList.Add(a);
            psi.Environment["DOTNET_STARTUP_HOOKS"] = typeof(KernelProbe).Assembly.Location;
            psi.Environment[SpecVariable] = specPath;
        }
        psi.UseShellExecute = false;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.RedirectStandardInput = true; // a host that reads stdin (a test host) must not hang on ours
        return psi;
    }

    static List<string>? OwnCommandLine()
    {
        try
        {
            if (!File.Exists("/proc/self/cmdline")) return null;
            var raw = File.ReadAllText("/proc/self/cmdline");
            return raw.Split('\0', StringSplitOptions.RemoveEmptyEntries).ToList();
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    [DllImport("libc", EntryPoint = "raise")]
    static extern int Raise(int signal);

    [DllImport("libc", EntryPoint = "signal")]
    static extern IntPtr Signal(int signal, IntPtr handler);

    /// <summary>Dies from SIGFPE as a faulting kernel does. The runtime's own SIGFPE handler would swallow a raised (not hardware) signal, so the default action is restored first.</summary>
    static void RaiseSigfpe()
    {
        Signal(8, IntPtr.Zero); // SIG_DFL
        Raise(8);
    }

    static void Emit(ProbeEvent e) => Console.Out.WriteLine(LinePrefix + JsonSerializer.Serialize(e, Json));

    /// <summary>Runs the probe of <paramref name="specPath"/>; every result line is flushed before the next kernel runs, so a crash names its shape.</summary>
    internal static int RunChild(string specPath)
    {
        ProbeSpec spec;
        try
        {
            spec = JsonSerializer.Deserialize<ProbeSpec>(File.ReadAllText(specPath), Json) ?? throw new InvalidDataException("empty spec");
        }
        catch (Exception e) when (e is IOException or JsonException or InvalidDataException or UnauthorizedAccessException)
        {
            Emit(new ProbeEvent("error", Message: $"cannot read probe spec {specPath}: {e.Message}"));
            return 2;
        }
        Console.Out.Flush();
        TorchRuntime.SetThreads(spec.Threads);
        var setting = KernelSetting.Parse(spec.Setting);
        bool allOk = true;
        for (int i = 0; i < spec.Shapes.Count; i++)
        {
            Emit(new ProbeEvent("start", i));
            if (spec.InjectCrash && OperatingSystem.IsLinux()) RaiseSigfpe(); // fault injection
            var (y, dx, dw) = CheckShape(spec.Shapes[i], setting, spec.Batch, seed: 1000 + i);
            Emit(new ProbeEvent("shape", i, y, dx, dw));
            allOk &= Math.Max(y, Math.Max(dx, dw)) <= spec.Tolerance;
        }
        if (spec.TimingPasses > 0 && allOk) // only correct candidates are timed
        {
            Emit(new ProbeEvent("timing-start"));
            Emit(new ProbeEvent("timing", Seconds: TimePasses(spec, setting)));
        }
        Emit(new ProbeEvent("done"));
        return 0;
    }

    /// <summary>
    /// Forward, grad-input and grad-weight of one float32 convolution under <paramref name="setting"/>,
    /// each as max|float32 − float64| / max|float64| against a float64 NCHW computation (libtorch
    /// runs double convolutions on its own non-oneDNN kernels: the trusted reference). Weights
    /// kaiming-normal (fan-out), inputs and output gradients standard normal, seeded.
    /// </summary>
    internal static (double Output, double InputGrad, double WeightGrad) CheckShape(ConvShape s, KernelSetting setting, int batch, int seed)
    {
        using var sc = new ScalarScope();
        using var scope = NewDisposeScope();
        using var g = new Generator((ulong)seed);
        var x = randn([batch, s.InChannels, s.Height, s.Width], generator: g);
        var w = randn([s.OutChannels, s.InChannels, s.Kernel, s.Kernel], generator: g) * sc[Math.Sqrt(2.0 / (s.OutChannels * s.Kernel * s.Kernel))];
        var gy = randn([batch, s.OutChannels, s.OutHeight, s.OutWidth], generator: g);
        long[] stride = [s.Stride, s.Stride], padding = [s.Padding, s.Padding];

        var x64 = x.to(float64).requires_grad_();
        var w64 = w.to(float64).requires_grad_();
        var y64 = nn.functional.conv2d(x64, w64, strides: stride, padding: padding);
        y64.backward([gy.to(float64)]);

        bool cl = setting.Layout == ConvLayout.ChannelsLast;
        // As in the model: activations (and so the gradients reaching the conv) in the layout, weight plain NCHW.
        var xf = (cl ? ChannelsLast.Convert(x) : x.clone()).requires_grad_();
        var wf = w.clone().requires_grad_();
        var yf = setting.Strided1x1Workaround && s.IsStrided1x1
            ? Strided1x1.Forward(xf, wf, s.Stride, s.Stride)
            : nn.functional.conv2d(xf, wf, strides: stride, padding: padding);
        yf.backward([cl ? ChannelsLast.Convert(gy) : gy]);
        return (RelativeError(yf, y64), RelativeError(xf.grad!, x64.grad!), RelativeError(wf.grad!, w64.grad!));
    }

    /// <summary>max|a − b| / max|b| in float64 (NaN or ∞ anywhere gives +∞).</summary>
    internal static double RelativeError(Tensor a, Tensor reference)
    {
        using var scope = NewDisposeScope();
        var diff = (a.to(float64) - reference).abs().max().ItemDouble();
        var scale = reference.abs().max().ItemDouble();
        if (!double.IsFinite(diff)) return double.PositiveInfinity;
        return diff / Math.Max(scale, 1e-30);
    }

    /// <summary>Median seconds of one training-mode forward + backward of the whole trunk (after one warm-up pass).</summary>
    static double TimePasses(ProbeSpec spec, KernelSetting setting)
    {
        manual_seed(0);
        using var trunk = BackboneFactory.Create(spec.Backbone, spec.CifarStem);
        setting.ApplyTo(trunk);
        trunk.train();
        using var x = randn(spec.TimingBatch, 3, spec.TimingInputSize, spec.TimingInputSize);
        var times = new List<double>();
        for (int p = 0; p <= spec.TimingPasses; p++)
        {
            using var scope = NewDisposeScope();
            trunk.zero_grad();
            var clock = Stopwatch.StartNew();
            var y = trunk.call(x);
            y.mul(y).mean().backward(); // y², without square()'s hidden Scalar
            if (p > 0) times.Add(clock.Elapsed.TotalSeconds);
        }
        times.Sort();
        return times.Count % 2 == 1 ? times[times.Count / 2] : (times[times.Count / 2 - 1] + times[times.Count / 2]) / 2;
    }
}

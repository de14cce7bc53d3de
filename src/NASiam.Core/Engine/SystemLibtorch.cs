using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;

namespace NASiam.Core.Engine;

/// <summary>
/// The "system libtorch" backend (build with <c>-p:TorchBackend=system</c>; docs/gpu.md): the app
/// ships TorchSharp's native wrapper <c>libLibTorchSharp.so</c> but no libtorch, and links the
/// wrapper against the libtorch libraries of an installed PyTorch. The wrapper's NEEDED entries
/// are the bare names <c>libc10.so</c>, <c>libtorch_cpu.so</c>, <c>libtorch.so</c>; the dynamic
/// loader satisfies a NEEDED name from an already-loaded library whose SONAME matches, so loading
/// those libraries by full path first (and then the wrapper, by full path) makes TorchSharp's own
/// loader (torch.cs LoadNativeBackend: <c>NativeLibrary.TryLoad("torch_cpu"/"torch_cuda"/"LibTorchSharp")</c>)
/// find everything already in the process. Where the libraries come from:
/// <list type="number">
/// <item><c>NASIAM_LIBTORCH_DIR</c>: a directory holding libc10.so, libtorch_cpu.so, libtorch.so (a wheel's torch/lib);</item>
/// <item>else the torch of <c>NASIAM_PYTHON</c> (default <c>python3</c>): <c>torch.__path__[0]/lib</c>.</item>
/// </list>
/// The wrapper must match the libtorch's C++ ABI (tools/libtorch-abi-check.py says so before a run;
/// TorchSharp 0.107's wrapper is built for libtorch 2.10). A mismatch is an error naming the
/// first undefined symbol, never a silent fallback.
/// </summary>
public static class SystemLibtorch
{
    /// <summary>Environment variable: directory of the libtorch libraries to load.</summary>
    public const string DirVariable = "NASIAM_LIBTORCH_DIR";
    /// <summary>Environment variable: the python whose torch is used when <see cref="DirVariable"/> is unset (default python3).</summary>
    public const string PythonVariable = "NASIAM_PYTHON";

    /// <summary>The libraries the wrapper links against, in load order (dependencies first).</summary>
    public static readonly IReadOnlyList<string> Required = ["libc10.so", "libtorch_cpu.so", "libtorch.so"];
    /// <summary>CUDA libraries loaded after libtorch_cpu.so when the directory has them (a CUDA wheel).</summary>
    public static readonly IReadOnlyList<string> Cuda = ["libc10_cuda.so", "libtorch_cuda.so"];

    /// <summary>The backend this NASiam.Core was built with: cpu, cuda or system (MSBuild property TorchBackend).</summary>
    public static string BuildBackend { get; } =
        typeof(SystemLibtorch).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "NASiam.TorchBackend")?.Value ?? "cpu";

    /// <summary>True when libtorch_cpu.so sits next to the app's wrapper (the cpu and cuda builds bundle it).</summary>
    public static bool BundledLibtorch =>
        FindWrapper() is { } w && File.Exists(Path.Combine(Path.GetDirectoryName(w)!, "libtorch_cpu.so"));

    /// <summary>
    /// Whether <see cref="TorchRuntime.Initialise"/> loads a system libtorch: always in a TorchBackend=system
    /// build; in another build only when the app carries no libtorch of its own (a deployment that dropped
    /// the libtorch package's files) and <see cref="DirVariable"/> is set.
    /// </summary>
    public static bool Active => BuildBackend == "system" || (!BundledLibtorch && Environment.GetEnvironmentVariable(DirVariable) is { Length: > 0 });

    /// <summary>What was loaded, after <see cref="TorchRuntime.Initialise"/> in a system build; null otherwise.</summary>
    public static SystemLibtorchLoad? Loaded { get; private set; }

    /// <summary>
    /// The ordered list of files to load from <paramref name="directory"/>: <see cref="Required"/>,
    /// with the <see cref="Cuda"/> ones after libtorch_cpu.so when present, and libtorch_global_deps.so
    /// first when present (PyTorch loads it first, RTLD_GLOBAL, to pull in the CUDA runtime libraries).
    /// </summary>
    /// <exception cref="ArgumentException">The directory is missing or lacks a required library (named).</exception>
    public static IReadOnlyList<string> Plan(string directory)
    {
        if (string.IsNullOrWhiteSpace(directory) || !Directory.Exists(directory))
            throw new ArgumentException($"{DirVariable}: '{directory}' is not a directory.");
        var missing = Required.Where(n => !File.Exists(Path.Combine(directory, n))).ToList();
        if (missing.Count > 0)
        {
            var versioned = missing.Where(n => Directory.EnumerateFiles(directory, n + ".*").Any()).ToList();
            var hint = versioned.Count > 0
                ? $" Only versioned files exist for {string.Join(", ", versioned)} (a distribution's libtorch, e.g. Debian's libtorch.so.1.13): their SONAME does not match the wrapper's NEEDED names, and such builds are not ABI-compatible with TorchSharp 0.107 anyway (docs/gpu.md)."
                : "";
            throw new ArgumentException($"{DirVariable}: '{directory}' lacks {string.Join(", ", missing)}.{hint}");
        }
        var plan = new List<string>();
        if (File.Exists(Path.Combine(directory, "libtorch_global_deps.so"))) plan.Add("libtorch_global_deps.so");
        plan.Add("libc10.so");
        if (File.Exists(Path.Combine(directory, "libc10_cuda.so"))) plan.Add("libc10_cuda.so");
        plan.Add("libtorch_cpu.so");
        if (File.Exists(Path.Combine(directory, "libtorch_cuda.so"))) plan.Add("libtorch_cuda.so");
        plan.Add("libtorch.so");
        return plan.Select(n => Path.Combine(directory, n)).ToList();
    }

    /// <summary>
    /// Where the libraries are: <see cref="DirVariable"/> when set, else <c>torch.__path__[0]/lib</c>
    /// of <see cref="PythonVariable"/> (python3). Returns the directory and torch's version
    /// (torch/version.py next to the directory, or the python's answer; "unknown" otherwise).
    /// </summary>
    /// <exception cref="ArgumentException">Neither a directory nor a python with torch (an environment setting is wrong, so the CLI reports it as bad input).</exception>
    public static (string Directory, string Version) Locate()
    {
        if (Environment.GetEnvironmentVariable(DirVariable) is { Length: > 0 } dir)
            return (Path.GetFullPath(dir), VersionNextTo(dir) ?? VersionFromPath(dir) ?? "unknown");
        var python = Environment.GetEnvironmentVariable(PythonVariable) is { Length: > 0 } p ? p : "python3";
        try
        {
            var psi = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add("import os, torch; print(torch.__version__); print(os.path.join(torch.__path__[0], 'lib'))");
            using var proc = Process.Start(psi) ?? throw new ArgumentException($"could not start {python}");
            var stdout = proc.StandardOutput.ReadToEnd();
            var stderr = proc.StandardError.ReadToEnd();
            if (!proc.WaitForExit(120_000)) { proc.Kill(); throw new ArgumentException($"{python} did not answer within 120 s"); }
            var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (proc.ExitCode != 0 || lines.Length < 2)
                throw new ArgumentException($"{python} could not import torch: {stderr.Trim().Split('\n').LastOrDefault()}");
            return (lines[^1], lines[^2]);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new ArgumentException($"This build uses the system libtorch (TorchBackend=system) but {DirVariable} is unset and '{python}' could not be run ({e.Message}). Set {DirVariable} to a PyTorch's torch/lib or {PythonVariable} to a python with torch.", e);
        }
    }

    /// <summary>torch/version.py's __version__ for a torch/lib directory, or null.</summary>
    public static string? VersionNextTo(string libDirectory)
    {
        var file = Path.Combine(libDirectory, "..", "version.py");
        if (!File.Exists(file)) return null;
        foreach (var line in File.ReadLines(file))
        {
            var t = line.Trim();
            if (!t.StartsWith("__version__", StringComparison.Ordinal)) continue;
            var q = t.IndexOfAny(['\'', '"']);
            var e = q < 0 ? -1 : t.IndexOf(t[q], q + 1);
            if (e > q) return t[(q + 1)..e];
        }
        return null;
    }

    /// <summary>A version in the directory's path (the NuGet cache's .../libtorch-cpu-linux-x64/2.10.0/...), or null.</summary>
    public static string? VersionFromPath(string libDirectory)
    {
        var m = System.Text.RegularExpressions.Regex.Match(libDirectory.Replace('\\', '/') + "/", @"/(\d+\.\d+\.\d+)/");
        return m.Success ? m.Groups[1].Value + " (from the path)" : null;
    }

    /// <summary>The wrapper the app ships (next to TorchSharp.dll, or under runtimes/linux-x64/native for a RID-less build).</summary>
    public static string? FindWrapper()
    {
        var roots = new[] { AppContext.BaseDirectory, Path.GetDirectoryName(typeof(TorchSharp.torch).Assembly.Location) ?? "" }.Distinct();
        foreach (var root in roots.Where(r => r.Length > 0))
            foreach (var candidate in new[] { Path.Combine(root, "libLibTorchSharp.so"), Path.Combine(root, "runtimes", "linux-x64", "native", "libLibTorchSharp.so") })
                if (File.Exists(candidate)) return candidate;
        return null;
    }

    const int RtldLazy = 0x1, RtldGlobal = 0x100;

    [DllImport("libc", EntryPoint = "dlopen")]
    static extern IntPtr DlOpen(string file, int mode);

    /// <summary>
    /// Why <paramref name="file"/> does not load. dlerror() read through a P/Invoke comes back empty (the
    /// runtime's own loader calls in between reset it), so the load is repeated with NativeLibrary, whose
    /// exception carries the loader's message (e.g. "libtorch.so: cannot open shared object file",
    /// "undefined symbol: _ZN...").
    /// </summary>
    static string LoadError(string file)
    {
        try
        {
            NativeLibrary.Free(NativeLibrary.Load(file));
            return "dlopen failed, but a second load succeeded";
        }
        catch (DllNotFoundException e)
        {
            // Keep the loader's own sentence, after .NET's generic advice.
            const string marker = "LD_DEBUG environment variable:";
            var m = e.Message;
            var at = m.LastIndexOf(marker, StringComparison.Ordinal);
            var reason = (at >= 0 ? m[(at + marker.Length)..] : m).Trim();
            if (Required.Any(n => reason.StartsWith(n + ": cannot open shared object file", StringComparison.Ordinal)))
                reason += " (the libraries were loaded by path, but their SONAME differs from the name the wrapper asks for, " +
                    "e.g. Debian's libtorch.so.1.13: a distribution build, not the PyTorch wheel layout)";
            return reason;
        }
    }

    /// <summary>
    /// Loads the libraries (once per process). Called by <see cref="TorchRuntime.Initialise"/> in a
    /// system build, before the first TorchSharp call. CUDA libraries that fail to load leave the
    /// CPU usable and are reported in <see cref="SystemLibtorchLoad.CudaError"/>.
    /// </summary>
    /// <exception cref="ArgumentException">A required library or the wrapper did not load (the loader's message, e.g. the undefined symbol).</exception>
    internal static SystemLibtorchLoad Load()
    {
        if (Loaded is { } done) return done;
        if (!OperatingSystem.IsLinux())
            throw new PlatformNotSupportedException("TorchBackend=system is implemented for Linux only.");
        if (BundledLibtorch)
            // TorchSharp would load the bundled copy by path as well: two libtorch in one process.
            throw new ArgumentException($"A system libtorch was asked for, but this application bundles libtorch next to {FindWrapper()}; publish with -p:TorchBackend=system (docs/gpu.md).");
        var (dir, version) = Locate();
        var plan = Plan(dir);
        var loaded = new List<string>();
        string? cudaError = null;
        bool nvidiaPreloaded = false;
        foreach (var file in plan)
        {
            var name = Path.GetFileName(file);
            // RTLD_GLOBAL as PyTorch does for libtorch_global_deps.so (the CUDA libraries' symbols for later dlopens).
            if (DlOpen(file, RtldLazy | RtldGlobal) != IntPtr.Zero) { loaded.Add(file); continue; }
            bool cuda = name is "libtorch_global_deps.so" or "libc10_cuda.so" or "libtorch_cuda.so";
            if (cuda && !nvidiaPreloaded)
            {
                // As torch/__init__.py does when its first load fails: the CUDA runtime libraries of the
                // wheel's nvidia-* packages (site-packages/nvidia/*/lib), then the same file again.
                nvidiaPreloaded = true;
                if (PreloadNvidia(dir) > 0 && DlOpen(file, RtldLazy | RtldGlobal) != IntPtr.Zero) { loaded.Add(file); continue; }
            }
            var error = LoadError(file);
            if (cuda) { cudaError ??= $"{name}: {error}"; continue; }
            throw new ArgumentException($"System libtorch {version} in {dir}: {name} did not load: {error}");
        }
        var wrapper = FindWrapper() ?? throw new ArgumentException(
            $"System libtorch: libLibTorchSharp.so is not next to the application ({AppContext.BaseDirectory}); the TorchSharp package provides it.");
        if (DlOpen(wrapper, RtldLazy) == IntPtr.Zero)
        {
            var error = LoadError(wrapper);
            throw new ArgumentException(
                $"System libtorch {version} in {dir}: TorchSharp's wrapper {wrapper} does not link against it: {error}. " +
                "TorchSharp 0.107's wrapper needs libtorch 2.10's C++ ABI; check with tools/libtorch-abi-check.py, or build the wrapper for this libtorch with tools/build-libtorchsharp.sh (docs/gpu.md).");
        }
        Loaded = new SystemLibtorchLoad(dir, version, loaded, wrapper, MappedFrom("libtorch_cpu.so"), cudaError);
        return Loaded;
    }

    /// <summary>
    /// Loads (RTLD_GLOBAL) every library of a pip wheel's nvidia-* packages next to torch
    /// (site-packages/nvidia/*/lib and nvidia/cu*/lib), in passes until a pass loads nothing more,
    /// since their order is not known here. Returns how many loaded; 0 when there are none.
    /// </summary>
    internal static int PreloadNvidia(string torchLib)
    {
        var root = Path.GetFullPath(Path.Combine(torchLib, "..", "..", "nvidia"));
        if (!Directory.Exists(root)) return 0;
        var pending = Directory.EnumerateDirectories(root, "lib", SearchOption.AllDirectories)
            .Where(d => Path.GetRelativePath(root, d).Count(c => c == Path.DirectorySeparatorChar) <= 2)
            .SelectMany(d => Directory.EnumerateFiles(d, "*.so*")).Order(StringComparer.Ordinal).ToList();
        int count = 0;
        for (bool progress = true; progress && pending.Count > 0;)
        {
            progress = false;
            foreach (var f in pending.ToList())
                if (DlOpen(f, RtldLazy | RtldGlobal) != IntPtr.Zero) { pending.Remove(f); count++; progress = true; }
        }
        return count;
    }

    /// <summary>The file a library is actually mapped from in this process (/proc/self/maps), or null.</summary>
    public static string? MappedFrom(string library)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/maps"))
            {
                var at = line.IndexOf('/');
                if (at >= 0 && Path.GetFileName(line[at..]).StartsWith(library, StringComparison.Ordinal)) return line[at..];
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }
}

/// <summary>What <see cref="SystemLibtorch"/> loaded: the directory, torch's version, the files in load order,
/// the wrapper, where libtorch_cpu.so is mapped from (proof), and why CUDA did not load (null = loaded or absent).</summary>
public sealed record SystemLibtorchLoad(string Directory, string Version, IReadOnlyList<string> Files, string Wrapper, string? LibtorchCpuMappedFrom, string? CudaError)
{
    /// <summary>One line for logs and the CLI's stderr.</summary>
    public override string ToString() =>
        $"system libtorch {Version} from {Directory} ({string.Join(", ", Files.Select(Path.GetFileName))}); wrapper {Wrapper}; libtorch_cpu mapped from {LibtorchCpuMappedFrom ?? "?"}" +
        (CudaError is null ? "" : $"; CUDA libraries did not load: {CudaError}");
}

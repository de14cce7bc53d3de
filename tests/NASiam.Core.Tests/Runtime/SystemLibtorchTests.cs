using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using NASiam.Core.Engine;
using NASiam.Core.Tests.Parity;
using TorchSharp;
using Xunit.Abstractions;

namespace NASiam.Core.Tests.Runtime;

/// <summary>
/// The system-libtorch backend (issue 15, docs/gpu.md). The loader is proven in a child process
/// (this test assembly, <c>dotnet exec</c> + startup hook, as the parity tests do) whose app folder
/// is a copy of this test output without libtorch: it is pointed with NASIAM_LIBTORCH_DIR at a
/// libtorch outside that folder and must map libtorch_cpu.so from there and compute with it.
/// </summary>
public class SystemLibtorchTests(ITestOutputHelper output)
{
    static readonly string Repo = ParityProcess.RepositoryRoot();
    static string AbiScript => Path.Combine(Repo, "tools", "libtorch-abi-check.py");

    /// <summary>The libtorch 2.10 this (cpu) test build bundles, and TorchSharp's wrapper next to it.</summary>
    static string BundledNatives()
    {
        var wrapper = SystemLibtorch.FindWrapper() ?? throw new InvalidOperationException("libLibTorchSharp.so not in the test output");
        return Path.GetDirectoryName(wrapper)!;
    }

    static string TempDir(string name)
    {
        var d = Path.Combine(Path.GetTempPath(), $"nasiam-{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(d);
        return d;
    }

    [Fact]
    public void Plan_LoadsDependenciesFirst_AndCudaLibrariesWhenPresent()
    {
        var dir = TempDir("plan");
        try
        {
            foreach (var f in new[] { "libc10.so", "libtorch_cpu.so", "libtorch.so" }) File.WriteAllText(Path.Combine(dir, f), "");
            Assert.Equal(["libc10.so", "libtorch_cpu.so", "libtorch.so"], SystemLibtorch.Plan(dir).Select(Path.GetFileName));
            foreach (var f in new[] { "libc10_cuda.so", "libtorch_cuda.so", "libtorch_global_deps.so" }) File.WriteAllText(Path.Combine(dir, f), "");
            Assert.Equal(["libtorch_global_deps.so", "libc10.so", "libc10_cuda.so", "libtorch_cpu.so", "libtorch_cuda.so", "libtorch.so"],
                SystemLibtorch.Plan(dir).Select(Path.GetFileName));
            Assert.All(SystemLibtorch.Plan(dir), p => Assert.Equal(dir, Path.GetDirectoryName(p)));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Plan_NamesWhatIsMissing_AndExplainsVersionedDistributionLibraries()
    {
        var dir = TempDir("plan-missing");
        try
        {
            File.WriteAllText(Path.Combine(dir, "libc10.so"), "");
            File.WriteAllText(Path.Combine(dir, "libtorch_cpu.so.1.13"), "");
            var e = Assert.Throws<ArgumentException>(() => SystemLibtorch.Plan(dir));
            Assert.Contains("lacks libtorch_cpu.so, libtorch.so", e.Message);
            Assert.Contains("Only versioned files exist for libtorch_cpu.so", e.Message);
            Assert.Contains("is not a directory", Assert.Throws<ArgumentException>(() => SystemLibtorch.Plan(Path.Combine(dir, "nope"))).Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void PreloadNvidia_LoadsTheWheelsNvidiaLibraries_AndStopsWhenNothingMoreLoads()
    {
        var dir = TempDir("nvidia");
        try
        {
            var lib = Directory.CreateDirectory(Path.Combine(dir, "site-packages", "torch", "lib")).FullName;
            Assert.Equal(0, SystemLibtorch.PreloadNvidia(lib)); // no nvidia folder: nothing to do
            var cu = Directory.CreateDirectory(Path.Combine(dir, "site-packages", "nvidia", "cu13", "lib")).FullName;
            File.Copy("/lib/x86_64-linux-gnu/libz.so.1", Path.Combine(cu, "libnasiamtestz.so.1")); // a real library
            File.WriteAllText(Path.Combine(cu, "libbroken.so"), "not an ELF file");            // never loads
            Assert.Equal(1, SystemLibtorch.PreloadNvidia(lib));
            Assert.NotNull(SystemLibtorch.MappedFrom("libnasiamtestz.so.1"));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Version_IsReadFromTorchVersionPy_OrThePath()
    {
        var dir = TempDir("ver");
        try
        {
            var lib = Directory.CreateDirectory(Path.Combine(dir, "torch", "lib")).FullName;
            File.WriteAllText(Path.Combine(dir, "torch", "version.py"), "from typing import Optional\n__version__ = '2.11.0+cu128'\ngit_version = 'abc'\n");
            Assert.Equal("2.11.0+cu128", SystemLibtorch.VersionNextTo(lib));
            Assert.Null(SystemLibtorch.VersionNextTo(dir));
            Assert.Equal("2.10.0 (from the path)", SystemLibtorch.VersionFromPath("/root/.nuget/packages/libtorch-cpu-linux-x64/2.10.0/runtimes/linux-x64/native"));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void TestBuild_IsTheBundledCpuBackend_SoTheSystemLoaderStaysOff()
    {
        Assert.Equal("cpu", SystemLibtorch.BuildBackend);
        Assert.True(SystemLibtorch.BundledLibtorch, $"libtorch_cpu.so should sit next to {SystemLibtorch.FindWrapper()}");
        Assert.False(SystemLibtorch.Active);
    }

    // ---- the ABI check script ---------------------------------------------------------------

    [Fact]
    public void AbiSummary_Parses_TheScriptsSummaryLine()
    {
        var s = AbiSummary.Parse("noise\nABI-CHECK required=1314 missing=304 weak_missing=5 system_missing=1 load_time_missing=3 torch=1.13.0a0 libtorch=/usr/lib/x lib wrapper=/a/libLibTorchSharp.so\n  torch libraries: ...");
        Assert.Equal(1314, s.Required);
        Assert.Equal(304, s.Missing);
        Assert.Equal(5, s.WeakMissing);
        Assert.Equal(1, s.SystemMissing);
        Assert.Equal(3, s.LoadTimeMissing);
        Assert.Equal("/a/libLibTorchSharp.so", s.Wrapper);
        Assert.Throws<FormatException>(() => AbiSummary.Parse("ABI-CHECK required=1 libtorch=/x wrapper=/y"));
        Assert.Equal("1.13.0a0", s.Torch);
        Assert.Equal("/usr/lib/x lib", s.Libtorch);
        Assert.Throws<FormatException>(() => AbiSummary.Parse("abi-check: no libtorch_cpu.so in /tmp"));
    }

    [Fact]
    public void AbiCheck_AgainstTheBundledLibtorch210_FindsEverySymbol()
    {
        var natives = BundledNatives();
        var r = Run(ParityProcess.Python(), [AbiScript, "--libtorch", natives, "--wrapper", Path.Combine(natives, "libLibTorchSharp.so")], null, TimeSpan.FromMinutes(2));
        output.WriteLine(r.Output);
        var s = AbiSummary.Parse(r.Output);
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(0, s.Missing);
        Assert.Equal(0, s.LoadTimeMissing);
        Assert.True(s.Required > 1000, $"the wrapper imports {s.Required} symbols; expected > 1000 (the parse or the ELF reader is wrong)");
    }

    [Fact]
    public void AbiCheck_UnknownDirectory_IsAUsageError()
    {
        var r = Run(ParityProcess.Python(), [AbiScript, "--libtorch", "/nonexistent-libtorch"], null, TimeSpan.FromMinutes(1));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("no libtorch_cpu.so in /nonexistent-libtorch", r.Output);
    }

    // ---- the device scripts -------------------------------------------------------------------

    [Theory]
    [InlineData("tools/gpu-check.sh")]
    [InlineData("tools/build-libtorchsharp.sh")]
    public void DeviceScripts_AreValidBash(string script)
    {
        var r = Run("bash", ["-n", Path.Combine(Repo, script)], null, TimeSpan.FromMinutes(1));
        Assert.True(r.ExitCode == 0, $"bash -n {script}: {r.Output}");
    }

    [Fact]
    public void DeviceScripts_PythonHelpersCompile_AndGpuCheckRejectsUnknownModes()
    {
        foreach (var py in new[] { "tools/gpu-ref-bench.py", "tools/libtorch-abi-check.py" })
        {
            var r = Run(ParityProcess.Python(), ["-c", "import ast, sys; ast.parse(open(sys.argv[1]).read())", Path.Combine(Repo, py)], null, TimeSpan.FromMinutes(1));
            Assert.True(r.ExitCode == 0, $"{py}: {r.Output}");
        }
        var u = Run("bash", [Path.Combine(Repo, "tools/gpu-check.sh"), "bogus"], null, TimeSpan.FromMinutes(1));
        Assert.Equal(2, u.ExitCode);
        Assert.Contains("usage: tools/gpu-check.sh prepare | run", u.Output);
    }

    // ---- the loader, in a child process -------------------------------------------------------

    [Fact]
    public void Loader_PointedAtALibtorchOutsideTheApp_MapsItAndComputes()
    {
        var natives = BundledNatives();
        var r = RunChild(natives, out var app);
        try
        {
            output.WriteLine(r.Output);
            Assert.True(r.ExitCode == 0, $"child exit {r.ExitCode}: {r.Output}");
            Assert.Contains($"libtorch_cpu mapped from {Path.Combine(natives, "libtorch_cpu.so")}", r.Output);
            Assert.Contains("SUM 45", r.Output);
            Assert.DoesNotContain(app, r.Output.Split('\n').Single(l => l.StartsWith("LOADED", StringComparison.Ordinal)).Split("mapped from")[1]);
        }
        finally { Directory.Delete(app, true); }
    }

    /// <summary>
    /// The installed PyTorch (Debian's python3-torch 1.13 here, which CI installs): when the ABI check
    /// finds every symbol, the loader must load it and compute; when it does not, loading must fail
    /// with the loader's message (undefined symbol, or for Debian's versioned SONAMEs "libtorch.so: cannot
    /// open shared object file") and the advice, never load silently or crash.
    /// </summary>
    [InstalledPyTorchFact]
    public void Loader_InstalledPyTorch_LoadsWhenTheAbiFits_ElseFailsWithTheLoadersReason()
    {
        var abi = Run(ParityProcess.Python(), [AbiScript, "--python", ParityProcess.Python(), "--wrapper", Path.Combine(BundledNatives(), "libLibTorchSharp.so"), "--top", "5"], null, TimeSpan.FromMinutes(2));
        output.WriteLine(abi.Output);
        var s = AbiSummary.Parse(abi.Output);
        Assert.Equal(s.Missing == 0 ? 0 : 1, abi.ExitCode);
        var r = RunChild(s.Libtorch, out var app);
        try
        {
            output.WriteLine(r.Output);
            if (s.Missing == 0)
            {
                Assert.True(r.ExitCode == 0, $"ABI check found every symbol of torch {s.Torch}, but the child failed: {r.Output}");
                Assert.Contains("SUM 45", r.Output);
            }
            else
            {
                // e.g. torch 1.13: 304 of 1314 libtorch symbols missing (c10::optional became std::optional in 2.x signatures)
                Assert.Equal(3, r.ExitCode);
                Assert.Contains($"System libtorch {s.Torch}", r.Output);
                // The loader's own reason: an undefined symbol, or (Debian) a NEEDED name no loaded SONAME matches.
                Assert.True(new[] { "undefined symbol", "cannot open shared object file", "lacks" }.Any(k => r.Output.Contains(k, StringComparison.Ordinal)),
                    $"the failure should carry the loader's reason: {r.Output}");
                Assert.DoesNotContain("Unable to load shared library", r.Output); // .NET's generic text is cut to the loader's sentence
                Assert.Contains("libtorch-abi-check.py", r.Output);
            }
        }
        finally { Directory.Delete(app, true); }
    }

    /// <summary>
    /// Copies this test output without any libtorch (the wrapper stays; deps.json loses the libtorch
    /// package's native entries) and runs <see cref="SystemLibtorchChild"/> in it with
    /// NASIAM_LIBTORCH_DIR = <paramref name="libtorchDir"/>.
    /// </summary>
    static ProcessResult RunChild(string libtorchDir, out string app)
    {
        var src = AppContext.BaseDirectory;
        app = TempDir("syslib-app");
        foreach (var file in Directory.EnumerateFiles(src, "*", SearchOption.AllDirectories))
        {
            var rel = Path.GetRelativePath(src, file);
            var name = Path.GetFileName(file);
            bool native = name.Contains(".so", StringComparison.Ordinal) || name.EndsWith(".dylib", StringComparison.Ordinal) || name.EndsWith(".dll", StringComparison.Ordinal) && rel.StartsWith("runtimes", StringComparison.Ordinal);
            if (native && name != "libLibTorchSharp.so") continue;
            if (rel.StartsWith("cpu" + Path.DirectorySeparatorChar, StringComparison.Ordinal)) continue; // TorchSharp's fallback copy, if any
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(app, rel))!);
            File.Copy(file, Path.Combine(app, rel));
        }
        var deps = Directory.GetFiles(app, "*.deps.json").Single();
        var json = JsonNode.Parse(File.ReadAllText(deps))!;
        foreach (var target in json["targets"]!.AsObject())
            foreach (var lib in target.Value!.AsObject().Where(l => l.Key.StartsWith("libtorch-cpu-linux-x64/", StringComparison.Ordinal)).ToList())
                target.Value!.AsObject()[lib.Key] = new JsonObject();
        File.WriteAllText(deps, json.ToJsonString());
        var assembly = Path.Combine(app, Path.GetFileName(typeof(SystemLibtorchTests).Assembly.Location));
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h && File.Exists(h) ? h : "dotnet";
        return Run(host, ["exec", assembly], new Dictionary<string, string>
        {
            ["DOTNET_STARTUP_HOOKS"] = assembly,
            [SystemLibtorchChild.Variable] = "1",
            [SystemLibtorch.DirVariable] = libtorchDir,
            ["NUGET_PACKAGES"] = Path.Combine(app, "no-nuget"), // never TorchSharp's 500 MB fallback copy
        }, TimeSpan.FromMinutes(3));
    }

    static ProcessResult Run(string file, IEnumerable<string> args, IDictionary<string, string>? env, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (env is not null) foreach (var kv in env) psi.Environment[kv.Key] = kv.Value;
        using var p = Process.Start(psi)!;
        var so = p.StandardOutput.ReadToEndAsync();
        var se = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout)) { p.Kill(true); return new ProcessResult(-1, true, so.Result + se.Result); }
        p.WaitForExit();
        return new ProcessResult(p.ExitCode, false, so.Result + se.Result);
    }

    sealed record ProcessResult(int ExitCode, bool TimedOut, string Output);
}

/// <summary>The summary line of tools/libtorch-abi-check.py: <c>ABI-CHECK required=N missing=N weak_missing=N system_missing=N load_time_missing=N torch=V libtorch=DIR wrapper=PATH</c>.</summary>
public sealed record AbiSummary(int Required, int Missing, int WeakMissing, int SystemMissing, int LoadTimeMissing, string Torch, string Libtorch, string Wrapper)
{
    /// <summary>Parses the first summary line in <paramref name="text"/>.</summary>
    /// <exception cref="FormatException">No summary line, or a count is missing.</exception>
    public static AbiSummary Parse(string text)
    {
        var line = text.Split('\n').FirstOrDefault(l => l.StartsWith("ABI-CHECK ", StringComparison.Ordinal))?.TrimEnd()
            ?? throw new FormatException($"no ABI-CHECK line in: {text.Trim()}");
        // libtorch= and wrapper= are paths (may hold spaces) and come last; the rest are key=value words.
        int lib = line.IndexOf(" libtorch=", StringComparison.Ordinal), wrap = line.IndexOf(" wrapper=", StringComparison.Ordinal);
        if (lib < 0 || wrap < lib) throw new FormatException($"ABI-CHECK line without libtorch=/wrapper=: {line}");
        var fields = line["ABI-CHECK ".Length..lib].Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(w => w.Split('=', 2)).Where(kv => kv.Length == 2).ToDictionary(kv => kv[0], kv => kv[1]);
        int Int(string key) => fields.TryGetValue(key, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : throw new FormatException($"ABI-CHECK line without {key}=: {line}");
        return new AbiSummary(Int("required"), Int("missing"), Int("weak_missing"), Int("system_missing"), Int("load_time_missing"),
            fields.GetValueOrDefault("torch", "unknown"), line[(lib + " libtorch=".Length)..wrap], line[(wrap + " wrapper=".Length)..]);
    }
}

/// <summary>Runs where a python with torch is installed (CI: always, so a missing torch fails); elsewhere skipped with the reason.</summary>
public sealed class InstalledPyTorchFactAttribute : FactAttribute
{
    public InstalledPyTorchFactAttribute()
    {
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase)) return;
        if (ParityProcess.TorchUnavailableReason is { } reason)
            Skip = $"needs a python with torch (NASIAM_PYTHON, /usr/bin/python3 or python3): {reason}";
    }
}

/// <summary>
/// The child of <see cref="SystemLibtorchTests"/>: started through <c>StartupHook</c> (ParityChild.cs)
/// when <see cref="Variable"/> is set; initialises torch (which loads the system libtorch), computes
/// sum(0..9) and prints <c>LOADED ...</c> and <c>SUM 45</c> (exit 0), or <c>ERROR ...</c> (exit 3).
/// </summary>
internal static class SystemLibtorchChild
{
    public const string Variable = "NASIAM_SYSLIB_CHILD";

    public static void RunIfAsked()
    {
        using var sc = new ScalarScope();
        if (Environment.GetEnvironmentVariable(Variable) != "1") return;
        int rc;
        try
        {
            TorchRuntime.Initialise();
            Console.WriteLine($"LOADED {SystemLibtorch.Loaded}");
            Console.WriteLine($"SUM {torch.arange(sc[10]).sum().item<long>()}");
            rc = 0;
        }
        catch (Exception e)
        {
            Console.WriteLine($"ERROR {e.GetType().Name}: {e.Message}");
            rc = 3;
        }
        Console.Out.Flush();
        Environment.Exit(rc);
    }
}

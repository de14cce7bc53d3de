using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using NASiam.Core.Backbones;

namespace NASiam.Core.Engine.Numerics;

/// <summary>What the kernel self-check checks and how (see <see cref="KernelSelfCheck"/>).</summary>
public sealed record KernelCheckOptions
{
    /// <summary>A <see cref="BackboneFactory"/> name: resnet-tiny, resnet18, resnet50.</summary>
    public string Backbone { get; init; } = "resnet18";
    /// <summary>CIFAR stem (3x3 stride 1, no max-pool) or ImageNet stem (7x7 stride 2 + max-pool).</summary>
    public bool CifarStem { get; init; } = true;
    /// <summary>Square input sizes in pixels whose shapes are checked; null = 32 for the CIFAR stem, 224 and 32 for the ImageNet stem (the product runs it on folder images of at most 224 px and, under compat D18, on 32-px CIFAR).</summary>
    public IReadOnlyList<int>? InputSizes { get; init; }
    /// <summary>Batch of each shape check (the faults of docs/kernel-faults.md show at batch 2 already).</summary>
    public int Batch { get; init; } = 2;
    /// <summary>Candidates to check; null = <see cref="KernelSetting.Automatic"/> (NCHW only; pass <see cref="KernelSetting.All"/> to see channels-last too).</summary>
    public IReadOnlyList<KernelSetting>? Candidates { get; init; }
    /// <summary>Largest accepted max|float32 − float64| / max|float64| per output, grad-input and grad-weight.</summary>
    public double Tolerance { get; init; } = 1e-4;
    /// <summary>Timed whole-trunk forward+backward passes per correct candidate (after one warm-up); the fastest median wins, timings within 5% of it tie and go to the earlier candidate. 0 = no timing: the cheap rule picks the first correct candidate in <see cref="Candidates"/> order (<see cref="KernelSetting.All"/>: NCHW before channels-last, without the workaround before with it; the default <see cref="KernelSetting.Automatic"/> holds the NCHW pair).</summary>
    public int TimingPasses { get; init; } = 2;
    /// <summary>Batch of the timed passes.</summary>
    public int TimingBatch { get; init; } = 8;
    /// <summary>Directory of the per-host result cache; null = $NASIAM_CACHE_DIR, else $XDG_CACHE_HOME/nasiam, else ~/.cache/nasiam.</summary>
    public string? CacheDirectory { get; init; }
    /// <summary>Read and write the cache (false = always probe, write nothing).</summary>
    public bool UseCache { get; init; } = true;
    /// <summary>Fault injection (tests): candidates to report wrong whatever they compute; "*" = all. Added to <see cref="KernelSelfCheck.FaultsVariable"/>.</summary>
    public IReadOnlyCollection<string> InjectWrong { get; init; } = [];
    /// <summary>Fault injection (tests): candidates whose child raises SIGFPE before its first kernel; "*" = all.</summary>
    public IReadOnlyCollection<string> InjectCrash { get; init; } = [];
    /// <summary>Longest a child may run before it is killed and its candidate marked failed.</summary>
    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromMinutes(10);
}

/// <summary>Outcome of one candidate.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<CandidateStatus>))]
public enum CandidateStatus
{
    /// <summary>Every shape within tolerance (and the timed passes, if any, ran).</summary>
    Correct,
    /// <summary>At least one shape outside tolerance (or the fault injection said so).</summary>
    Wrong,
    /// <summary>The child died from a signal (SIGFPE in the faults seen).</summary>
    Crashed,
    /// <summary>The child failed otherwise: timed out, non-zero exit, no answer.</summary>
    Failed,
}

/// <summary>Errors of one shape under one candidate, each max|float32 − float64| / max|float64|.</summary>
public sealed record ShapeCheck(ConvUse Use, double OutputError, double InputGradError, double WeightGradError)
{
    /// <summary>The largest of the three errors.</summary>
    [JsonIgnore] public double MaxError => Math.Max(OutputError, Math.Max(InputGradError, WeightGradError));
}

/// <summary>One candidate's result: status, worst error, per-shape errors, median pass time (s), and a one-line detail.</summary>
public sealed record CandidateResult(KernelSetting Setting, CandidateStatus Status, double MaxError, string Detail,
    double? PassSeconds, IReadOnlyList<ShapeCheck> Shapes, int? Signal = null);

/// <summary>
/// The self-check's report for one backbone on this host: every candidate and the choice (null when
/// none is correct). <see cref="Key"/> names everything the result depends on.
/// </summary>
public sealed record KernelCheckReport(HostInfo Host, string Backbone, bool CifarStem, IReadOnlyList<int> InputSizes, int Batch,
    double Tolerance, int TimingPasses, int TimingBatch, IReadOnlyList<CandidateResult> Candidates, KernelSetting? Choice, string ChoiceRule,
    string Key, DateTimeOffset CheckedAt)
{
    /// <summary>True when read from the cache file rather than probed now.</summary>
    [JsonIgnore] public bool FromCache { get; init; }
    /// <summary>The cache file (null when the cache was off).</summary>
    [JsonIgnore] public string? CachePath { get; init; }

    /// <summary>"resnet18 (CIFAR stem, checked at 32 px)": the sizes are the check's, not a run's input size (a run's log read "224/32 px" beside its 32-px images).</summary>
    [JsonIgnore] public string Subject => $"{Backbone} ({(CifarStem ? "CIFAR" : "ImageNet")} stem, checked at {string.Join("/", InputSizes)} px)";

    /// <summary>The choice, or <see cref="KernelCheckException"/> naming every candidate's fault.</summary>
    public KernelSetting RequireChoice() => Choice ?? throw new KernelCheckException(
        $"No convolution setting computes {Subject} correctly on this CPU ({Host.CpuModel}, libtorch {Host.LibTorchVersion}): " +
        string.Join("; ", Candidates.Select(c => $"{c.Setting.Name} {c.Status.ToString().ToLowerInvariant()}: {c.Detail}")) +
        ". Use a GPU, another backbone, or another libtorch build; docs/kernel-faults.md has the details." +
        (CachePath is null ? "" : $" (Delete {CachePath} to re-check.)"));

    /// <summary>Human-readable lines: one per candidate and the choice.</summary>
    public IEnumerable<string> Lines()
    {
        var c = CultureInfo.InvariantCulture;
        yield return $"{Subject}: {BackboneConvShapes.Distinct(Backbone, CifarStem, InputSizes.ToArray()).Count} distinct conv shapes, batch {Batch}, tolerance {Tolerance.ToString("0e0", c)}{(FromCache ? $", cached {CheckedAt.ToString("yyyy-MM-dd HH:mm", c)} ({CachePath})" : "")}";
        foreach (var r in Candidates)
        {
            var time = r.PassSeconds is { } s ? string.Format(c, "{0,7:0.000} s/pass", s) : "       -      ";
            var err = double.IsNaN(r.MaxError) ? "   -    " : r.MaxError.ToString("0.00e+0", c).PadLeft(8);
            yield return $"  {r.Setting.Name,-19} {r.Status.ToString().ToLowerInvariant(),-8} max err {err}  {time}  {r.Detail}";
        }
        yield return Choice is null ? "  choice: none (no candidate is correct)" : $"  choice: {Choice.Name} ({ChoiceRule})";
    }
}

/// <summary>Thrown when no candidate setting is correct (the run must not go ahead on wrong kernels).</summary>
public sealed class KernelCheckException(string message) : InvalidOperationException(message);

/// <summary>
/// The kernel self-check (issue 9, docs/kernel-faults.md). libtorch 2.10's oneDNN convolutions are
/// silently wrong (ResNet-18 layer4.0.downsample in channels-last) or kill the process with SIGFPE
/// (ResNet-50's stride-2 shortcuts) on some AVX-512 CPUs. Before a backbone runs on the CPU, every
/// distinct convolution shape it uses is run forward and backward (grad input, grad weight) in
/// float32 under each candidate <see cref="KernelSetting"/> and compared with float64 NCHW. Each
/// candidate runs in its own child process (<see cref="KernelProbe"/>), so a crash marks only that
/// candidate. The fastest correct candidate (median of timed whole-trunk passes) is chosen; the
/// result is cached per host (CPU model and flags, libtorch/TorchSharp versions, threads), backbone,
/// stem and sizes in a JSON file.
/// </summary>
public static class KernelSelfCheck
{
    /// <summary>Fault injection for tests and drills: comma-separated "NAME" or "wrong:NAME" (report wrong) and "crash:NAME" (child raises SIGFPE); NAME "*" = every candidate.</summary>
    public const string FaultsVariable = "NASIAM_KERNEL_FAULTS";
    /// <summary>Overrides the default cache directory.</summary>
    public const string CacheVariable = "NASIAM_CACHE_DIR";
    /// <summary>Bumped when what is checked changes, so older cache files are not reused.</summary>
    const int CheckVersion = 2;

    /// <summary>Relative margin within which timed candidates tie (won by the earlier, simpler setting): 5 %.</summary>
    const double TieTolerance = 0.05;

    static readonly object Gate = new();
    static readonly Dictionary<string, KernelCheckReport> Memo = new(StringComparer.Ordinal);

    /// <summary>Where notices go (the choice, when it is made or read; fault injection). Default: standard error.</summary>
    public static Action<string> Notice { get; set; } = line => Console.Error.WriteLine("nasiam: " + line);

    /// <summary>The default cache directory: $NASIAM_CACHE_DIR, else $XDG_CACHE_HOME/nasiam, else ~/.cache/nasiam.</summary>
    public static string DefaultCacheDirectory()
    {
        var own = Environment.GetEnvironmentVariable(CacheVariable);
        if (!string.IsNullOrWhiteSpace(own)) return own;
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (!string.IsNullOrWhiteSpace(xdg)) return Path.Combine(xdg, "nasiam");
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return Path.Combine(string.IsNullOrEmpty(home) ? Path.GetTempPath() : home, ".cache", "nasiam");
    }

    /// <summary>
    /// The CPU setting for a model's trunks: the cached or freshly probed choice for
    /// (<paramref name="backbone"/>, stem) with the default options, remembered for the process.
    /// Logs the choice through <see cref="Notice"/> once per process. <paramref name="log"/> (a run's
    /// log) gets, through <see cref="SetupLog.Waiting"/>, the notice that the check is about to probe
    /// (it takes seconds to a minute, once per host) and, through <see cref="SetupLog.Note"/> on every
    /// call, the choice, so every run records which kernels it ran. Throws
    /// <see cref="KernelCheckException"/> when no candidate is correct.
    /// </summary>
    public static KernelSetting ChooseForCpu(string backbone, bool cifarStem, SetupLog? log = null) =>
        Run(new KernelCheckOptions { Backbone = backbone, CifarStem = cifarStem }, notify: true, log: log).RequireChoice();

    /// <summary>Applies <see cref="ChooseForCpu"/>'s setting to every ResNet trunk in <paramref name="model"/>; <paramref name="log"/> as there.</summary>
    public static KernelSetting ApplyCpuChoice(TorchSharp.torch.nn.Module model, string backbone, bool cifarStem, SetupLog? log = null)
    {
        var setting = ChooseForCpu(backbone, cifarStem, log);
        foreach (var trunk in model.modules().OfType<ResNet>()) setting.ApplyTo(trunk);
        return setting;
    }

    /// <summary>
    /// Runs (or reads from cache) the check. Never throws for wrong or crashing candidates: they are
    /// in the report, whose <see cref="KernelCheckReport.Choice"/> is null when none is correct.
    /// Throws <see cref="ArgumentException"/> for bad options. <paramref name="progress"/> gets one
    /// line per candidate as it finishes.
    /// </summary>
    public static KernelCheckReport Run(KernelCheckOptions o, Action<string>? progress = null) => Run(o, notify: false, progress);

    static KernelCheckReport Run(KernelCheckOptions o, bool notify, Action<string>? progress = null, SetupLog? log = null)
    {
        if (o.Batch < 1 || o.TimingPasses < 0 || o.TimingBatch < 1 || !(o.Tolerance > 0))
            throw new ArgumentException("Kernel check needs batch >= 1, timing passes >= 0, timing batch >= 1 and tolerance > 0.");
        var config = BackboneFactory.Config(o.Backbone);
        var sizes = (o.InputSizes ?? (o.CifarStem ? [32] : [224, 32])).ToArray();
        var candidates = (o.Candidates ?? KernelSetting.Automatic).ToList();
        if (candidates.Count == 0) throw new ArgumentException("Kernel check needs at least one candidate.");
        var (wrong, crash) = Faults(o);
        var host = HostInfo.Current();
        var key = Key(host, config.Name, o, sizes, candidates, wrong, crash);
        var cacheDir = o.CacheDirectory ?? DefaultCacheDirectory();
        var cachePath = o.UseCache ? Path.Combine(cacheDir, $"kernel-check-{config.Name}-{(o.CifarStem ? "cifar" : "imagenet")}-{key[..16]}.json") : null;
        lock (Gate)
        {
            if (o.UseCache && Memo.TryGetValue(key + cachePath, out var known))
            {
                log?.Note(ChoiceLine(known));
                return known;
            }
            var report = cachePath is null ? null : ReadCache(cachePath, key);
            if (report is null)
            {
                if (wrong.Count + crash.Count > 0)
                    Notice($"kernel self-check fault injection active: wrong [{string.Join(", ", wrong)}], crash [{string.Join(", ", crash)}]");
                var checking = $"checking convolution kernels for {config.Name} on this CPU (once per host; cached in {cacheDir}) ...";
                // A run says it in its own log (the CLI prints that); standard error only where there is no log.
                if (notify && log is null) Notice(checking);
                log?.Waiting(checking);
                report = Probe(o, host, config.Name, sizes, candidates, wrong, crash, key, progress);
                if (cachePath is not null) { WriteCache(cachePath, report); report = report with { CachePath = cachePath }; }
            }
            var choice = ChoiceLine(report);
            if (notify && log is null) Notice(choice);
            log?.Note(choice);
            if (o.UseCache) Memo[key + cachePath] = report;
            return report;
        }
    }

    static string ChoiceLine(KernelCheckReport report) => report.Choice is null
        ? $"kernel self-check: no correct convolution setting for {report.Subject}"
        : $"convolution setting for {report.Subject} on the CPU: {report.Choice.Name} ({report.ChoiceRule}" +
          $"{(report.FromCache ? $"; cached in {report.CachePath}" : "")})";

    /// <summary>Forgets the per-process memo (tests; the cache files stay).</summary>
    public static void ClearMemo()
    {
        lock (Gate) Memo.Clear();
    }

    static (SortedSet<string> Wrong, SortedSet<string> Crash) Faults(KernelCheckOptions o)
    {
        var wrong = new SortedSet<string>(StringComparer.Ordinal);
        var crash = new SortedSet<string>(StringComparer.Ordinal);
        void Add(SortedSet<string> set, string name)
        {
            name = name.Trim();
            if (name.Length == 0) return;
            set.Add(name == "*" ? "*" : KernelSetting.Parse(name).Name);
        }
        foreach (var n in o.InjectWrong) Add(wrong, n);
        foreach (var n in o.InjectCrash) Add(crash, n);
        var env = Environment.GetEnvironmentVariable(FaultsVariable);
        if (!string.IsNullOrWhiteSpace(env))
            foreach (var item in env.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (item.StartsWith("crash:", StringComparison.OrdinalIgnoreCase)) Add(crash, item[6..]);
                else if (item.StartsWith("wrong:", StringComparison.OrdinalIgnoreCase)) Add(wrong, item[6..]);
                else Add(wrong, item);
            }
        return (wrong, crash);
    }

    static bool Matches(SortedSet<string> set, KernelSetting s) => set.Contains("*") || set.Contains(s.Name);

    static string Key(HostInfo host, string backbone, KernelCheckOptions o, int[] sizes, List<KernelSetting> candidates, SortedSet<string> wrong, SortedSet<string> crash)
    {
        var c = CultureInfo.InvariantCulture;
        var text = string.Join("\n",
            $"v{CheckVersion}", host.CpuModel, string.Join(' ', host.CpuFlags), host.Architecture, host.LibTorchVersion, host.TorchSharpVersion,
            host.Threads.ToString(c), backbone, o.CifarStem ? "cifar" : "imagenet", string.Join(',', sizes), o.Batch.ToString(c),
            o.Tolerance.ToString("R", c), o.TimingPasses.ToString(c), o.TimingBatch.ToString(c), string.Join(',', candidates.Select(x => x.Name)),
            "wrong=" + string.Join(',', wrong), "crash=" + string.Join(',', crash));
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }

    static KernelCheckReport? ReadCache(string path, string key)
    {
        try
        {
            if (!File.Exists(path)) return null;
            var report = JsonSerializer.Deserialize<KernelCheckReport>(File.ReadAllText(path), KernelProbe.Json);
            return report is not null && report.Key == key ? report with { FromCache = true, CachePath = path } : null;
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException or NotSupportedException)
        {
            Notice($"kernel self-check: ignoring unreadable cache file {path}: {e.Message}");
            return null;
        }
    }

    static void WriteCache(string path, KernelCheckReport report)
    {
        try
        {
            // Atomic: another process never reads half a file.
            IO.AtomicFile.WriteAllText(path, JsonSerializer.Serialize(report, new JsonSerializerOptions(KernelProbe.Json) { WriteIndented = true }));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Notice($"kernel self-check: could not write the cache {path} ({e.Message}); the check will run again next time.");
        }
    }

    static KernelCheckReport Probe(KernelCheckOptions o, HostInfo host, string backbone, int[] sizes, List<KernelSetting> candidates,
        SortedSet<string> wrong, SortedSet<string> crash, string key, Action<string>? progress)
    {
        var uses = BackboneConvShapes.Distinct(backbone, o.CifarStem, sizes);
        var results = new List<CandidateResult>();
        foreach (var setting in candidates)
        {
            var r = ProbeCandidate(o, host, backbone, sizes[0], uses, setting, Matches(crash, setting));
            if (r.Status == CandidateStatus.Correct && Matches(wrong, setting))
                r = r with { Status = CandidateStatus.Wrong, Detail = "treated as wrong by fault injection; " + r.Detail };
            results.Add(r);
            progress?.Invoke($"{backbone} {setting.Name}: {r.Status.ToString().ToLowerInvariant()} {r.Detail}");
        }
        var correct = results.Where(r => r.Status == CandidateStatus.Correct).ToList();
        KernelSetting? choice = null;
        string rule;
        if (correct.Count == 0) rule = "no candidate is correct";
        else if (o.TimingPasses > 0 && correct.All(r => r.PassSeconds is not null))
        {
            // Timings within TieTolerance of the fastest count as a tie, won by the earlier candidate (the
            // simpler setting): two timed passes cannot separate them, and the choice stays stable.
            double fastest = correct.Min(r => r.PassSeconds!.Value);
            var best = correct.First(r => r.PassSeconds!.Value <= fastest * (1 + TieTolerance));
            choice = best.Setting;
            rule = string.Format(CultureInfo.InvariantCulture, "fastest correct: {0:0.000} s per forward+backward pass, timed at batch {1}, {2} px{3}",
                best.PassSeconds, o.TimingBatch, sizes[0], best.PassSeconds > fastest
                    ? string.Format(CultureInfo.InvariantCulture, ", within {0:0%} of the fastest {1:0.000} s", TieTolerance, fastest) : "");
        }
        else
        {
            choice = correct[0].Setting;
            rule = "first correct in the order " + string.Join(", ", candidates.Select(c => c.Name)) + " (no timing)";
        }
        return new KernelCheckReport(host, backbone, o.CifarStem, sizes, o.Batch, o.Tolerance, o.TimingPasses, o.TimingBatch,
            results, choice, rule, key, DateTimeOffset.UtcNow);
    }

    static CandidateResult ProbeCandidate(KernelCheckOptions o, HostInfo host, string backbone, int timingSize, IReadOnlyList<ConvUse> uses,
        KernelSetting setting, bool injectCrash)
    {
        var spec = new ProbeSpec(backbone, o.CifarStem, setting.Name, uses.Select(u => u.Shape).ToList(), o.Batch, host.Threads,
            o.TimingPasses, o.TimingBatch, timingSize, injectCrash, o.Tolerance);
        var specPath = Path.Combine(Path.GetTempPath(), $"nasiam-kernel-probe-{Environment.ProcessId}-{Guid.NewGuid():N}.json");
        File.WriteAllText(specPath, JsonSerializer.Serialize(spec, KernelProbe.Json));
        var events = new List<ProbeEvent>();
        var stderr = new StringBuilder();
        int exitCode;
        bool timedOut = false;
        try
        {
            using var p = new Process { StartInfo = KernelProbe.ChildStartInfo(specPath) };
            p.OutputDataReceived += (_, e) =>
            {
                if (e.Data is { } line && line.StartsWith(KernelProbe.LinePrefix, StringComparison.Ordinal))
                    lock (events) events.Add(JsonSerializer.Deserialize<ProbeEvent>(line[KernelProbe.LinePrefix.Length..], KernelProbe.Json)!);
            };
            p.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is { } line && !line.Contains("NNPACK", StringComparison.Ordinal)) lock (stderr) stderr.AppendLine(line);
            };
            p.Start();
            p.StandardInput.Close();
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
            if (!p.WaitForExit(o.ProbeTimeout))
            {
                timedOut = true;
                p.Kill(entireProcessTree: true);
            }
            p.WaitForExit(); // drains the redirected streams
            exitCode = p.ExitCode;
        }
        finally
        {
            try { File.Delete(specPath); } catch (IOException) { }
        }

        var shapes = new List<ShapeCheck>();
        int? started = null;
        bool timingStarted = false, done = false;
        double? seconds = null;
        string? error = null;
        foreach (var e in events)
        {
            switch (e.Kind)
            {
                case "start": started = e.Index; break;
                case "shape": shapes.Add(new ShapeCheck(uses[e.Index], e.OutputError, e.InputGradError, e.WeightGradError)); started = null; break;
                case "timing-start": timingStarted = true; break;
                case "timing": seconds = e.Seconds; timingStarted = false; break;
                case "done": done = true; break;
                case "error": error = e.Message; break;
            }
        }
        double maxErr = shapes.Count == 0 ? double.NaN : shapes.Max(s => s.MaxError);
        var worst = shapes.Count == 0 ? null : shapes.MaxBy(s => s.MaxError);
        string Where() => started is { } i ? $"in {uses[i]}" : timingStarted ? "in the timed whole-trunk pass" : "before the first kernel";
        var lastErr = stderr.ToString().Trim().Split('\n').LastOrDefault(l => l.Trim().Length > 0)?.Trim();

        if (timedOut)
            return new CandidateResult(setting, CandidateStatus.Failed, maxErr, $"timed out after {o.ProbeTimeout.TotalSeconds:0} s {Where()}", null, shapes);
        if (!done && exitCode > 128 && OperatingSystem.IsLinux())
        {
            int sig = exitCode - 128; // .NET reports a child killed by signal S as 128 + S
            int wrongBefore = shapes.Count(s => !(s.MaxError <= o.Tolerance));
            return new CandidateResult(setting, CandidateStatus.Crashed, maxErr,
                $"{SignalName(sig)} {Where()}" + (wrongBefore > 0 ? $"; {wrongBefore} shape(s) checked before it were wrong" : ""), null, shapes, sig);
        }
        if (!done)
            return new CandidateResult(setting, CandidateStatus.Failed, maxErr,
                $"probe child exited {exitCode} without a result {Where()}" + ((error ?? lastErr) is { } m ? $": {m}" : "") +
                (KernelProbe.EntryPointHandlesProbes ? "" : " (this host's Main does not call KernelProbe.TryRunAsChild; the startup-hook fallback did not answer)"),
                null, shapes);
        var bad = shapes.Where(s => !(s.MaxError <= o.Tolerance)).ToList();
        if (bad.Count > 0)
            return new CandidateResult(setting, CandidateStatus.Wrong, maxErr,
                $"{bad.Count} shape(s) wrong, worst {bad.MaxBy(s => s.MaxError)!.Use} " +
                string.Format(CultureInfo.InvariantCulture, "(y {0:0.0e+0}, dx {1:0.0e+0}, dw {2:0.0e+0})", worst!.OutputError, worst.InputGradError, worst.WeightGradError),
                seconds, shapes);
        return new CandidateResult(setting, CandidateStatus.Correct, maxErr, $"{shapes.Count} shapes ok" + (worst is null ? "" : $", worst {worst.Use.Shape}"), seconds, shapes);
    }

    static string SignalName(int sig) => sig switch
    {
        4 => "SIGILL", 6 => "SIGABRT", 7 => "SIGBUS", 8 => "SIGFPE", 9 => "SIGKILL", 11 => "SIGSEGV",
        _ => $"signal {sig}",
    };
}

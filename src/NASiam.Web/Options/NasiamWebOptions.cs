using System.ComponentModel.DataAnnotations;
using NASiam.Core.Options;

namespace NASiam.Web.Options;

/// <summary>
/// Host settings of the web app (section "Nasiam" of the root appsettings.json, or environment
/// variables such as Nasiam__AccessKey). They never travel with a run: a run's own settings are
/// its <see cref="RunOptions"/>. Validated at start-up so a typo stops the app with a clear message.
/// </summary>
public sealed partial class NasiamWebOptions : IValidatableObject
{
    public const string Section = "Nasiam";

    /// <summary>Display title of the dashboard.</summary>
    public string Title { get; set; } = "NASiam.Web";

    /// <summary>Where runs, the run database and the job database live; relative paths are under the app root.</summary>
    [Required(ErrorMessage = "Nasiam:DataDirectory is required (a folder for runs and databases, e.g. ./data).")]
    public string DataDirectory { get; set; } = "data";

    /// <summary>
    /// Storage of jobs and runs: sqlite (files in the data directory, one machine), postgresql (needs
    /// ConnectionString; run records, events, genotype library, comparisons, leases and Hangfire's
    /// jobs all live in that database, so several machines share them) or inmemory (tests: jobs
    /// in memory and lost on restart; runs in the SQLite file).
    /// </summary>
    public string Storage { get; set; } = "sqlite";

    /// <summary><see cref="Storage"/> as compared everywhere: trimmed, lower case (one of <see cref="StorageKinds"/> once validated).</summary>
    public string StorageKey => (Storage ?? "").Trim().ToLowerInvariant();

    /// <summary>Runs and jobs live in PostgreSQL, shared by every node.</summary>
    public bool UsesPostgreSql => StorageKey == "postgresql";

    /// <summary>PostgreSQL connection string for Storage = postgresql (e.g. Host=db;Database=nasiam;Username=nasiam;Password=…).</summary>
    public string? ConnectionString { get; set; }

    /// <summary>
    /// Redis (a StackExchange.Redis connection string, e.g. "redis:6379" or "host:6379,password=…"):
    /// live run events and status changes travel between nodes over its pub/sub, so a page or hub
    /// client on any node follows a run executing on any node (docs/live-events.md). Empty: in
    /// process only (one machine). Set but unreachable at start-up: the app stops with an error.
    /// </summary>
    public string? Redis { get; set; }

    /// <summary>
    /// How live run events reach the other nodes (docs/live-events.md): auto (the default: redis when
    /// Nasiam:Redis is set, else postgresql when Nasiam:Storage is postgresql, else none), redis,
    /// postgresql (LISTEN/NOTIFY on Nasiam:ConnectionString) or none (this node's runs only).
    /// </summary>
    public string LiveEvents { get; set; } = "auto";

    public static readonly string[] LiveEventsKinds = ["auto", "redis", "postgresql", "none"];

    /// <summary>The transport <see cref="LiveEvents"/> resolves to: redis, postgresql or none.</summary>
    public string EffectiveLiveEvents => (LiveEvents?.Trim().ToLowerInvariant() ?? "auto") switch
    {
        "auto" => !string.IsNullOrWhiteSpace(Redis) ? "redis"
            : UsesPostgreSql ? "postgresql" : "none",
        var kind => kind,
    };

    /// <summary>
    /// Compute devices; each gets its own job queue with exactly one worker, so two runs never
    /// share a device. Empty means ["cpu"] (the binder appends to a non-empty default).
    /// </summary>
    public string[] Devices { get; set; } = [];

    /// <summary>The configured devices, normalised, or cpu when none are configured.</summary>
    public IReadOnlyList<string> EffectiveDevices => Devices is { Length: > 0 } ? Devices.Select(DeviceQueues.Normalise).ToArray() : ["cpu"];

    /// <summary>
    /// Torch intra-op CPU threads for runs that leave RunOptions.Threads at 0. 0 here means
    /// <see cref="DefaultCpuThreads"/>: every core but one, so Kestrel, SignalR and the progress
    /// pump keep a core while a run trains (a run using all cores makes the dashboard lag).
    /// </summary>
    [Range(0, 256, ErrorMessage = "Nasiam:CpuThreads must be between 0 (automatic: cores - 1) and 256.")]
    public int CpuThreads { get; set; }

    /// <summary>max(1, cores - 1): one core left to the web server.</summary>
    public static int DefaultCpuThreads => Math.Max(1, Environment.ProcessorCount - 1);

    /// <summary>The thread count a run that asks for 0 gets.</summary>
    public int EffectiveCpuThreads => CpuThreads > 0 ? CpuThreads : DefaultCpuThreads;

    /// <summary>
    /// The memory, in MiB, a run on this node may use; 0 means the host's (or its container's limit). A run whose estimated
    /// peak on the CPU comes above 90 % of it is queued with a notice that says so (<see cref="RunMemoryEstimate"/>).
    /// </summary>
    [Range(0, long.MaxValue / (1024 * 1024), ErrorMessage = "Nasiam:MemoryLimitMib must be 0 (the host's memory) or more.")]
    public long MemoryLimitMib { get; set; }

    /// <summary>The memory a run on this node may use, in bytes (<see cref="MemoryLimitMib"/>, else the host's).</summary>
    public long EffectiveMemoryBytes => MemoryLimitMib > 0 ? MemoryLimitMib * 1024 * 1024 : RunMemoryEstimate.HostMemoryBytes();

    /// <summary>
    /// Where runs execute: "process" (default) starts each run in its own child process (the app's
    /// executable with a hidden argument), so a native crash in libtorch (SIGFPE/SIGSEGV, the OOM
    /// killer) fails only that run, named by its signal, and a finished run's memory goes back to
    /// the system. "inprocess" runs the registered engine on the job's thread, as tests with a
    /// scripted engine need (a crash then takes the whole server down).
    /// </summary>
    public string RunIsolation { get; set; } = "process";

    public static readonly string[] RunIsolationKinds = ["process", "inprocess"];

    /// <summary>True when runs execute in child processes.</summary>
    public bool RunsInChildProcess => string.Equals(RunIsolation?.Trim(), "process", StringComparison.OrdinalIgnoreCase);

    /// <summary>When set, every page, API call, hub connection and /hangfire require this key.</summary>
    public string? AccessKey { get; set; }

    /// <summary>Largest accepted upload (genotype files, request bodies), in bytes.</summary>
    [Range(1024, 64L * 1024 * 1024, ErrorMessage = "Nasiam:MaxUploadBytes must be between 1024 and 67108864.")]
    public long MaxUploadBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// Hangfire's invisibility timeout in hours: a job running longer than this is fetched a second
    /// time. That second fetch cannot execute the run twice (the run's lease is held by its live
    /// executor, so the second job does nothing), but keep it above the longest run to avoid the
    /// noise. Crash recovery does not wait for it: the app re-queues orphaned runs itself (at
    /// start-up, and on workers when a dead executor's lease expires).
    /// </summary>
    [Range(1, 24 * 365, ErrorMessage = "Nasiam:InvisibilityTimeoutHours must be between 1 and 8760.")]
    public double InvisibilityTimeoutHours { get; set; } = 24 * 30;

    /// <summary>How often idle workers poll their queue, in seconds (Hangfire's SQLite default of 15 s delays every start).</summary>
    [Range(0.05, 60, ErrorMessage = "Nasiam:QueuePollSeconds must be between 0.05 and 60.")]
    public double QueuePollSeconds { get; set; } = 1;

    /// <summary>Resume runs interrupted by a stop or crash when the app starts.</summary>
    public bool ResumeInterruptedRuns { get; set; } = true;

    /// <summary>Points per series sent to charts; longer series are downsampled on the server.</summary>
    [Range(100, 100_000, ErrorMessage = "Nasiam:MaxPointsPerSeries must be between 100 and 100000.")]
    public int MaxPointsPerSeries { get; set; } = 2000;

    /// <summary>Live updates per run per client per second (coalescing).</summary>
    [Range(1, 100, ErrorMessage = "Nasiam:MaxUpdatesPerSecond must be between 1 and 100.")]
    public int MaxUpdatesPerSecond { get; set; } = 10;

    /// <summary>
    /// Renders per second of a live run page (per open page; the events are applied as they come,
    /// the page redraws at most this often, the last change always shown). Each render costs the
    /// server about 2 ms of CPU per open page (diff, serialisation, two plotly calls, the send), so
    /// this is what bounds the cost of many viewers: measured with bench/NASiam.Web.LoadBench --circuits.
    /// </summary>
    [Range(1, 20, ErrorMessage = "Nasiam:MaxPageRendersPerSecond must be between 1 and 20.")]
    public int MaxPageRendersPerSecond { get; set; } = 2;

    /// <summary>
    /// What this process does: "all" (default: one machine serves pages, API and hub and executes
    /// runs), "web" (pages, API and hub; executes nothing, recovers nothing) or "worker" (executes
    /// the runs queued for its Devices, one worker thread per device, and re-queues runs whose
    /// executor died; serves only /healthz). web and worker need Storage=postgresql: every node
    /// must see the same runs and queue. Also settable as <c>--role</c>.
    /// </summary>
    public string Role { get; set; } = "all";

    public static readonly string[] RoleKinds = ["all", "web", "worker"];

    string RoleKey => (Role ?? "all").Trim().ToLowerInvariant();

    /// <summary>True when this process executes runs (roles all and worker).</summary>
    public bool ExecutesRuns => RoleKey is "all" or "worker";

    /// <summary>True when this process serves pages, API and hub (roles all and web).</summary>
    public bool ServesWeb => RoleKey is "all" or "web";

    /// <summary>
    /// How long a run's lease lives without a heartbeat, in seconds: after a worker dies, its run
    /// is re-queued elsewhere within about this time plus one sweep. Must comfortably exceed the
    /// longest pause a live worker may have (GC, a slow database); see docs/deploy.md.
    /// </summary>
    [Range(1, 3600, ErrorMessage = "Nasiam:LeaseSeconds must be between 1 and 3600.")]
    public double LeaseSeconds { get; set; } = 30;

    /// <summary>How often an executing worker renews its lease (and reads cancel requests), and how often workers sweep for expired leases, in seconds.</summary>
    [Range(0.1, 600, ErrorMessage = "Nasiam:LeaseHeartbeatSeconds must be between 0.1 and 600.")]
    public double LeaseHeartbeatSeconds { get; set; } = 5;

    public static readonly string[] StorageKinds = ["sqlite", "postgresql", "inmemory"];

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!StorageKinds.Contains(StorageKey))
            yield return new($"Nasiam:Storage '{Storage}' is not one of {string.Join(", ", StorageKinds)}.", [nameof(Storage)]);
        if (UsesPostgreSql && string.IsNullOrWhiteSpace(ConnectionString))
            yield return new("Nasiam:ConnectionString is required when Nasiam:Storage is postgresql.", [nameof(ConnectionString)]);
        {
            foreach (var d in Devices ?? [])
                if (!DeviceSpec.TryParse(d, out var spec) || spec.Kind == "auto")
                    yield return new($"Nasiam:Devices entry '{d}' is not cpu, cuda or cuda:N.", [nameof(Devices)]);
            var dup = (Devices ?? []).GroupBy(DeviceQueues.Normalise).FirstOrDefault(g => g.Count() > 1);
            if (dup is not null) yield return new($"Nasiam:Devices lists '{dup.Key}' twice.", [nameof(Devices)]);
        }
        if (!RunIsolationKinds.Contains(RunIsolation?.Trim().ToLowerInvariant()))
            yield return new($"Nasiam:RunIsolation '{RunIsolation}' is not one of {string.Join(", ", RunIsolationKinds)}.", [nameof(RunIsolation)]);
        if (!RoleKinds.Contains(RoleKey))
            yield return new($"Nasiam:Role '{Role}' is not one of {string.Join(", ", RoleKinds)}.", [nameof(Role)]);
        else if (RoleKey != "all" && !UsesPostgreSql)
            yield return new($"Nasiam:Role '{RoleKey}' needs Nasiam:Storage=postgresql (now '{Storage}'): SQLite and in-memory storage are one machine's, so nodes would not share runs or jobs.", [nameof(Role), nameof(Storage)]);
        if (LeaseHeartbeatSeconds * 2 > LeaseSeconds)
            yield return new($"Nasiam:LeaseHeartbeatSeconds ({LeaseHeartbeatSeconds}) must be at most half of Nasiam:LeaseSeconds ({LeaseSeconds}), or a live worker could lose its lease between two heartbeats.", [nameof(LeaseHeartbeatSeconds)]);
        if (!LiveEventsKinds.Contains(LiveEvents?.Trim().ToLowerInvariant()))
            yield return new($"Nasiam:LiveEvents '{LiveEvents}' is not one of {string.Join(", ", LiveEventsKinds)}.", [nameof(LiveEvents)]);
        else if (EffectiveLiveEvents == "redis" && string.IsNullOrWhiteSpace(Redis))
            yield return new("Nasiam:Redis is required when Nasiam:LiveEvents is redis.", [nameof(Redis)]);
        else if (EffectiveLiveEvents == "postgresql" && string.IsNullOrWhiteSpace(ConnectionString))
            yield return new("Nasiam:ConnectionString is required when Nasiam:LiveEvents is postgresql.", [nameof(ConnectionString)]);
        if (AccessKey is { Length: > 0 and < 8 })
            yield return new("Nasiam:AccessKey must be at least 8 characters (or empty to disable it).", [nameof(AccessKey)]);
    }

    /// <summary>
    /// Binds the configuration section; a value the binder cannot convert (Nasiam:LeaseSeconds=abc,
    /// Nasiam:ResumeInterruptedRuns=maybe) becomes an <see cref="OptionsValidationException"/> naming the
    /// setting and what it takes, so start-up stops with the one line every other bad setting gives.
    /// </summary>
    public static void Bind(NasiamWebOptions o, IConfigurationSection section)
    {
        try { section.Bind(o); }
        catch (InvalidOperationException e) when (ConversionFailure().Match(e.Message) is { Success: true } m)
        {
            var key = m.Groups["key"].Value;
            var takes = m.Groups["type"].Value switch
            {
                "System.Boolean" => "true or false",
                "System.Int32" or "System.Int64" => "a whole number",
                "System.Double" or "System.Single" or "System.Decimal" => "a number (e.g. 30 or 0.5)",
                var t => $"a {t}",
            };
            // The setting's own range, where it has one, says what a good value is.
            var range = typeof(NasiamWebOptions).GetProperty(key[(key.LastIndexOf(':') + 1)..])?
                .GetCustomAttributes(typeof(RangeAttribute), false).OfType<RangeAttribute>().FirstOrDefault()?.ErrorMessage;
            throw new Microsoft.Extensions.Options.OptionsValidationException(Microsoft.Extensions.Options.Options.DefaultName, typeof(NasiamWebOptions),
                [$"{key} '{m.Groups["value"].Value}' is not {takes}{(range is null ? "." : $": {range}")}"]);
        }
    }

    // Microsoft.Extensions.Configuration.Binder's text: Failed to convert configuration value 'abc' at 'Nasiam:LeaseSeconds' to type 'System.Double'.
    [System.Text.RegularExpressions.GeneratedRegex("""^Failed to convert configuration value '(?<value>.*)' at '(?<key>[^']+)' to type '(?<type>[^']+)'""",
        System.Text.RegularExpressions.RegexOptions.Singleline)]
    private static partial System.Text.RegularExpressions.Regex ConversionFailure();

    /// <summary>The data directory as an absolute path.</summary>
    public string DataPath(string appRoot) =>
        Path.GetFullPath(Path.IsPathRooted(DataDirectory) ? DataDirectory : Path.Combine(appRoot, DataDirectory));

    public bool AccessKeyRequired => !string.IsNullOrEmpty(AccessKey);
}

/// <summary>Maps devices to Hangfire queue names (lower-case letters, digits, '-' and '_' only).</summary>
public static class DeviceQueues
{
    public static string Normalise(string device) =>
        DeviceSpec.TryParse(device, out var s) ? s.ToString() : device.Trim().ToLowerInvariant();

    /// <summary>"cpu" → "device-cpu", "cuda:1" → "device-cuda-1".</summary>
    public static string QueueFor(string device) => "device-" + Normalise(device).Replace(':', '-');
}

using System.Text.Json;
using System.Text.Json.Serialization;
using NASiam.Core.Engine;
using NASiam.Core.Reporting;

namespace NASiam.Web.Worker;

/// <summary>
/// What the parent hands a run's child process: the first line on the child's stdin. The thread
/// count travels inside the options (RunOptions.Threads, already resolved by the job), so the
/// child needs no host settings at all.
/// </summary>
public sealed record RunWorkerSpec
{
    public required Guid RunId { get; init; }
    /// <summary>The run's options as RunOptions.ToJson() wrote them (the engine's own JSON).</summary>
    public required string OptionsJson { get; init; }
    public required string OutputDirectory { get; init; }
    public bool Resume { get; init; } = true;
    public long FirstSequence { get; init; }
}

/// <summary>
/// One line the child writes on its protocol stream: an engine event, the final result, or the
/// error that stopped the run before a result. The stream ends with exactly one "result" or
/// "error"; a child that ends without one died (see <see cref="ExitStatus"/>).
/// </summary>
public sealed record RunWorkerMessage
{
    public const string EventKind = "event", ResultKind = "result", ErrorKind = "error";

    public required string Kind { get; init; }
    /// <summary>The event's "type" discriminator (also inside <see cref="Event"/>).</summary>
    public string? EventType { get; init; }
    public JsonElement? Event { get; init; }
    public RunResult? Result { get; init; }
    public string? Error { get; init; }
    /// <summary>The .NET type of the error, so bad options (ArgumentException) stay bad options in the parent.</summary>
    public string? ErrorType { get; init; }
}

/// <summary>
/// The wire between a run's child process and its job: one JSON object per line. Events travel in
/// their one JSON form (TrainingEventJson, lossless for NaN and infinite doubles); the envelope
/// and the result use this class's settings, which also write non-finite doubles as named
/// literals. An unknown event type is a bug (child and parent are the same binary) and is reported.
/// </summary>
public static class RunWorkerProtocol
{
    /// <summary>The hidden first argument that makes the web app's executable a run's child process.</summary>
    public const string ChildArgument = "--run-child";

    /// <summary>A line on the child's stdin that cancels the run (the child checkpoints and exits).</summary>
    public const string CancelCommand = "cancel";

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        NumberHandling = JsonNumberHandling.AllowReadingFromString | JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
        WriteIndented = false,
    };

    /// <summary>The event travels in its one JSON form (<see cref="TrainingEventJson"/>).</summary>
    public static string EventLine(TrainingEvent e) => JsonSerializer.Serialize(new RunWorkerMessage
    {
        Kind = RunWorkerMessage.EventKind, EventType = e.Type, Event = TrainingEventJson.ToElement(e),
    }, Json);

    public static string ResultLine(RunResult result) =>
        JsonSerializer.Serialize(new RunWorkerMessage { Kind = RunWorkerMessage.ResultKind, Result = result }, Json);

    public static string ErrorLine(Exception e) => JsonSerializer.Serialize(new RunWorkerMessage
    {
        Kind = RunWorkerMessage.ErrorKind, Error = e.Message, ErrorType = e.GetType().FullName,
    }, Json);

    /// <summary>Reads one protocol line; throws <see cref="JsonException"/> when it is not one.</summary>
    public static RunWorkerMessage ParseLine(string line) =>
        JsonSerializer.Deserialize<RunWorkerMessage>(line, Json) ?? throw new JsonException("A protocol line was JSON null.");

    /// <summary>
    /// The engine event carried by an "event" message; an unknown type throws (the child and the
    /// parent are the same binary, so it is a bug, never dropped). Journals left by versions before
    /// contract v1 carry the old camelCase form, which is still read.
    /// </summary>
    public static TrainingEvent ReadEvent(RunWorkerMessage message)
    {
        if (message.EventType is not { } type || message.Event is not { } body)
            throw new JsonException("An event message lacks its eventType or event.");
        if (!TrainingEventJson.TypeNames.Contains(type))
            throw new JsonException($"Unknown event type '{type}' (known: {string.Join(", ", TrainingEventJson.TypeNames.Order())}).");
        return TrainingEventJson.DeserializeAnyVersion(body.GetRawText());
    }

    public static string SpecLine(RunWorkerSpec spec) => JsonSerializer.Serialize(spec, Json);

    public static RunWorkerSpec ParseSpec(string line) =>
        JsonSerializer.Deserialize<RunWorkerSpec>(line, Json) ?? throw new JsonException("The run spec was JSON null.");
}

/// <summary>
/// How a child process ended, decoded from .NET's exit code: on Unix, a process killed by signal N
/// reports 128 + N. A plain exit with such a code is told apart by the protocol (a child that
/// exits on its own always writes a result or an error first).
/// </summary>
public static class ExitStatus
{
    static readonly Dictionary<int, string> Names = new()
    {
        [1] = "SIGHUP", [2] = "SIGINT", [3] = "SIGQUIT", [4] = "SIGILL", [5] = "SIGTRAP", [6] = "SIGABRT", [7] = "SIGBUS",
        [8] = "SIGFPE", [9] = "SIGKILL", [10] = "SIGUSR1", [11] = "SIGSEGV", [12] = "SIGUSR2", [13] = "SIGPIPE",
        [14] = "SIGALRM", [15] = "SIGTERM", [24] = "SIGXCPU", [25] = "SIGXFSZ", [31] = "SIGSYS",
    };

    /// <summary>The signal number when <paramref name="exitCode"/> encodes a death by signal (Unix only).</summary>
    public static int? Signal(int exitCode) =>
        !OperatingSystem.IsWindows() && exitCode > 128 && exitCode < 128 + 65 ? exitCode - 128 : null;

    /// <summary>"SIGFPE (signal 8)".</summary>
    public static string Describe(int signal) =>
        Names.TryGetValue(signal, out var name) ? $"{name} (signal {signal})" : $"signal {signal}";
}

using System.Text.Json;
using NASiam.Core.Reporting;

namespace NASiam.Web.Worker;

/// <summary>
/// A run's child writes every event it emits to <c>.worker-events.jsonl</c> in the run's folder as
/// well as to the server. Why: when the server itself dies (SIGKILL, OOM) its child cancels,
/// writes a checkpoint and exits on its own, and the events of that last stretch (and any the
/// server had received but not yet stored) would be lost, leaving a hole in the run's numbering
/// right before the checkpoint the run resumes from. The next job of the run imports the journal
/// before it prepares the resume (duplicates are ignored by sequence), then deletes it; the next
/// child starts a fresh one. Lines are protocol lines (<see cref="RunWorkerProtocol"/>).
/// </summary>
public static class RunEventJournal
{
    public const string FileName = ".worker-events.jsonl";

    public static string PathFor(string runDirectory) => Path.Combine(runDirectory, FileName);

    /// <summary>
    /// The events in <paramref name="runDirectory"/>'s journal, or none. A last line cut short by a
    /// crash is skipped; any other unreadable line is an error (the journal is ours).
    /// </summary>
    public static IReadOnlyList<TrainingEvent> Read(string runDirectory)
    {
        var path = PathFor(runDirectory);
        if (!File.Exists(path)) return [];
        var lines = File.ReadAllLines(path);
        var events = new List<TrainingEvent>(lines.Length);
        for (int i = 0; i < lines.Length; i++)
        {
            try
            {
                var m = RunWorkerProtocol.ParseLine(lines[i]);
                if (m.Kind == RunWorkerMessage.EventKind) events.Add(RunWorkerProtocol.ReadEvent(m));
            }
            catch (JsonException) when (i == lines.Length - 1)
            {
                // the write the crash interrupted
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{path} line {i + 1} is not a protocol line: {e.Message}", e);
            }
        }
        return events;
    }

    public static void Delete(string runDirectory) => File.Delete(PathFor(runDirectory));

    /// <summary>Creates (truncates) the journal for a new attempt: written line by line, flushed per line.</summary>
    public static StreamWriter Create(string runDirectory)
    {
        Directory.CreateDirectory(runDirectory);
        var file = new FileStream(PathFor(runDirectory), FileMode.Create, FileAccess.Write, FileShare.Read);
        return new StreamWriter(file, new System.Text.UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };
    }
}

using System.Text.Json;
using NASiam.Core.Reporting;
using NASiam.Web.Runs;

namespace NASiam.Web.Worker;

/// <summary>
/// Reconciles a run's stored events with its folder before an attempt. The engine writes every
/// event to the run's metrics.jsonl itself (in the child process too), so when the server dies
/// (SIGKILL, OOM) while its child cancels, checkpoints and exits on its own, the events of that
/// last stretch are in the file though the server never stored them. The next job imports them
/// (duplicates are ignored by sequence; a run_started drops what it replays) before the engine
/// starts, so the numbering has no hole before the checkpoint the run resumes from.
/// Runs stored before every run wrote metrics.jsonl get the file written from the database, so
/// the engine's file of the run is complete. A child of an older version left a
/// <c>.worker-events.jsonl</c> journal of protocol lines instead; it is imported once and deleted.
/// </summary>
public static class RunEventJournal
{
    /// <summary>The journal file of versions before every run wrote metrics.jsonl.</summary>
    public const string LegacyFileName = ".worker-events.jsonl";

    /// <summary>
    /// Stores what the folder has and the database lacks, then writes metrics.jsonl from the
    /// database when the folder has none. Returns how many events were newly stored or replaced
    /// (0 when the database already held the folder's events as they are).
    /// Throws <see cref="InvalidDataException"/> for a damaged file (not its cut last line).
    /// </summary>
    public static int Reconcile(RunStore store, Guid runId, string runDirectory)
    {
        int added = 0;
        var legacy = Path.Combine(runDirectory, LegacyFileName);
        if (File.Exists(legacy))
        {
            added += Append(store, runId, ReadLegacy(legacy));
            File.Delete(legacy);
        }
        var metrics = MetricsJsonl.PathIn(runDirectory);
        if (File.Exists(metrics))
        {
            // From the file's last attempt on the file is the truth (its run_started clears what the
            // database holds from there); before it, only what the database lacks is added.
            var events = MetricsJsonl.Read(metrics);
            long from = store.NextSequence(runId);
            if (events.LastOrDefault(e => e is RunStarted) is { } last) from = Math.Min(from, last.Sequence);
            var tail = events.Where(e => e.Sequence >= from).ToList();
            // What the database already holds as the file does is neither written again nor counted: an
            // attempt that resumes after a clean stop finds every event stored, and "missed" must say so.
            var stored = new List<TrainingEvent>();
            store.ReadEach(runId, from - 1, stored.Add);
            int same = 0;
            while (same < tail.Count && same < stored.Count && stored[same].Sequence == tail[same].Sequence
                   && TrainingEventJson.Serialize(stored[same]) == TrainingEventJson.Serialize(tail[same]))
                same++;
            // The stored events agree with the file as far as the database goes: only the rest is new.
            // Otherwise the file's attempt replaces them (its run_started drops what it replays).
            if (same == stored.Count) added += Append(store, runId, tail.Skip(same).ToList());
            else
            {
                Append(store, runId, tail);
                added += tail.Count - same;
            }
        }
        else if (store.NextSequence(runId) > 0)
        {
            Directory.CreateDirectory(runDirectory);
            using var w = new MetricsJsonlObserver(metrics);
            store.ReadEach(runId, -1, w.On);
        }
        return added;
    }

    static int Append(RunStore store, Guid runId, IReadOnlyList<TrainingEvent> events) =>
        events.Count == 0 ? 0 : store.Append(runId, events);

    /// <summary>
    /// The events of an old journal (protocol lines). A last line cut short by a crash is
    /// skipped; any other unreadable line is an error (the journal is ours).
    /// </summary>
    public static IReadOnlyList<TrainingEvent> ReadLegacy(string path)
    {
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
}

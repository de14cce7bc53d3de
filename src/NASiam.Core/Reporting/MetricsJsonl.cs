using System.Text.Json;

namespace NASiam.Core.Reporting;

/// <summary>
/// The run folder's metrics.jsonl: every event of the run in the one JSON form
/// (<see cref="TrainingEventJson"/>), one per line. The engine owns it: each attempt first cuts
/// the file back to the events before its first sequence number (what it replays from its
/// checkpoint is written again), then appends. Readers apply the same rule, so files written by
/// older versions, which appended replays, read without doubles.
/// </summary>
public static class MetricsJsonl
{
    public const string FileName = "metrics.jsonl";

    public static string PathIn(string runDirectory) => Path.Combine(runDirectory, FileName);

    /// <summary>
    /// The events of a metrics.jsonl in sequence order, newest attempt winning: a line whose
    /// sequence is not above the previous line's starts a replay, and drops the kept events from
    /// that sequence on. A last line cut short by a crash is skipped; any other unreadable line
    /// throws <see cref="InvalidDataException"/> naming the file and line. Missing file: empty.
    /// </summary>
    public static IReadOnlyList<TrainingEvent> Read(string path)
    {
        if (!File.Exists(path)) return [];
        var events = new List<TrainingEvent>();
        using var reader = new StreamReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete));
        int number = 0;
        string? line = reader.ReadLine();
        while (line is not null)
        {
            number++;
            var next = reader.ReadLine();
            if (line.Length > 0)
            {
                TrainingEvent e;
                try { e = TrainingEventJson.DeserializeAnyVersion(line); }
                catch (JsonException) when (next is null) { break; } // the write a crash interrupted
                catch (JsonException x) { throw new InvalidDataException($"{path} line {number}: {x.Message}", x); }
                if (events.Count > 0 && e.Sequence <= events[^1].Sequence)
                    events.RemoveAll(k => k.Sequence >= e.Sequence);
                events.Add(e);
            }
            line = next;
        }
        return events;
    }

    /// <summary>
    /// Rewrites the file (atomically) with only the events before <paramref name="firstSequence"/>,
    /// replays resolved; no file is created when there is none and nothing to keep.
    /// </summary>
    public static void KeepBefore(string path, long firstSequence)
    {
        if (!File.Exists(path)) return;
        var keep = Read(path).Where(e => e.Sequence < firstSequence).ToList();
        IO.AtomicFile.Write(path, stream =>
        {
            using var w = new StreamWriter(stream, new System.Text.UTF8Encoding(false), leaveOpen: true) { NewLine = "\n" };
            foreach (var e in keep) w.WriteLine(TrainingEventJson.Serialize(e));
        });
    }
}

/// <summary>
/// Appends every event to a metrics.jsonl file, one object per line, flushed per line so a
/// crash loses at most the event being written. Synchronous file I/O: wrap it in
/// <see cref="BackgroundObserver"/> to keep it off the training thread.
/// </summary>
public sealed class MetricsJsonlObserver : ITrainingObserver, IDisposable
{
    readonly StreamWriter _writer;
    readonly object _gate = new();

    /// <param name="path">File to append to (created with its folder when missing).</param>
    public MetricsJsonlObserver(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        _writer = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read), new System.Text.UTF8Encoding(false))
        { AutoFlush = true, NewLine = "\n" };
    }

    public void On(TrainingEvent e)
    {
        var line = TrainingEventJson.Serialize(e);
        lock (_gate) _writer.WriteLine(line);
    }

    public void Dispose()
    {
        lock (_gate) _writer.Dispose();
    }
}

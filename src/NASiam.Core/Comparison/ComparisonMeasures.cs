using NASiam.Core.Reporting;

namespace NASiam.Core.Comparison;

/// <summary>What one child run's events say about its cost and its kNN monitor.</summary>
/// <param name="KnnCurve">kNN top-1 per epoch (percent; a resumed epoch counts once, its last report).</param>
/// <param name="ImagesPerSecond">Mean of the throughput reports; null when none.</param>
/// <param name="WallSeconds">Sum over attempts of stage_started → stage_finished (resume gaps excluded); null when no stage finished.</param>
public sealed record ChildMeasures(IReadOnlyList<KnnPoint> KnnCurve, double? ImagesPerSecond, double? WallSeconds)
{
    /// <summary>Measures from a run's events in sequence order (web: the run store; CLI: the recorded events).</summary>
    public static ChildMeasures From(IEnumerable<TrainingEvent> events)
    {
        var curve = new SortedDictionary<int, double>();
        var throughput = new List<double>();
        double total = 0;
        bool any = false;
        DateTimeOffset? start = null;
        foreach (var e in events)
        {
            switch (e)
            {
                case KnnLogged k when double.IsFinite(k.Top1): curve[k.Epoch] = k.Top1; break;
                case ThroughputLogged t when double.IsFinite(t.ImagesPerSecond): throughput.Add(t.ImagesPerSecond); break;
                case StageStarted: start = e.At; break;
                case StageFinished when start is { } s: total += (e.At - s).TotalSeconds; any = true; start = null; break;
            }
        }
        return new(curve.Select(kv => new KnnPoint(kv.Key, kv.Value)).ToArray(), throughput.Count > 0 ? throughput.Average() : null, any ? total : null);
    }
}

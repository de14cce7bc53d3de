using NASiam.Core.Reporting;

namespace NASiam.Web.Runs;

/// <summary>A point of a chart series.</summary>
public readonly record struct ChartPoint(double X, double Y);

/// <summary>A named series of a line chart.</summary>
public sealed record ChartLine(string Name, IReadOnlyList<ChartPoint> Points);

/// <summary>A vertical marker on a line chart (e.g. where a layer's winning op changed).</summary>
public sealed record ChartMarker(double X, string Label);

/// <summary>
/// Everything the run page shows, folded from the run's events. Events are applied in sequence
/// order and any sequence already seen is ignored, so a snapshot plus overlapping live batches is safe.
/// </summary>
public sealed class RunView
{
    public long LastSequence { get; private set; } = -1;
    public List<StepLogged> Steps { get; } = [];
    public List<AlphasLogged> Alphas { get; } = [];
    public List<CollapseLogged> Collapse { get; } = [];
    public List<KnnLogged> Knn { get; } = [];
    public List<ThroughputLogged> Throughput { get; } = [];
    public List<LinearEvalLogged> Linear { get; } = [];
    public List<WarningRaised> Warnings { get; } = [];
    public List<CheckpointSaved> Checkpoints { get; } = [];
    public List<TrainingEvent> Log { get; } = [];
    public string? GenotypeText { get; private set; }

    public AlphasLogged? LatestAlphas => Alphas.Count > 0 ? Alphas[^1] : null;

    /// <summary>Applies new events; returns how many were new.</summary>
    public int Apply(IEnumerable<TrainingEvent> events)
    {
        int n = 0;
        foreach (var e in events.OrderBy(e => e.Sequence))
        {
            if (e.Sequence <= LastSequence) continue;
            LastSequence = e.Sequence;
            n++;
            switch (e)
            {
                case StepLogged s: Steps.Add(s); break;
                case AlphasLogged a: Alphas.Add(a); GenotypeText = a.GenotypeText; break;
                case CollapseLogged c: Collapse.Add(c); break;
                case KnnLogged k: Knn.Add(k); break;
                case ThroughputLogged t: Throughput.Add(t); break;
                case LinearEvalLogged l: Linear.Add(l); break;
                case WarningRaised w: Warnings.Add(w); Log.Add(w); break;
                case CheckpointSaved c: Checkpoints.Add(c); Log.Add(c); break;
                case GenotypeDerived g: GenotypeText = g.GenotypeText; Log.Add(g); break;
                default: Log.Add(e); break;
            }
        }
        return n;
    }

    /// <summary>X = step (or event index when steps restart per stage).</summary>
    public ChartLine LossLine() => new("loss", Steps.Select(s => new ChartPoint(s.Step, s.Loss)).ToArray());

    public IReadOnlyList<ChartLine> LearningRateLines() =>
        Steps.SelectMany(s => s.LearningRates.Select(kv => (kv.Key, P: new ChartPoint(s.Step, kv.Value))))
            .GroupBy(x => x.Key).Select(g => new ChartLine($"lr {g.Key}", g.Select(x => x.P).ToArray())).ToArray();

    /// <summary>Per-op softmax weight over time for one layer of one cell.</summary>
    public IReadOnlyList<ChartLine> OpLines(string cell, int layer)
    {
        var rows = Alphas.Select(a => (a.Step, Cell: a.Cells.FirstOrDefault(c => c.Cell == cell)))
            .Where(x => x.Cell is not null && layer < x.Cell.Layers.Count).ToList();
        if (rows.Count == 0) return [];
        var ops = rows[0].Cell!.Operations;
        return ops.Select((op, i) => new ChartLine(op, rows.Select(r => new ChartPoint(r.Step, r.Cell!.Layers[layer].Weights[i])).ToArray())).ToArray();
    }

    /// <summary>Steps where the layer's winning op changed, labelled with the new winner.</summary>
    public IReadOnlyList<ChartMarker> WinnerChanges(string cell, int layer)
    {
        var markers = new List<ChartMarker>();
        string? previous = null;
        foreach (var a in Alphas)
        {
            var c = a.Cells.FirstOrDefault(x => x.Cell == cell);
            if (c is null || layer >= c.Layers.Count) continue;
            var w = c.Layers[layer].Winner;
            if (previous is not null && w != previous) markers.Add(new ChartMarker(a.Step, w));
            previous = w;
        }
        return markers;
    }
}

using System.Globalization;
using NASiam.Core.Reporting;
using NASiam.Core.Options;

namespace NASiam.Web.Runs;

/// <summary>A point of a chart series.</summary>
public readonly record struct ChartPoint(double X, double Y);

/// <summary>
/// A named series of a line chart. <paramref name="Stable"/> and <paramref name="Generation"/> come
/// from <see cref="SeriesSnapshot"/> for live series: the first Stable points do not change while
/// Generation stays, so a chart extends what it drew instead of redrawing it. A fixed series
/// leaves them unset (all its points are stable).
/// </summary>
public sealed record ChartLine(string Name, IReadOnlyList<ChartPoint> Points, int? Stable = null, int Generation = 0)
{
    public ChartLine(string name, SeriesSnapshot s) : this(name, s.Points, s.Stable, s.Generation) { }

    /// <summary>Points that will not change while <see cref="Generation"/> stays.</summary>
    public int StableCount => Math.Clamp(Stable ?? Points.Count, 0, Points.Count);
}

/// <summary>Warnings of one kind and stage: the newest, how many came, and the step of the first.</summary>
public sealed record WarningGroup(WarningRaised Latest, int Count, long FirstStep)
{
    public string Kind => Latest.Kind;
    public string Stage => Latest.Stage;

    /// <summary>" (7 times since step 120)" for a repeated warning, "" for one said once.</summary>
    public string Repeats => Count <= 1 ? "" : FirstStep > 0 ? $" ({Count} times since step {FirstStep})" : $" ({Count} times)";
}

/// <summary>A vertical marker on a line chart (e.g. where a layer's winning op changed).</summary>
public sealed record ChartMarker(double X, string Label);

/// <summary>
/// Everything the run page shows, folded from the run's events, in memory bounded by a point
/// budget however long the run: every series is a <see cref="SeriesBuffer"/> (min/max buckets,
/// the same for history and live events); lists that would grow with the run keep their newest
/// entries only. Events are applied in sequence order and a sequence already seen is ignored,
/// so a snapshot plus overlapping live batches is safe. A <see cref="RunStarted"/> at or below
/// the last sequence (a resume that replays) sets <see cref="NeedsReload"/>: the owner rebuilds
/// the view from the store. Not thread-safe: the page applies and renders on its own dispatcher.
/// </summary>
public sealed class RunView(int pointsPerSeries = 500)
{
    /// <summary>Newest log lines, warnings and winner-change markers kept.</summary>
    public const int KeepNewest = 200;

    // Per (series, stage): a pipeline's stages each count their steps from 1, so one line across stages would
    // draw the pre-training's step 1 after the search's last step. Stages in the order they first wrote a series.
    readonly Dictionary<(string Name, string Stage), SeriesBuffer> _series = [];
    readonly Dictionary<string, List<string>> _stagesOf = [];
    // Stages with a step-axis series, in pipeline order (a stage it does not name after those, as first seen).
    static IReadOnlyList<string> PipelineOrder => NASiam.Core.Engine.Runs.StageEnvironment.PipelineStages;

    /// <summary>A stage's place in <see cref="PipelineOrder"/>, or -1.</summary>
    static int OrderOf(string stage)
    {
        for (int i = 0; i < PipelineOrder.Count; i++) if (PipelineOrder[i] == stage) return i;
        return -1;
    }

    /// <summary>
    /// A run's stage as the runs list names it: a pipeline's with its place ("pretrain (2 of 3)"), since each stage's
    /// progress starts again from 0 (the bar went from 66 % of the search to 31 % of the pre-training).
    /// </summary>
    public static string? StageLabel(RunKind kind, string? stage) =>
        kind == RunKind.Pipeline && stage is not null && OrderOf(stage) is >= 0 and var i
            ? $"{stage} ({i + 1} of {PipelineOrder.Count})"
            : stage;
    readonly List<string> _stepStages = [];
    readonly Dictionary<(string Cell, int Layer), (IReadOnlyList<string> Ops, SeriesBuffer[] Weights, List<ChartMarker> Changes, string? Winner)> _ops = [];

    public int PointsPerSeries { get; } = pointsPerSeries;
    public long LastSequence { get; private set; } = -1;
    /// <summary>Events applied (after de-duplication).</summary>
    public long Applied { get; private set; }
    public bool NeedsReload { get; private set; }

    public AlphasLogged? LatestAlphas { get; private set; }
    public CollapseLogged? LatestCollapse { get; private set; }

    /// <summary>The newest collapse probe of <paramref name="stage"/>, or of any stage when null.</summary>
    public CollapseLogged? LatestCollapseOf(string? stage) => stage is null ? LatestCollapse : _collapseByStage.GetValueOrDefault(stage);
    readonly Dictionary<string, CollapseLogged> _collapseByStage = [];
    public ThroughputLogged? LatestThroughput { get; private set; }
    public string? GenotypeText { get; private set; }
    public List<WarningRaised> Warnings { get; } = [];

    /// <summary>
    /// The warnings once per kind and stage, with the newest message, in the order each first came: a long search
    /// repeats the same one every few epochs (seven "[architecture] … dominated by identity/pooling" banners). Every
    /// warning stays in <see cref="Log"/> (and <see cref="Warnings"/>); counts cover the whole run, not only those kept.
    /// </summary>
    public IReadOnlyList<WarningGroup> WarningGroups => _warningGroups.Values.ToList();
    readonly OrderedDictionary<(string Kind, string Stage), WarningGroup> _warningGroups = [];
    public List<TrainingEvent> Log { get; } = [];

    /// <summary>The current stage and its progress, from the events (no database read).</summary>
    public string? Stage { get; private set; }
    public long StageTotalSteps { get; private set; }
    public long StageDoneSteps { get; private set; }

    /// <summary>Applies new events; returns how many were new.</summary>
    public int Apply(IEnumerable<TrainingEvent> events)
    {
        int n = 0;
        foreach (var e in events.OrderBy(e => e.Sequence)) if (Apply(e)) n++;
        return n;
    }

    /// <summary>Applies one event (in sequence order); false when it was already seen.</summary>
    public bool Apply(TrainingEvent e)
    {
        if (e.Sequence <= LastSequence)
        {
            if (e is RunStarted) NeedsReload = true;
            return false;
        }
        LastSequence = e.Sequence;
        Applied++;
        switch (e)
        {
            case StageStarted s: Stage = s.Stage; StageTotalSteps = s.TotalSteps; StageDoneSteps = s.ResumedAtStep; AddLog(e); break;
            case StepLogged s:
                StageDoneSteps = Math.Max(StageDoneSteps, s.Step);
                StepSeries("loss", s).Add(s.Step, s.Loss);
                foreach (var (group, rate) in s.LearningRates) StepSeries("lr " + group, s).Add(s.Step, rate);
                break;
            case AlphasLogged a: ApplyAlphas(a); break;
            case CollapseLogged c:
                LatestCollapse = c;
                _collapseByStage[c.Stage] = c;
                StepSeries("std ratio", c).Add(c.Step, c.StdRatio);
                StepSeries("effective rank", c).Add(c.Step, c.EffectiveRank);
                break;
            case KnnLogged k: Series("knn top1", k).Add(k.Epoch + 1, k.Top1); break; // users count epochs from 1 (the events from 0)
            case ThroughputLogged t:
                LatestThroughput = t;
                StepSeries("images/s", t).Add(t.Step, t.ImagesPerSecond);
                if (t.RssMib is { } rss) StepSeries("rss MiB", t).Add(t.Step, rss);
                break;
            case LinearEvalLogged l: Series("linear top1", l).Add(l.Epoch + 1, l.Top1); break;
            case WarningRaised w:
                Keep(Warnings, w);
                _warningGroups[(w.Kind, w.Stage)] = _warningGroups.TryGetValue((w.Kind, w.Stage), out var seen)
                    ? seen with { Latest = w, Count = seen.Count + 1 } : new WarningGroup(w, 1, w.Step);
                AddLog(w);
                break;
            case GenotypeDerived g: GenotypeText = g.GenotypeText; AddLog(g); break;
            default: AddLog(e); break;
        }
        return true;
    }

    void AddLog(TrainingEvent e) => Keep(Log, e);

    static void Keep<T>(List<T> list, T item)
    {
        list.Add(item);
        if (list.Count > KeepNewest) list.RemoveRange(0, list.Count - KeepNewest);
    }

    SeriesBuffer Series(string name, TrainingEvent e)
    {
        if (!_series.TryGetValue((name, e.Stage), out var s))
        {
            _series[(name, e.Stage)] = s = new SeriesBuffer(PointsPerSeries);
            if (!_stagesOf.TryGetValue(name, out var stages)) _stagesOf[name] = stages = [];
            stages.Add(e.Stage);
        }
        return s;
    }

    /// <summary>A series drawn over its stage's steps: notes the stage in <see cref="StepStages"/>.</summary>
    SeriesBuffer StepSeries(string name, TrainingEvent e)
    {
        if (!_stepStages.Contains(e.Stage))
        {
            int Rank(string stage) => OrderOf(stage) is >= 0 and var i ? i : PipelineOrder.Count;
            int at = _stepStages.FindIndex(s => Rank(s) > Rank(e.Stage));
            _stepStages.Insert(at < 0 ? _stepStages.Count : at, e.Stage);
        }
        return Series(name, e);
    }

    /// <summary>
    /// Stages that wrote a step-axis series (loss, learning rates, collapse, throughput), in pipeline order
    /// (search, pretrain, lincls). Each stage counts its steps from 1, so with several the page draws one at a time.
    /// </summary>
    public IReadOnlyList<string> StepStages => _stepStages;

    /// <summary>
    /// The stage whose steps the page shows unless one is picked: for an active run the running stage once it
    /// has step data (until then the stage before it), else the last stage with step data; null when none has.
    /// </summary>
    public string? DefaultStepStage(bool active) =>
        active && Stage is { } running && _stepStages.Contains(running) ? running : _stepStages.LastOrDefault();

    /// <summary>
    /// The stage whose steps the step charts show: <paramref name="picked"/> (by hand) when it has step data, else
    /// <see cref="DefaultStepStage"/>; null (every stage's lines, as a single-stage run has) while fewer than two have.
    /// The pick matches case-insensitively (the selector shows "SEARCH", and a hand-typed ?stage=SEARCH must work) and
    /// the stage's own name comes back, as the chart series are keyed by it.
    /// </summary>
    public string? ShownStepStage(string? picked, bool active) =>
        _stepStages.Count < 2 ? null
        : picked is not null && _stepStages.FirstOrDefault(s => string.Equals(s, picked, StringComparison.OrdinalIgnoreCase)) is { } stage ? stage
        : DefaultStepStage(active);

    void ApplyAlphas(AlphasLogged a)
    {
        LatestAlphas = a;
        GenotypeText = a.GenotypeText;
        foreach (var cell in a.Cells)
        foreach (var layer in cell.Layers)
        {
            var key = (cell.Cell, layer.Layer);
            if (!_ops.TryGetValue(key, out var row))
                row = (cell.Operations, cell.Operations.Select(_ => new SeriesBuffer(PointsPerSeries)).ToArray(), [], null);
            for (int o = 0; o < row.Weights.Length && o < layer.Weights.Count; o++) row.Weights[o].Add(a.Step, layer.Weights[o]);
            if (row.Winner is not null && row.Winner != layer.Winner) Keep(row.Changes, new ChartMarker(a.Step, layer.Winner));
            _ops[key] = row with { Winner = layer.Winner };
        }
    }

    /// <summary>
    /// The lines of a named series (see <see cref="SeriesNames"/>), one per stage that wrote it, in stage
    /// order, named <paramref name="label"/> (default the series' name), with " (stage)" when there are
    /// several (a pipeline); no line when it has no points yet. Given a <paramref name="stage"/>, that
    /// stage's line only, named without the suffix (the chart says whose steps they are).
    /// </summary>
    public IReadOnlyList<ChartLine> Lines(string name, string? label = null, string? stage = null) =>
        !_stagesOf.TryGetValue(name, out var stages) ? []
        : stage is not null ? _series.TryGetValue((name, stage), out var one) ? [new ChartLine(label ?? name, one.Snapshot())] : []
        : stages.Select(s => new ChartLine(stages.Count == 1 ? label ?? name : $"{label ?? name} ({s})", _series[(name, s)].Snapshot())).ToArray();

    public IReadOnlyCollection<string> SeriesNames => _stagesOf.Keys;

    /// <summary>Points of every series the view draws (each within <see cref="PointsPerSeries"/>).</summary>
    public IEnumerable<(string Name, int Points)> SeriesSizes() =>
        _series.Select(kv => ($"{kv.Key.Name} ({kv.Key.Stage})", kv.Value.Points().Count))
            .Concat(_ops.SelectMany(kv => kv.Value.Weights.Select((w, i) => ($"{kv.Key.Cell}/{kv.Key.Layer}/{kv.Value.Ops[i]}", w.Points().Count))));

    /// <summary>X = step (of its stage); one <paramref name="stage"/>'s only when given.</summary>
    public IReadOnlyList<ChartLine> LossLines(string? stage = null) => Lines("loss", stage: stage);

    /// <summary>An epoch's resident memory as the run page shows it; says when it was not measured (runs from before it was reported, no /proc) instead of showing a number.</summary>
    public static string ResidentText(ThroughputLogged t) => t.RssMib is { } rss && t.PeakRssMib is { } peak
        ? string.Create(CultureInfo.InvariantCulture, $"Worker process memory: {rss:0} MiB resident, peak {peak:0} MiB")
        : "Worker process memory: not measured for this run";

    /// <summary>One line per optimizer group ("lr encoder", …) and stage; one <paramref name="stage"/>'s only when given.</summary>
    public IReadOnlyList<ChartLine> LearningRateLines(string? stage = null) =>
        _stagesOf.Keys.Where(name => name.StartsWith("lr ", StringComparison.Ordinal)).SelectMany(name => Lines(name, stage: stage)).ToArray();

    /// <summary>Per-op softmax weight over time for one layer of one cell.</summary>
    public IReadOnlyList<ChartLine> OpLines(string cell, int layer) =>
        _ops.TryGetValue((cell, layer), out var row)
            ? row.Ops.Select((op, i) => new ChartLine(op, row.Weights[i].Snapshot())).ToArray()
            : [];

    /// <summary>Steps where the layer's winning op changed, labelled with the new winner (the newest <see cref="KeepNewest"/>).</summary>
    public IReadOnlyList<ChartMarker> WinnerChanges(string cell, int layer) =>
        _ops.TryGetValue((cell, layer), out var row) ? row.Changes.ToArray() : [];
}

namespace NASiam.Web.Runs;

/// <summary>
/// A chart series kept within a fixed point budget however long the run: min/max buckets. Points
/// arrive in x order and fall into buckets of <c>width</c> consecutive points; each bucket keeps
/// its lowest and highest point (so a spike or a collapse is never smoothed away) and, for the
/// newest bucket, its latest point. When the buckets would exceed the budget, neighbours merge
/// pairwise and the width doubles. History and live updates go through the same buffer, so a
/// page that opens late shows exactly what a page that watched from the start shows.
/// Non-finite values are counted (<see cref="NonFinite"/>) and not drawn. Not thread-safe.
/// For incremental drawing (<see cref="Snapshot"/>): between merges only the newest bucket
/// changes, so the points of all the other buckets are a stable prefix that a chart can extend;
/// <see cref="Generation"/> counts merges (each one redraws the series).
/// </summary>
public sealed class SeriesBuffer
{
    struct Bucket
    {
        public ChartPoint Min, Max, Last;
        public long Count;
    }

    readonly List<Bucket> _buckets = [];
    readonly int _maxBuckets;
    long _width = 1;

    /// <param name="budget">Most points <see cref="Points"/> returns (at least 3).</param>
    public SeriesBuffer(int budget)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(budget, 3);
        Budget = budget;
        _maxBuckets = (budget - 1) / 2;
    }

    public int Budget { get; }
    /// <summary>Points received (finite ones).</summary>
    public long Count { get; private set; }
    /// <summary>Points received that were NaN or infinite, hence not drawn.</summary>
    public long NonFinite { get; private set; }
    /// <summary>True once points were merged (the series is downsampled).</summary>
    public bool Downsampled => _width > 1;
    /// <summary>Merges so far: the points drawn before a merge are no longer a prefix of those after it.</summary>
    public int Generation { get; private set; }

    public void Add(double x, double y)
    {
        if (!double.IsFinite(x) || !double.IsFinite(y)) { NonFinite++; return; }
        var p = new ChartPoint(x, y);
        Count++;
        while (true)
        {
            if (_buckets.Count > 0 && _buckets[^1].Count < _width)
            {
                var b = _buckets[^1];
                if (y < b.Min.Y) b.Min = p;
                if (y >= b.Max.Y) b.Max = p;
                b.Last = p;
                b.Count++;
                _buckets[^1] = b;
                return;
            }
            // Until the budget is reached every point is its own bucket (drawn as is); after that a
            // bucket draws up to two points (plus the newest point once).
            if (_buckets.Count < (_width == 1 ? Budget : _maxBuckets))
            {
                _buckets.Add(new Bucket { Min = p, Max = p, Last = p, Count = 1 });
                return;
            }
            do Merge(); while (_buckets.Count > _maxBuckets);
        }
    }

    void Merge()
    {
        var merged = new List<Bucket>(_buckets.Count / 2 + 1);
        for (int i = 0; i < _buckets.Count; i += 2)
        {
            if (i + 1 == _buckets.Count) { merged.Add(_buckets[i]); break; }
            Bucket a = _buckets[i], b = _buckets[i + 1];
            merged.Add(new Bucket
            {
                Min = b.Min.Y < a.Min.Y ? b.Min : a.Min, Max = b.Max.Y >= a.Max.Y ? b.Max : a.Max, Last = b.Last, Count = a.Count + b.Count,
            });
        }
        _buckets.Clear();
        _buckets.AddRange(merged);
        _width *= 2;
        Generation++;
    }

    /// <summary>The points to draw, in x order: at most <see cref="Budget"/>, the latest point always included.</summary>
    public IReadOnlyList<ChartPoint> Points() => Snapshot().Points;

    /// <summary>
    /// <see cref="Points"/> with how many of them are stable: the first <see cref="SeriesSnapshot.Stable"/>
    /// points stay as they are until the next merge (a new <see cref="Generation"/>); only the rest (the
    /// newest bucket, at most 3 points) may change when a point is added.
    /// </summary>
    public SeriesSnapshot Snapshot()
    {
        int stable = 0;
        var points = new List<ChartPoint>(Math.Min(Budget, _buckets.Count * 2 + 1));
        for (int i = 0; i < _buckets.Count; i++)
        {
            var b = _buckets[i];
            var (first, second) = b.Min.X <= b.Max.X ? (b.Min, b.Max) : (b.Max, b.Min);
            points.Add(first);
            if (second != first) points.Add(second);
            if (i == _buckets.Count - 1 && b.Last != second && b.Last != first) points.Add(b.Last);
            if (i == _buckets.Count - 2) stable = points.Count;
        }
        return new SeriesSnapshot(points, stable, Generation);
    }
}

/// <summary>A series' drawn points; the first <paramref name="Stable"/> stay until <paramref name="Generation"/> changes.</summary>
public readonly record struct SeriesSnapshot(IReadOnlyList<ChartPoint> Points, int Stable, int Generation);

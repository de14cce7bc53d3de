namespace NASiam.Core.Data;

/// <summary>
/// Shuffled mini-batches of indices from an <see cref="IndexRange"/>. Epoch e's order depends only
/// on (seed, stream, e), so a run resumed at epoch e sees exactly the order it would have seen.
/// The permutation is a Fisher–Yates shuffle driven by SplitMix64 in C#: identical on every
/// platform and device, independent of torch's generator. Without drop_last the last partial batch
/// is kept, except a last batch of a single sample, which is dropped (for batch sizes above 1):
/// batch statistics of one sample are undefined (a BatchNorm in training turns its unbiased
/// variance, 0/0, into NaN running statistics; PyTorch's Python layer refuses such a batch, so the
/// reference's training would fail there), e.g. 1,025 images at batch 128 give 8 batches, not 9.
/// </summary>
public sealed class BatchProvider
{
    /// <summary>
    /// The contiguous range the batches are drawn from; for a provider over an explicit index list
    /// (<see cref="Indices"/> not null) it is [0, count), the positions in that list.
    /// </summary>
    public IndexRange Range { get; }
    /// <summary>The explicit (absolute) indices the batches are drawn from, or null for a contiguous <see cref="Range"/>.</summary>
    public IReadOnlyList<long>? Indices => _indices;
    public int BatchSize { get; }
    public bool DropLast { get; }
    public long Seed { get; }
    /// <summary>Separates independent orders drawn from the same seed (e.g. weights = 0, alphas = 1).</summary>
    public int Stream { get; }

    readonly long[]? _indices;

    public BatchProvider(IndexRange range, int batchSize, long seed, int stream = 0, bool dropLast = true)
    {
        if (batchSize < 1) throw new ArgumentException($"Batch size must be positive; got {batchSize}.");
        if (range.Count < 1) throw new ArgumentException($"Index range [{range.Start}, {range.End}) is empty.");
        if (dropLast && range.Count < batchSize)
            throw new ArgumentException($"Batch size {batchSize} is larger than the {range.Count} images available; with drop_last there would be no batch.");
        if (!dropLast && range.Count == 1 && batchSize > 1)
            throw new ArgumentException($"Index range [{range.Start}, {range.End}) holds a single image; a training batch needs at least 2 (batch statistics of one sample are undefined).");
        (Range, BatchSize, DropLast, Seed, Stream) = (range, batchSize, dropLast, seed, stream);
    }

    /// <summary>
    /// Batches over an explicit list of absolute indices (e.g. a class-balanced subset, <see cref="SearchSplit.Balanced"/>):
    /// each epoch shuffles the list's positions exactly as the range form shuffles its range and
    /// yields the indices at them. The list is copied; duplicates are refused.
    /// </summary>
    public BatchProvider(IReadOnlyList<long> indices, int batchSize, long seed, int stream = 0, bool dropLast = true)
        : this(new IndexRange(0, indices?.Count ?? 0), batchSize, seed, stream, dropLast)
    {
        _indices = indices!.ToArray();
        if (_indices.Distinct().Count() != _indices.Length) throw new ArgumentException("A batch provider's index list holds duplicates.");
        if (_indices.Any(i => i < 0)) throw new ArgumentException("A batch provider's index list holds a negative index.");
    }

    /// <summary>
    /// Batches per epoch: floor(N / B) with drop_last, else ceil(N / B) less one when the last batch
    /// would hold a single sample (N mod B = 1, B &gt; 1).
    /// </summary>
    public int BatchesPerEpoch => (int)(DropLast || (BatchSize > 1 && Range.Count % BatchSize == 1)
        ? Range.Count / BatchSize
        : (Range.Count + BatchSize - 1) / BatchSize);

    /// <summary>Samples one epoch visits: N less what drop_last or the single-sample rule leaves out.</summary>
    public long SamplesPerEpoch => Math.Min(Range.Count, (long)BatchesPerEpoch * BatchSize);

    /// <summary>The shuffled indices of pass <paramref name="epoch"/> (absolute: inside <see cref="Range"/>, or drawn from <see cref="Indices"/>).</summary>
    public long[] Permutation(long epoch)
    {
        var order = new long[Range.Count];
        for (long i = 0; i < order.Length; i++) order[i] = Range.Start + i;
        SplitMix.Shuffle(order, SplitMix.Seed(Seed, Stream, epoch));
        if (_indices is not null)
            for (long i = 0; i < order.Length; i++) order[i] = _indices[order[i]];
        return order;
    }

    /// <summary>The batches of one epoch, in order (the last partial batch dropped when <see cref="DropLast"/> or when it would hold one sample).</summary>
    public IEnumerable<long[]> Epoch(long epoch, int startBatch = 0)
    {
        var order = Permutation(epoch);
        for (int b = startBatch; b < BatchesPerEpoch; b++)
        {
            var start = (long)b * BatchSize;
            var length = (int)Math.Min(BatchSize, order.Length - start);
            yield return order.AsSpan((int)start, length).ToArray();
        }
    }

    /// <summary>A cycling iterator over this range, starting at <paramref name="state"/> (or the beginning).</summary>
    public CyclingBatchIterator Cycle(CyclingIteratorState? state = null) => new(this, state ?? default);
}

/// <summary>Position of a <see cref="CyclingBatchIterator"/>: small, serialisable, saved in checkpoints.</summary>
public readonly record struct CyclingIteratorState(long Pass, int NextBatch);

/// <summary>
/// Endless source of batches for the architecture (alpha) step: walks shuffled passes of its
/// provider one after another. Created once per stage, not per step (the reference re-created
/// its loader iterator every step); <see cref="State"/> restores it exactly on resume.
/// Not thread-safe.
/// </summary>
public sealed class CyclingBatchIterator
{
    readonly BatchProvider _provider;
    long[]? _order;
    long _orderPass = -1;

    public CyclingIteratorState State { get; private set; }

    internal CyclingBatchIterator(BatchProvider provider, CyclingIteratorState state)
    {
        if (state.Pass < 0 || state.NextBatch < 0 || state.NextBatch > provider.BatchesPerEpoch)
            throw new ArgumentException($"Cycling iterator state {state} is outside {provider.BatchesPerEpoch} batches per pass.");
        _provider = provider;
        State = state;
    }

    /// <summary>The next batch of absolute indices; moves to a freshly shuffled pass at the end of one.</summary>
    public long[] Next()
    {
        var s = State;
        if (s.NextBatch >= _provider.BatchesPerEpoch) s = new CyclingIteratorState(s.Pass + 1, 0);
        if (_orderPass != s.Pass) { _order = _provider.Permutation(s.Pass); _orderPass = s.Pass; }
        var start = s.NextBatch * _provider.BatchSize;
        var length = (int)Math.Min(_provider.BatchSize, _order!.Length - start);
        State = s with { NextBatch = s.NextBatch + 1 };
        return _order.AsSpan(start, length).ToArray();
    }
}

/// <summary>SplitMix64: a tiny, well-mixed deterministic generator for index shuffles.</summary>
static class SplitMix
{
    public static ulong Seed(long seed, int stream, long epoch)
    {
        var s = (ulong)seed;
        s = Mix(s ^ 0x9E3779B97F4A7C15UL * (ulong)(stream + 1));
        return Mix(s ^ (ulong)epoch * 0xD1B54A32D192ED03UL);
    }

    public static ulong Next(ref ulong state) => Mix(state += 0x9E3779B97F4A7C15UL);

    /// <summary>Fisher–Yates shuffle of <paramref name="items"/> in place from <paramref name="state"/>.</summary>
    public static void Shuffle(long[] items, ulong state)
    {
        for (long i = items.Length - 1; i > 0; i--)
        {
            var j = (long)(Next(ref state) % (ulong)(i + 1));
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}

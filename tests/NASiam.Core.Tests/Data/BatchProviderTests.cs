using NASiam.Core.Data;

namespace NASiam.Core.Tests.Data;

public class BatchProviderTests
{
    [Fact]
    public void Epoch_CoversTheRangeOnce_DroppingTheLastPartialBatch()
    {
        var p = new BatchProvider(new IndexRange(10, 103), batchSize: 10, seed: 5);
        var batches = p.Epoch(0).ToList();
        Assert.Equal(10, batches.Count);
        Assert.All(batches, b => Assert.Equal(10, b.Length));
        var seen = batches.SelectMany(b => b).ToList();
        Assert.Equal(100, seen.Distinct().Count());
        Assert.All(seen, i => Assert.InRange(i, 10, 112));
    }

    [Fact]
    public void Epoch_KeepsThePartialBatch_WhenNotDropLast()
    {
        var p = new BatchProvider(new IndexRange(0, 25), batchSize: 10, seed: 1, dropLast: false);
        var batches = p.Epoch(3).ToList();
        Assert.Equal(3, batches.Count);
        Assert.Equal(5, batches[2].Length);
        Assert.Equal(Enumerable.Range(0, 25).Select(i => (long)i), batches.SelectMany(b => b).Order());
    }

    [Theory]
    [InlineData(1025, 128, 8, 128)]   // 1,025 = 8·128 + 1: the single last image is dropped
    [InlineData(1026, 128, 9, 2)]     // a last batch of 2 is kept
    [InlineData(21, 10, 2, 10)]
    [InlineData(5, 1, 5, 1)]          // batch size 1 was asked for: every batch has one sample
    public void Epoch_NeverEndsInASingleSampleBatch_WhenNotDropLast(int n, int batchSize, int batches, int lastLength)
    {
        var p = new BatchProvider(new IndexRange(0, n), batchSize, seed: 3, stream: 3, dropLast: false);
        Assert.Equal(batches, p.BatchesPerEpoch);
        foreach (var epoch in new[] { 0, 1 })
        {
            var list = p.Epoch(epoch).ToList();
            Assert.Equal(batches, list.Count);
            Assert.Equal(lastLength, list[^1].Length);
            Assert.Equal(p.SamplesPerEpoch, list.Sum(b => b.Length));
            Assert.Equal(list.SelectMany(b => b).Count(), list.SelectMany(b => b).Distinct().Count());
        }
        var cycle = p.Cycle();
        for (int i = 0; i < 2 * batches; i++) Assert.True(cycle.Next().Length > 1 || batchSize == 1);
        Assert.Equal(new CyclingIteratorState(1, batches), cycle.State);
        var e = Assert.Throws<ArgumentException>(() => new BatchProvider(new IndexRange(4, 1), 8, seed: 0, dropLast: false));
        Assert.Contains("single image", e.Message);
    }

    [Fact]
    public void Epoch_IsAFunctionOfSeedAndEpoch()
    {
        var a = new BatchProvider(new IndexRange(0, 64), 8, seed: 42);
        var b = new BatchProvider(new IndexRange(0, 64), 8, seed: 42);
        Assert.Equal(a.Epoch(2).SelectMany(x => x), b.Epoch(2).SelectMany(x => x));
        Assert.NotEqual(a.Epoch(2).SelectMany(x => x), a.Epoch(3).SelectMany(x => x));
        Assert.NotEqual(a.Epoch(2).SelectMany(x => x), new BatchProvider(new IndexRange(0, 64), 8, seed: 43).Epoch(2).SelectMany(x => x));
        Assert.NotEqual(a.Epoch(0).SelectMany(x => x), Enumerable.Range(0, 64).Select(i => (long)i));
        // Resuming mid-epoch gives the remaining batches of the same order.
        Assert.Equal(a.Epoch(2).Skip(3).SelectMany(x => x), a.Epoch(2, startBatch: 3).SelectMany(x => x));
    }

    [Fact]
    public void Cycle_WalksFreshPasses_AndResumesFromItsState()
    {
        var p = new BatchProvider(new IndexRange(100, 30), 10, seed: 9, stream: 1);
        var it = p.Cycle();
        var first = Enumerable.Range(0, 7).Select(_ => it.Next()).ToList();
        Assert.Equal(p.Epoch(0).Concat(p.Epoch(1)).Concat(p.Epoch(2)).Take(7).SelectMany(x => x), first.SelectMany(x => x));
        var state = it.State;
        Assert.Equal(new CyclingIteratorState(2, 1), state);
        var continued = Enumerable.Range(0, 5).Select(_ => it.Next()).SelectMany(x => x).ToList();
        var resumed = p.Cycle(state);
        Assert.Equal(continued, Enumerable.Range(0, 5).Select(_ => resumed.Next()).SelectMany(x => x));
    }

    [Fact]
    public void Constructor_Rejects_BatchLargerThanRange_WithDropLast()
    {
        var e = Assert.Throws<ArgumentException>(() => new BatchProvider(new IndexRange(0, 5), 8, seed: 0));
        Assert.Contains("larger than the 5 images", e.Message);
    }

    [Fact]
    public void SearchSplit_TakesTheFirstPortionForWeights()
    {
        var s = SearchSplit.Compute(50_000, 0.5);
        Assert.Equal(new IndexRange(0, 25_000), s.Weights);
        Assert.Equal(new IndexRange(25_000, 25_000), s.Alphas);
        var q = SearchSplit.Compute(1001, 0.3, quarterOfTrain: true);
        Assert.Equal(new IndexRange(0, 75), q.Weights);
        Assert.Equal(new IndexRange(75, 175), q.Alphas);
        Assert.Throws<ArgumentException>(() => SearchSplit.Compute(1, 0.5));
        Assert.Throws<ArgumentException>(() => SearchSplit.Compute(100, 1.0));
    }

    [Fact]
    public void Balanced_DrawsARandomClassBalancedQuarter_WithEveryClassInBothHalves()
    {
        // 4 classes of 40, 40, 80, 8 images, class-sorted as an ImageNet folder is.
        var labels = new[] { (0L, 40), (1L, 40), (2L, 80), (3L, 8) }.SelectMany(c => Enumerable.Repeat(c.Item1, c.Item2)).ToList();
        var s = SearchSplit.Balanced(labels, 0.25, 0.5, seed: 7);
        long[] Count(long[] idx, long c) => [idx.Count(i => labels[(int)i] == c)];
        Assert.Equal(new long[] { 5, 5, 10, 1 }, Enumerable.Range(0, 4).SelectMany(c => Count(s.Weights, c)));
        Assert.Equal(new long[] { 5, 5, 10, 1 }, Enumerable.Range(0, 4).SelectMany(c => Count(s.Alphas, c)));
        Assert.Empty(s.Weights.Intersect(s.Alphas));
        Assert.Equal(s.Weights.Order(), s.Weights);
        // Random, not a prefix of each class, and a function of the seed.
        Assert.NotEqual(Enumerable.Range(0, 5).Select(i => (long)i), s.Weights.Take(5));
        Assert.Equal(s.Weights, SearchSplit.Balanced(labels, 0.25, 0.5, seed: 7).Weights);
        Assert.NotEqual(s.Weights, SearchSplit.Balanced(labels, 0.25, 0.5, seed: 8).Weights);
        // The reference's first quarter by index (42 of 168) holds only the first classes: weights all class 0, classes 2 and 3 absent.
        var q = SearchSplit.Compute(labels.Count, 0.5, quarterOfTrain: true);
        var quarter = Enumerable.Range(0, (int)(q.Weights.Count + q.Alphas.Count)).Select(i => labels[i]).ToList();
        Assert.Equal(42, quarter.Count);
        Assert.Equal([0L, 1L], quarter.Distinct());
        Assert.All(Enumerable.Range(0, (int)q.Weights.Count), i => Assert.Equal(0, labels[i]));
        Assert.Throws<ArgumentException>(() => SearchSplit.Balanced([0, 1], 0.25, 0.5, 0));

        // Too few images per class: the message says which split is empty, what a class needs, and the option to change.
        var small = new[] { 0L, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2 }; // 5 per class: a quarter is 1 image, half of it none
        var e = Assert.Throws<ArgumentException>(() => SearchSplit.Balanced(small, 0.25, 0.5, 0));
        Assert.Equal("search.trainPortion 0.5 of a class-balanced 0.25 of 15 images (3 classes; the search draws that share of every class, doc 5.1) " +
                     "leaves the weight split empty: a class needs at least 8 images for both splits to get one. Use more images per class or another search.trainPortion.", e.Message);
        var eight = Enumerable.Repeat(0L, 8).Concat(Enumerable.Repeat(1L, 8)).ToList(); // the 8 it names are enough
        var fits = SearchSplit.Balanced(eight, 0.25, 0.5, 0);
        Assert.Equal((2, 2), (fits.Weights.Length, fits.Alphas.Length));
        Assert.Contains("leaves the weight split empty", Assert.Throws<ArgumentException>(() => SearchSplit.Compute(1, 0.5)).Message);
    }

    [Fact]
    public void Providers_OverAnIndexList_DrawOnlyThoseIndices_AndFollowTheCompatSwitch()
    {
        var provider = new BatchProvider([3, 9, 27, 81, 243], batchSize: 2, seed: 1);
        Assert.Equal(2, provider.BatchesPerEpoch);
        var seen = provider.Epoch(0).SelectMany(b => b).ToList();
        Assert.Equal(4, seen.Distinct().Count());
        Assert.All(seen, i => Assert.Contains(i, new long[] { 3, 9, 27, 81, 243 }));
        Assert.Equal(provider.Permutation(4), new BatchProvider([3, 9, 27, 81, 243], 2, seed: 1).Permutation(4));
        Assert.Throws<ArgumentException>(() => new BatchProvider([1, 1, 2], 1, 0));

        using var synthetic = SyntheticShapes.Open(400, 0, 32);
        var (w, a) = SearchSplit.Providers(synthetic, 0.5, imageNetStyle: false, firstQuarterByIndex: false, batchSize: 10, seed: 0);
        Assert.Equal((new IndexRange(0, 200), new IndexRange(200, 200)), (w.Range, a.Range));
        Assert.Null(w.Indices);
    }
}

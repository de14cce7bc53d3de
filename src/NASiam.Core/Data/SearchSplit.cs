namespace NASiam.Core.Data;

/// <summary>
/// A contiguous index range [Start, Start + Count) of a data set's train split.
/// </summary>
public readonly record struct IndexRange(long Start, long Count)
{
    public long End => Start + Count;
}

/// <summary>
/// The search stage's split of the train split (method doc 5.1): num_train = |train| (a quarter
/// for ImageNet-style folders), split = floor(train_portion · num_train); weights train on
/// [0, split), alphas on [split, num_train). Taking index prefixes is only unbiased when the
/// indices are not class-sorted: CIFAR files and the synthetic set are shuffled, so both halves
/// hold every class; an ImageNet folder is class-sorted, so its prefix quarter holds the first
/// quarter of the classes and its halves disjoint classes, as in the reference (D20; kept behind
/// compat switch <c>Compat.ImageNetSearchFirstQuarter</c>). <see cref="Balanced"/> is the fix: a
/// random, class-balanced subset.
/// </summary>
public sealed partial record SearchSplit(IndexRange Weights, IndexRange Alphas)
{
    /// <summary>The two halves' image counts (weights ⌊train_portion · num_train⌋, alphas the rest), unchecked: <see cref="Compute"/>'s arithmetic, for checks made before any data is read.</summary>
    public static (long Weights, long Alphas) Sizes(long trainCount, double trainPortion, bool quarterOfTrain = false)
    {
        var numTrain = quarterOfTrain ? trainCount / 4 : trainCount;
        var split = (long)Math.Floor(trainPortion * numTrain);
        return (split, numTrain - split);
    }

    /// <summary>Computes the split; both halves must hold at least one image.</summary>
    public static SearchSplit Compute(long trainCount, double trainPortion, bool quarterOfTrain = false)
    {
        if (!(trainPortion > 0 && trainPortion < 1))
            throw new ArgumentException($"train_portion must be in (0, 1); got {trainPortion}.");
        var (split, alphas) = Sizes(trainCount, trainPortion, quarterOfTrain);
        var numTrain = split + alphas;
        if (split < 1 || alphas < 1)
            throw new ArgumentException($"search.trainPortion {trainPortion} of {numTrain} images leaves the {(split < 1 ? "weight" : "architecture")} split empty; " +
                                        "use more training images or another search.trainPortion (doc 5.1).");
        return new SearchSplit(new IndexRange(0, split), new IndexRange(split, numTrain - split));
    }
}

/// <summary>A search split over explicit train indices (ascending): weights and alphas are disjoint.</summary>
public sealed record SearchIndices(long[] Weights, long[] Alphas)
{
    /// <summary>The two batch providers of the search stage (streams 0 and 1, drop_last), as the range form gets them.</summary>
    public (BatchProvider Weights, BatchProvider Alphas) Providers(int batchSize, long seed) =>
        (new BatchProvider(Weights, batchSize, seed, stream: 0), new BatchProvider(Alphas, batchSize, seed, stream: 1));
}

public sealed partial record SearchSplit
{
    /// <summary>The share of an ImageNet-style folder's train split a search draws from (doc 5.1: a quarter).</summary>
    public const double FolderSearchFraction = 0.25;

    /// <summary>
    /// The search stage's weight and alpha batch providers (streams 0 and 1, drop_last) for a data
    /// set. An ImageNet-style folder searches on a quarter of its train split: by default the random,
    /// class-balanced <see cref="Balanced"/> quarter (seeded by <paramref name="seed"/>); with
    /// <paramref name="firstQuarterByIndex"/> (compat D20) the reference's first quarter by index,
    /// i.e. the first quarter of the sorted classes. Other sets split their whole (shuffled) train split by index.
    /// </summary>
    public static (BatchProvider Weights, BatchProvider Alphas) Providers(IImageDataSet data, double trainPortion, bool imageNetStyle,
        bool firstQuarterByIndex, int batchSize, long seed)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (imageNetStyle && !firstQuarterByIndex && data is ImageFolderDataSet folder)
            return Balanced(folder.TrainImages.Select(i => i.Label).ToList(), FolderSearchFraction, trainPortion, seed).Providers(batchSize, seed);
        var split = Compute(data.TrainCount, trainPortion, imageNetStyle);
        return (new BatchProvider(split.Weights, batchSize, seed, stream: 0), new BatchProvider(split.Alphas, batchSize, seed, stream: 1));
    }

    /// <summary>
    /// The D20 fix: a random, class-balanced search subset. From every class c (labels[i] is image
    /// i's class) it draws, by a seeded shuffle that depends only on (seed, c), ⌊fraction·|c|⌋ images
    /// — at least one while the class has any — and gives ⌊train_portion·n_c⌋ of them to the
    /// weights, the rest to the alphas, so both halves hold every class in the same proportions.
    /// <paramref name="fraction"/> is 0.25 for ImageNet (the reference's quarter). Throws
    /// <see cref="ArgumentException"/> when a half would be empty.
    /// </summary>
    /// <summary>
    /// One class's share of <see cref="Balanced"/>: it takes ⌊fraction·size⌋ images (at least 1), of which
    /// ⌊trainPortion·take⌋ go to the weights and the rest to the alphas. Seed-independent, so the split's sizes
    /// are known from the class sizes alone (<see cref="BalancedSizes"/>).
    /// </summary>
    static (int Take, int ToWeights) ClassShare(int classSize, double fraction, double trainPortion)
    {
        var take = Math.Max(1, (int)Math.Floor(fraction * classSize));
        return (take, (int)Math.Floor(trainPortion * take));
    }

    /// <summary>The (weights, alphas) image counts <see cref="Balanced"/> gives for classes of these sizes, without drawing it.</summary>
    public static (long Weights, long Alphas) BalancedSizes(IEnumerable<int> classSizes, double fraction, double trainPortion)
    {
        long weights = 0, alphas = 0;
        foreach (var size in classSizes.Where(n => n > 0))
        {
            var (take, toWeights) = ClassShare(size, fraction, trainPortion);
            weights += toWeights;
            alphas += take - toWeights;
        }
        return (weights, alphas);
    }

    public static SearchIndices Balanced(IReadOnlyList<long> labels, double fraction, double trainPortion, long seed)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (!(fraction > 0 && fraction <= 1)) throw new ArgumentException($"The search subset fraction must be in (0, 1]; got {fraction}.");
        if (!(trainPortion > 0 && trainPortion < 1)) throw new ArgumentException($"train_portion must be in (0, 1); got {trainPortion}.");
        var weights = new List<long>();
        var alphas = new List<long>();
        var byClass = new SortedDictionary<long, List<long>>();
        for (int i = 0; i < labels.Count; i++)
        {
            if (!byClass.TryGetValue(labels[i], out var list)) byClass[labels[i]] = list = [];
            list.Add(i);
        }
        foreach (var (label, members) in byClass)
        {
            var shuffled = members.ToArray();
            SplitMix.Shuffle(shuffled, SplitMix.Seed(seed, 20, label));
            var (take, toWeights) = ClassShare(shuffled.Length, fraction, trainPortion);
            weights.AddRange(shuffled.Take(toWeights));
            alphas.AddRange(shuffled.Skip(toWeights).Take(take - toWeights));
        }
        if (weights.Count == 0 || alphas.Count == 0)
        {
            // The smallest class size whose subset gives both halves an image: take = ⌊fraction·n⌋ must reach 1/min(p, 1 − p).
            int needTake = (int)Math.Ceiling(1 / Math.Min(trainPortion, 1 - trainPortion) - 1e-9);
            int needClass = (int)Math.Ceiling(needTake / fraction - 1e-9);
            throw new ArgumentException(
                $"search.trainPortion {trainPortion} of a class-balanced {fraction:0.##} of {labels.Count} images ({byClass.Count} classes; the search draws " +
                $"that share of every class, doc 5.1) leaves the {(weights.Count == 0 ? "weight" : "architecture")} split empty: a class needs at least " +
                $"{needClass} images for both splits to get one. Use more images per class or another search.trainPortion.");
        }
        weights.Sort();
        alphas.Sort();
        return new SearchIndices(weights.ToArray(), alphas.ToArray());
    }
}

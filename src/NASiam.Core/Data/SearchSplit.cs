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
/// hold every class; an ImageNet folder is class-sorted, so its halves hold disjoint classes, as
/// in the reference.
/// </summary>
public sealed record SearchSplit(IndexRange Weights, IndexRange Alphas)
{
    /// <summary>Computes the split; both halves must hold at least one image.</summary>
    public static SearchSplit Compute(long trainCount, double trainPortion, bool quarterOfTrain = false)
    {
        if (!(trainPortion > 0 && trainPortion < 1))
            throw new ArgumentException($"train_portion must be in (0, 1); got {trainPortion}.");
        var numTrain = quarterOfTrain ? trainCount / 4 : trainCount;
        var split = (long)Math.Floor(trainPortion * numTrain);
        if (split < 1 || numTrain - split < 1)
            throw new ArgumentException($"train_portion {trainPortion} of {numTrain} images leaves an empty weight or alpha split.");
        return new SearchSplit(new IndexRange(0, split), new IndexRange(split, numTrain - split));
    }
}

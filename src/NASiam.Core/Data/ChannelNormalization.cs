namespace NASiam.Core.Data;

/// <summary>
/// Per-channel (R, G, B) mean and standard deviation on the [0, 1] pixel scale, applied as
/// (x - mean) / std after augmentation (method doc 6.3).
/// </summary>
public sealed record ChannelNormalization(double[] Mean, double[] Std)
{
    /// <summary>CIFAR-10 constants used by SimSiam and MoCo.</summary>
    public static ChannelNormalization Cifar10 { get; } = new(
        [0.49139968, 0.48215827, 0.44653124], [0.24703233, 0.24348505, 0.26158768]);

    /// <summary>CIFAR-100 constants used by SimSiam and MoCo.</summary>
    public static ChannelNormalization Cifar100 { get; } = new(
        [0.50707519, 0.48654887, 0.44091785], [0.26733428, 0.25643846, 0.27615049]);

    /// <summary>SimCLR's constants, the same for both CIFARs.</summary>
    public static ChannelNormalization SimClrCifar { get; } = new([0.4914, 0.4822, 0.4465], [0.2023, 0.1994, 0.2010]);

    /// <summary>ImageNet constants (also used for image folders).</summary>
    public static ChannelNormalization ImageNet { get; } = new([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]);

    /// <summary>
    /// The constants a framework uses for a data set: SimCLR replaces the CIFAR constants with its own
    /// (method doc 6.3); other data sets keep <paramref name="dataSetDefault"/>.
    /// </summary>
    public static ChannelNormalization For(Framework framework, string dataSetName, ChannelNormalization dataSetDefault) =>
        framework == Framework.SimClr && dataSetName is "cifar10" or "cifar100" ? SimClrCifar : dataSetDefault;

    /// <summary>Throws <see cref="ArgumentException"/> unless there are 3 means and 3 positive stds.</summary>
    public ChannelNormalization EnsureValid()
    {
        if (Mean.Length != 3 || Std.Length != 3)
            throw new ArgumentException($"Normalization needs 3 means and 3 stds (got {Mean.Length} and {Std.Length}).");
        if (Std.Any(s => !(s > 0)))
            throw new ArgumentException($"Normalization stds must be positive (got {string.Join(", ", Std)}).");
        return this;
    }
}

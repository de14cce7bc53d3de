namespace NASiam.Core.Backbones;

/// <summary>Builds backbone trunks by name: resnet-tiny, resnet18, resnet50 (method doc 3).</summary>
public static class BackboneFactory
{
    /// <summary>Names accepted by <see cref="Create"/>.</summary>
    public static readonly IReadOnlyList<string> Names = ["resnet-tiny", "resnet18", "resnet50"];

    /// <summary>The architecture of a named backbone.</summary>
    public static ResNetConfig Config(string name) => Normalise(name) switch
    {
        // CPU demos and tests: ResNet-18's block structure, one block per stage, 16/32/64/128 wide (D = 128).
        "resnet-tiny" => new("resnet-tiny", BlockKind.Basic, [1, 1, 1, 1], [16, 32, 64, 128]),
        "resnet18" => new("resnet18", BlockKind.Basic, [2, 2, 2, 2], [64, 128, 256, 512]),
        "resnet50" => new("resnet50", BlockKind.Bottleneck, [3, 4, 6, 3], [64, 128, 256, 512]),
        _ => throw new ArgumentException($"Unknown backbone '{name}'. Valid backbones: {string.Join(", ", Names)}."),
    };

    /// <summary>
    /// A fresh trunk on the CPU. <paramref name="cifarStem"/>: 3x3 stride-1 stem without max-pool
    /// (32-pixel inputs); otherwise the ImageNet stem (224-pixel inputs).
    /// </summary>
    public static ResNet Create(string name, bool cifarStem = true, bool zeroInitResidual = false) =>
        new(Config(name), cifarStem, zeroInitResidual);

    static string Normalise(string name) => name.Trim().ToLowerInvariant() switch
    {
        "resnet_tiny" or "resnettiny" or "tiny" => "resnet-tiny",
        "resnet-18" => "resnet18",
        "resnet-50" => "resnet50",
        var n => n,
    };
}

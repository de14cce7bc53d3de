using System.Text.Json.Serialization;
using NASiam.Core.Options;

namespace NASiam.Core;

/// <summary>The siamese self-supervised framework whose heads are searched.</summary>
public enum Framework
{
    /// <summary>SimSiam: projector cell (6 layers) and predictor cell (4 layers), negative cosine + stop-gradient.</summary>
    [JsonStringEnumMemberName("simsiam"), EnumAlias("sim-siam")] SimSiam,
    /// <summary>MoCo v2: projector cell (4 layers) before fc(→128), momentum key encoder, queue, InfoNCE.</summary>
    [JsonStringEnumMemberName("moco"), EnumAlias("mo-co"), EnumAlias("mocov2"), EnumAlias("moco-v2")] MoCo,
    /// <summary>SimCLR: projection-head cell (6 layers, 2048→512→128; genotype field "predictor"), NT-Xent.</summary>
    [JsonStringEnumMemberName("simclr"), EnumAlias("sim-clr")] SimClr,
}

/// <summary>Parsing and display names of <see cref="Framework"/> (the table is <see cref="EnumNames"/>).</summary>
public static class FrameworkNames
{
    /// <summary>Lower-case name used in options, files, the API and the CLI: simsiam, moco, simclr.</summary>
    public static string ToName(this Framework f) => EnumNames.Name(f);

    /// <summary>The name in prose, as the papers write it: SimSiam, MoCo, SimCLR.</summary>
    public static string DisplayName(this Framework f) => f switch
    {
        Framework.SimSiam => "SimSiam", Framework.MoCo => "MoCo", Framework.SimClr => "SimCLR", _ => f.ToName(),
    };

    /// <summary>Parses simsiam | moco | mocov2 | simclr (case-insensitive).</summary>
    public static bool TryParse(string? text, out Framework framework) => EnumNames.TryParse(text, out framework);

    /// <summary>Parses or throws <see cref="ArgumentException"/> listing the valid names.</summary>
    public static Framework Parse(string? text) =>
        TryParse(text, out var f) ? f
            : throw new ArgumentException($"Unknown framework '{text}'. Valid: {string.Join(", ", EnumNames.All<Framework>())}.");
}

namespace NASiam.Core;

/// <summary>The siamese self-supervised framework whose heads are searched.</summary>
public enum Framework
{
    /// <summary>SimSiam: projector cell (6 layers) and predictor cell (4 layers), negative cosine + stop-gradient.</summary>
    SimSiam,
    /// <summary>MoCo v2: projector cell (4 layers) before fc(→128), momentum key encoder, queue, InfoNCE.</summary>
    MoCo,
    /// <summary>SimCLR: projection-head cell (6 layers, 2048→512→128; genotype field "predictor"), NT-Xent.</summary>
    SimClr,
}

/// <summary>Parsing and display names of <see cref="Framework"/>.</summary>
public static class FrameworkNames
{
    /// <summary>Lower-case name used in options, files and the CLI: simsiam, moco, simclr.</summary>
    public static string ToName(this Framework f) => f switch
    {
        Framework.SimSiam => "simsiam",
        Framework.MoCo => "moco",
        Framework.SimClr => "simclr",
        _ => throw new ArgumentOutOfRangeException(nameof(f)),
    };

    /// <summary>Parses simsiam | moco | mocov2 | simclr (case-insensitive).</summary>
    public static bool TryParse(string? text, out Framework framework)
    {
        switch (text?.Trim().ToLowerInvariant())
        {
            case "simsiam": framework = Framework.SimSiam; return true;
            case "moco": case "mocov2": case "moco-v2": framework = Framework.MoCo; return true;
            case "simclr": framework = Framework.SimClr; return true;
            default: framework = default; return false;
        }
    }

    /// <summary>Parses or throws <see cref="ArgumentException"/> listing the valid names.</summary>
    public static Framework Parse(string? text) =>
        TryParse(text, out var f) ? f
            : throw new ArgumentException($"Unknown framework '{text}'. Valid: simsiam, moco, simclr.");
}

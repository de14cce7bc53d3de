using NASiam.Core.Reporting;

namespace NASiam.Core.Engine.Runs;

/// <summary>How one stage ended and what it produced.</summary>
public sealed record StageResult
{
    public required string Stage { get; init; }
    public required RunOutcome Outcome { get; init; }
    public string? Message { get; init; }
    public IReadOnlyDictionary<string, double> Metrics { get; init; } = new Dictionary<string, double>();
    /// <summary>Searched genotype (search) or the genotype trained (pretrain), reference text; null for baseline heads.</summary>
    public string? GenotypeText { get; init; }
    /// <summary>The stage's last checkpoint (relative to the output directory).</summary>
    public string? Checkpoint { get; init; }
    /// <summary>The kNN-best checkpoint (pretrain), relative to the output directory.</summary>
    public string? BestCheckpoint { get; init; }
    /// <summary>The checkpoint the stage read (lincls: the evaluated backbone), relative to the output directory; null = none or the previous stage's output.</summary>
    public string? Input { get; init; }
}

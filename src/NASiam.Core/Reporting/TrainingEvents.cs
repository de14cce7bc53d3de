using NASiam.Core.Genotypes;

namespace NASiam.Core.Reporting;

/// <summary>
/// Everything the engine reports while a run works. Plain data only: no tensor ever leaves the
/// engine. <see cref="Sequence"/> increases by one per event within a run (0-based), so
/// consumers can de-duplicate and detect gaps. <see cref="Stage"/> is search | pretrain | lincls.
/// </summary>
public abstract record TrainingEvent
{
    public required Guid RunId { get; init; }
    public required long Sequence { get; init; }
    public required DateTimeOffset At { get; init; }
    public required string Stage { get; init; }
    /// <summary>Stable discriminator written as "type" in metrics.jsonl and on the wire.</summary>
    public abstract string Type { get; }
}

/// <summary>A stage started; <see cref="TotalSteps"/> is the planned number of weight steps.</summary>
public sealed record StageStarted : TrainingEvent
{
    public override string Type => "stage_started";
    public required int TotalEpochs { get; init; }
    public required long TotalSteps { get; init; }
    public required int StepsPerEpoch { get; init; }
    /// <summary>Step the stage resumes from (0 for a fresh start).</summary>
    public long ResumedAtStep { get; init; }
    public string? Device { get; init; }
}

/// <summary>Per weight step: loss and learning rates (one entry per optimizer group, plus "alpha").</summary>
public sealed record StepLogged : TrainingEvent
{
    public override string Type => "step";
    public required int Epoch { get; init; }
    public required long Step { get; init; }
    public required double Loss { get; init; }
    /// <summary>Loss of the architecture step on the held-out batch (search only).</summary>
    public double? ArchLoss { get; init; }
    public required IReadOnlyDictionary<string, double> LearningRates { get; init; }
}

/// <summary>One layer's softmax alpha row with its summary statistics.</summary>
public sealed record AlphaLayer(
    int Layer, IReadOnlyList<double> Weights, string Winner, double Entropy, double Margin);

/// <summary>Softmax alphas of one search cell ("encoder" or "predictor").</summary>
public sealed record CellAlphas(string Cell, IReadOnlyList<string> Operations, IReadOnlyList<AlphaLayer> Layers);

/// <summary>Every N steps during search: softmax alphas of every cell and the current argmax genotype.</summary>
public sealed record AlphasLogged : TrainingEvent
{
    public override string Type => "alphas";
    public required int Epoch { get; init; }
    public required long Step { get; init; }
    public required IReadOnlyList<CellAlphas> Cells { get; init; }
    /// <summary>The genotype in the reference text format.</summary>
    public required string GenotypeText { get; init; }
}

/// <summary>Collapse metrics on a fixed probe batch (per epoch).</summary>
public sealed record CollapseLogged : TrainingEvent
{
    public override string Type => "collapse";
    public required int Epoch { get; init; }
    public required long Step { get; init; }
    /// <summary>Which output was measured, e.g. "z (projector output, 2048-d)".</summary>
    public required string Output { get; init; }
    public required int Dimension { get; init; }
    /// <summary>Mean over dimensions of the per-dimension std of the l2-normalised outputs.</summary>
    public required double NormalizedStd { get; init; }
    /// <summary><see cref="NormalizedStd"/> · sqrt(d): about 1 for a healthy embedding, 0 when collapsed.</summary>
    public required double StdRatio { get; init; }
    /// <summary>exp(entropy of the normalised covariance eigenvalues); 1 = rank-one collapse.</summary>
    public required double EffectiveRank { get; init; }
    /// <summary>Mean squared distance between the two views' normalised outputs (lower = more aligned).</summary>
    public required double Alignment { get; init; }
    /// <summary>log mean exp(-2·squared distance) over pairs (lower = more uniform).</summary>
    public required double Uniformity { get; init; }
    public required int ProbeSize { get; init; }
}

/// <summary>kNN monitor result (per epoch).</summary>
public sealed record KnnLogged : TrainingEvent
{
    public override string Type => "knn";
    public required int Epoch { get; init; }
    public required double Top1 { get; init; }
    public required double Top5 { get; init; }
    /// <summary>Protocol: k, weighting, temperature, feature, bank and query sizes.</summary>
    public required string Protocol { get; init; }
    public required bool IsBest { get; init; }
}

/// <summary>Throughput over the last epoch (or log window).</summary>
public sealed record ThroughputLogged : TrainingEvent
{
    public override string Type => "throughput";
    public required int Epoch { get; init; }
    public required long Step { get; init; }
    public required double ImagesPerSecond { get; init; }
    /// <summary>Mean seconds per step spent producing the batch (augmentation included).</summary>
    public required double DataSecondsPerStep { get; init; }
    /// <summary>Mean seconds per step spent in forward/backward/optimizer.</summary>
    public required double ComputeSecondsPerStep { get; init; }
}

/// <summary>Per epoch of linear evaluation.</summary>
public sealed record LinearEvalLogged : TrainingEvent
{
    public override string Type => "lincls";
    public required int Epoch { get; init; }
    public required double TrainLoss { get; init; }
    public required double Top1 { get; init; }
    public required double Top5 { get; init; }
    public required bool IsBest { get; init; }
}

/// <summary>A warning the user should see: collapse, architecture, resume or data (docs/metrics-schema.md).</summary>
public sealed record WarningRaised : TrainingEvent
{
    public override string Type => "warning";
    /// <summary>"collapse", "architecture", "resume" or "data" (files a data set left out, counted).</summary>
    public required string Kind { get; init; }
    public required string Message { get; init; }
    public long Step { get; init; }
}

/// <summary>A checkpoint was written (atomically).</summary>
public sealed record CheckpointSaved : TrainingEvent
{
    public override string Type => "checkpoint";
    public required string Name { get; init; }
    public required string Path { get; init; }
    public required int Epoch { get; init; }
    public required long Step { get; init; }
}

/// <summary>A free-form log line.</summary>
public sealed record LogMessage : TrainingEvent
{
    public override string Type => "log";
    public required string Level { get; init; }
    public required string Message { get; init; }
}

/// <summary>A stage produced a genotype (search end).</summary>
public sealed record GenotypeDerived : TrainingEvent
{
    public override string Type => "genotype";
    public required string GenotypeText { get; init; }
}

/// <summary>How a stage or run ended.</summary>
public enum RunOutcome { Succeeded, Cancelled, Failed }

/// <summary>A stage ended.</summary>
public sealed record StageFinished : TrainingEvent
{
    public override string Type => "stage_finished";
    public required RunOutcome Outcome { get; init; }
    public string? Message { get; init; }
    /// <summary>Headline metrics of the stage (e.g. knn_top1, lincls_top1, final_loss).</summary>
    public IReadOnlyDictionary<string, double> Metrics { get; init; } = new Dictionary<string, double>();
}

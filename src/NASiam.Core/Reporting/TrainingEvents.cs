using System.Text.Json.Serialization;

namespace NASiam.Core.Reporting;

/// <summary>
/// Everything the engine reports while a run works. Plain data only: no tensor ever leaves the
/// engine. One JSON form serves metrics.jsonl, the web database and the wire
/// (<see cref="TrainingEventJson"/>, docs/events.schema.v1.json): the "type" discriminator comes
/// from the <see cref="JsonDerivedTypeAttribute"/> list below, the single table of event types.
/// The envelope (<see cref="RunId"/>, <see cref="Sequence"/>, <see cref="At"/>, <see cref="Stage"/>)
/// is stamped by the engine's emitter (NASiam.Core.Engine.Runs.EventEmitter), not by the code that
/// builds an event. <see cref="Sequence"/> increases by one per event within a run (0-based), so
/// consumers can de-duplicate and detect gaps; a <see cref="RunStarted"/> whose sequence is at or
/// below one already seen starts a new attempt that replays from there (docs/metrics-schema.md).
/// <see cref="Stage"/> is search | pretrain | lincls, or "run" for events about the whole run.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type", UnknownDerivedTypeHandling = JsonUnknownDerivedTypeHandling.FailSerialization)]
[JsonDerivedType(typeof(RunStarted), "run_started")]
[JsonDerivedType(typeof(StageStarted), "stage_started")]
[JsonDerivedType(typeof(StepLogged), "step")]
[JsonDerivedType(typeof(AlphasLogged), "alphas")]
[JsonDerivedType(typeof(CollapseLogged), "collapse")]
[JsonDerivedType(typeof(KnnLogged), "knn")]
[JsonDerivedType(typeof(ThroughputLogged), "throughput")]
[JsonDerivedType(typeof(LinearEvalLogged), "lincls")]
[JsonDerivedType(typeof(WarningRaised), "warning")]
[JsonDerivedType(typeof(CheckpointSaved), "checkpoint")]
[JsonDerivedType(typeof(LogMessage), "log")]
[JsonDerivedType(typeof(GenotypeDerived), "genotype")]
[JsonDerivedType(typeof(StageFinished), "stage_finished")]
public abstract record TrainingEvent
{
    // The envelope is written first, right after "type" (derived properties would come first otherwise).
    [JsonPropertyOrder(-4)] public Guid RunId { get; init; }
    [JsonPropertyOrder(-3)] public long Sequence { get; init; }
    [JsonPropertyOrder(-2)] public DateTimeOffset At { get; init; }
    [JsonPropertyOrder(-1)] public string Stage { get; init; } = "";

    /// <summary>The stable discriminator written as "type" (from the <see cref="JsonDerivedTypeAttribute"/> table).</summary>
    [JsonIgnore]
    public string Type => TrainingEventJson.TypeName(GetType());

    /// <summary>The weight step the event belongs to, when it has one (charts, de-duplication, progress).</summary>
    [JsonIgnore]
    public long? StepOrNull => this switch
    {
        StepLogged s => s.Step,
        AlphasLogged a => a.Step,
        CollapseLogged c => c.Step,
        ThroughputLogged t => t.Step,
        CheckpointSaved k => k.Step,
        WarningRaised w => w.Step,
        _ => null,
    };
}

/// <summary>
/// The engine began an attempt of a run: always the attempt's first event, with stage "run". Its
/// sequence is where this attempt's numbering starts: 0 for a fresh start, otherwise the
/// NextSequence of the newest checkpoint it resumes from. Stored events with this sequence or a
/// later one belong to an earlier attempt that this one replays from the checkpoint; readers drop them.
/// </summary>
public sealed record RunStarted : TrainingEvent
{
    /// <summary>Version of the event contract (docs/events.schema.v{N}.json).</summary>
    public int SchemaVersion { get; init; } = TrainingEventJson.SchemaVersion;
    /// <summary>search, pretrain, lincls or pipeline.</summary>
    public required string Kind { get; init; }
    /// <summary>The checkpoint the attempt resumes from (relative to the run folder), or null for a fresh start.</summary>
    public string? ResumedFrom { get; init; }
}

/// <summary>A stage started; <see cref="TotalSteps"/> is the planned number of weight steps.</summary>
public sealed record StageStarted : TrainingEvent
{
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
    public required int Epoch { get; init; }
    public required long Step { get; init; }
    public required IReadOnlyList<CellAlphas> Cells { get; init; }
    /// <summary>The genotype in the reference text format.</summary>
    public required string GenotypeText { get; init; }
}

/// <summary>Collapse metrics on a fixed probe batch (per epoch).</summary>
public sealed record CollapseLogged : TrainingEvent
{
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
    public required int Epoch { get; init; }
    public required long Step { get; init; }
    public required double ImagesPerSecond { get; init; }
    /// <summary>Mean seconds per step spent producing the batch (augmentation included).</summary>
    public required double DataSecondsPerStep { get; init; }
    /// <summary>Mean seconds per step spent in forward/backward/optimizer.</summary>
    public required double ComputeSecondsPerStep { get; init; }
    /// <summary>
    /// Resident set size of the process running the stage after the epoch's last training step (the
    /// training working set, before the engine's periodic collection and the epoch's monitors), MiB
    /// (Linux /proc/self/status VmRSS); null where it cannot be read. The dashboard's default run isolation
    /// gives each run its own child process; runs sharing a process (in-process isolation) share the figure.
    /// </summary>
    public double? RssMib { get; init; }
    /// <summary>The same process's peak resident set size so far (VmHWM), MiB; null where it cannot be read.</summary>
    public double? PeakRssMib { get; init; }
}

/// <summary>Per epoch of linear evaluation.</summary>
public sealed record LinearEvalLogged : TrainingEvent
{
    public required int Epoch { get; init; }
    public required double TrainLoss { get; init; }
    public required double Top1 { get; init; }
    public required double Top5 { get; init; }
    public required bool IsBest { get; init; }
}

/// <summary>A warning the user should see: collapse, architecture, resume or data (docs/metrics-schema.md).</summary>
public sealed record WarningRaised : TrainingEvent
{
    /// <summary>"collapse", "architecture", "resume", "data" (files a data set left out, counted) or "backbone" (a linear evaluation of a stage that did not finish).</summary>
    public required string Kind { get; init; }
    public required string Message { get; init; }
    public long Step { get; init; }
}

/// <summary>
/// A checkpoint was written (atomically). Emitted when its bytes are on disk, just before the rename that
/// makes them the checkpoint at <see cref="Path"/>; if that rename fails, the stage fails with the error.
/// </summary>
public sealed record CheckpointSaved : TrainingEvent
{
    public required string Name { get; init; }
    public required string Path { get; init; }
    public required int Epoch { get; init; }
    public required long Step { get; init; }
}

/// <summary>A free-form log line.</summary>
public sealed record LogMessage : TrainingEvent
{
    public required string Level { get; init; }
    public required string Message { get; init; }
}

/// <summary>A stage produced a genotype (search end).</summary>
public sealed record GenotypeDerived : TrainingEvent
{
    public required string GenotypeText { get; init; }
}

/// <summary>How a stage or run ended.</summary>
public enum RunOutcome { Succeeded, Cancelled, Failed }

/// <summary>A stage ended.</summary>
public sealed record StageFinished : TrainingEvent
{
    public required RunOutcome Outcome { get; init; }
    public string? Message { get; init; }
    /// <summary>Headline metrics of the stage (e.g. knn_top1, lincls_top1, final_loss).</summary>
    public IReadOnlyDictionary<string, double> Metrics { get; init; } = new Dictionary<string, double>();
}

using NASiam.Core.Options;
using NASiam.Core.Reporting;

namespace NASiam.Core.Engine;

/// <summary>
/// Runs one NASiam run (search, pretrain, lincls or the whole pipeline) synchronously on the
/// calling thread. The CLI and the web job call it the same way; tests pass a scripted fake.
/// </summary>
public interface IRunEngine
{
    /// <summary>
    /// Executes <paramref name="options"/>. Artefacts go to <see cref="RunContext.OutputDirectory"/>:
    /// genotype.txt, genotype.json, metrics.jsonl (always: every event, docs/metrics-schema.md), checkpoints/, result.json.
    /// The first event of every attempt is <see cref="RunStarted"/>; the engine numbers events itself
    /// across resumes (after the newest checkpoint's events).
    /// When <see cref="RunContext.Resume"/> is set and a checkpoint exists there, the run continues
    /// from it as if it had never stopped. Cancellation stops within one step and leaves a resumable
    /// checkpoint; the result then has <see cref="RunOutcome.Cancelled"/>. Bad options throw
    /// <see cref="ArgumentException"/> before any work.
    /// </summary>
    RunResult Run(RunOptions options, RunContext context, ITrainingObserver observer, CancellationToken cancellationToken);
}

/// <summary>Where a run lives and how it starts.</summary>
public sealed record RunContext
{
    public required Guid RunId { get; init; }
    /// <summary>The run's own folder; everything it writes stays inside.</summary>
    public required string OutputDirectory { get; init; }
    /// <summary>Continue from the newest checkpoint in <see cref="OutputDirectory"/> if there is one.</summary>
    public bool Resume { get; init; } = true;
    /// <summary>
    /// Lowest first sequence number for this attempt. A resume starts after the newest checkpoint's
    /// events whatever this says (the engine owns the numbering); 0 suits every caller.
    /// </summary>
    public long FirstSequence { get; init; }
}

/// <summary>What a run produced.</summary>
public sealed record RunResult
{
    public required RunOutcome Outcome { get; init; }
    public string? Message { get; init; }
    /// <summary>The searched (or used) genotype in the reference text format.</summary>
    public string? GenotypeText { get; init; }
    /// <summary>Headline numbers: search_final_loss, knn_top1, lincls_top1, lincls_top5, ...</summary>
    public IReadOnlyDictionary<string, double> Metrics { get; init; } = new Dictionary<string, double>();
    /// <summary>Lineage: stage name → checkpoint or artefact path inside the output directory.</summary>
    public IReadOnlyDictionary<string, string> Artifacts { get; init; } = new Dictionary<string, string>();
    /// <summary>The sequence number after the last event emitted.</summary>
    public long NextSequence { get; init; }
}

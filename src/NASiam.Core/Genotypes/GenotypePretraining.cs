using System.Text.Json;
using NASiam.Core.Options;

namespace NASiam.Core.Genotypes;

/// <summary>
/// "Pre-train this genotype" from a run: the request that pre-trains a run's genotype on that run's own setup
/// (its stored options: framework, backbone, heads, data set and folder, data options, image size, step cap,
/// device, threads, seed and its pre-training recipe), with kind pretrain and the genotype given by the run's id,
/// so the scheduler records the new run as that run's descendant. Only what cannot carry over is dropped:
/// the run's name (the new one is "{name} · pretrain") and a linear evaluation's checkpoint.
/// </summary>
public static class GenotypePretraining
{
    /// <summary>
    /// The request for a pre-training of run <paramref name="runId"/>'s genotype with its stored options
    /// <paramref name="source"/>. <paramref name="genotype"/> replaces the run id as the genotype reference
    /// (e.g. the library entry the run discovered); <paramref name="runName"/> names the new run after it.
    /// Resolved (<see cref="RunRequestResolver"/>), it gives <paramref name="source"/> with kind pretrain and that genotype.
    /// </summary>
    public static RunRequest FromRun(RunOptions source, Guid runId, string? runName = null, string? genotype = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        var target = source with
        {
            Kind = RunKind.Pretrain,
            Name = string.IsNullOrWhiteSpace(runName) ? null : $"{runName} · pretrain",
            Linear = source.Linear with { Checkpoint = null },
        };
        // Every field, nulls included (a merge patch's null clears the base's value: no step cap stays no step cap).
        var patch = JsonSerializer.SerializeToNode(target, RunOptions.Json)!.AsObject();
        // Given as the request's own members; the genotype member wins over pretrain.genotype anyway.
        patch.Remove("framework");
        patch.Remove("kind");
        patch["pretrain"]!.AsObject().Remove("genotype");
        return new RunRequest
        {
            Framework = source.Framework.ToName(), Kind = RunKind.Pretrain,
            Genotype = string.IsNullOrWhiteSpace(genotype) ? runId.ToString() : genotype.Trim(),
            Overrides = patch,
        };
    }

    /// <summary>The note a form shows when it starts from a run's setup: whose, and what that setup is.</summary>
    public static string StartedFromNote(string runName, RunOptions source) =>
        $"Started from run '{runName}''s setup: {source.Framework.ToName()}, {source.Backbone} on {source.Dataset}" +
        $"{(source.Dataset == "synthetic" ? $" ({source.SyntheticTrainSize} images)" : source.DataPath is { } p ? $" ({p})" : "")}" +
        $"{(source.Data.ImageSize is { } px ? $" at {px} px" : "")}, " +
        $"{(source.MaxStepsPerStage is { } cap ? $"at most {cap} steps a stage" : "no step cap")}, device {source.Device}, seed {source.Seed}, " +
        "its pre-training recipe, kind pretrain and its genotype. The Preset menu replaces these fields with a preset's.";
}

using System.Text.Json;
using System.Text.Json.Nodes;
using NASiam.Core.Options;

namespace NASiam.Core.Genotypes;

/// <summary>
/// "Pre-train this genotype" from a run: the request that pre-trains a run's genotype on that run's own setup
/// (its stored options: framework, backbone, heads, data set and folder, data options, image size, step cap,
/// device, threads, seed and its pre-training recipe), with kind pretrain and the genotype given by the run's id,
/// so the scheduler records the new run as that run's descendant. Only what cannot carry over is dropped:
/// the run's name (the new one is "{name} · pretrain"), a linear evaluation's checkpoint, and what a pre-training
/// does not read (the search and linear recipes, switches of other frameworks), which the framework's quick-demo
/// preset fills (the base the request names).
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
        // What a pre-training does not read (the run's search or linear recipe, another framework's switches) stays
        // out: carried over it changed nothing, and the resolver rightly named it "not used".
        foreach (var entry in OptionCatalog.Entries.Where(e => !e.UsedBy(RunKind.Pretrain, source.Framework)))
            RemovePath(patch, entry.Path);
        return new RunRequest
        {
            // The base only fills what a pre-training does not read; the form lays every request on a preset (the quick
            // demo unless one is chosen), so every door names the same one and stores the same options.
            Preset = RunPresets.QuickDemo,
            Framework = source.Framework.ToName(), Kind = RunKind.Pretrain,
            Genotype = string.IsNullOrWhiteSpace(genotype) ? runId.ToString() : genotype.Trim(),
            Overrides = patch,
        };
    }

    /// <summary>
    /// <see cref="FromRun(RunOptions, Guid, string?, string?)"/> with a request's own changes over the run's setup, as
    /// POST /api/runs/{id}/pretrain takes them: <paramref name="changes"/> a merge patch on the options (camelCase
    /// paths), <paramref name="name"/> and <paramref name="device"/> as POST /api/runs's top-level members (the
    /// resolver refuses one the changes give another value).
    /// </summary>
    public static RunRequest FromRun(RunOptions source, Guid runId, string? runName, JsonObject? changes, string? name, string? device)
    {
        var request = FromRun(source, runId, runName);
        var patch = request.Overrides!;
        if (changes is not null) MergePatches.LayerOnto(patch, changes);
        // A top-level name or device replaces the run's (kept in the patch only where the changes give one too).
        if (name is not null && !HasKey(changes, "name")) patch.Remove("name");
        if (device is not null && !HasKey(changes, "device")) patch.Remove("device");
        return request with { Overrides = patch, Name = name, Device = device };

        static bool HasKey(JsonObject? o, string key) => o is not null && o.Any(kv => string.Equals(kv.Key, key, StringComparison.OrdinalIgnoreCase));
    }

    static void RemovePath(JsonObject document, string path)
    {
        var parts = path.Split('.');
        var parent = document;
        foreach (var part in parts[..^1])
            if (parent[part] is JsonObject child) parent = child; else return;
        parent.Remove(parts[^1]);
    }

    /// <summary>The note a form shows when it starts from a run's setup: whose, and what that setup is.</summary>
    public static string StartedFromNote(string runName, RunOptions source) =>
        $"Started from run '{runName}''s setup: {SetupSummary(source)}. The Preset menu replaces these fields with a preset's.";

    /// <summary>
    /// What a pre-training of <paramref name="source"/>'s genotype takes from it, in words ("simsiam, resnet-tiny on synthetic
    /// (256 images), at most 7 steps a stage, device cpu, seed 3, its pre-training recipe, kind pretrain and its genotype").
    /// </summary>
    public static string SetupSummary(RunOptions source) =>
        $"{source.Framework.ToName()}, {source.Backbone} on {source.Dataset}" +
        $"{(source.Dataset == "synthetic" ? $" ({source.SyntheticTrainSize} images)" : source.DataPath is { } p ? $" ({p})" : "")}" +
        $"{(source.Data.ImageSize is { } px ? $" at {px} px" : "")}, " +
        $"{(source.MaxStepsPerStage is { } cap ? $"at most {cap} steps a stage" : "no step cap")}, device {source.Device}, seed {source.Seed}, " +
        "its pre-training recipe, kind pretrain and its genotype";
}

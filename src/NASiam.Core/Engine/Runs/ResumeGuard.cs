using System.Globalization;
using System.Text.Json.Nodes;
using NASiam.Core.Engine.Checkpoints;
using NASiam.Core.Engine.Optimization;
using NASiam.Core.Options;

namespace NASiam.Core.Engine.Runs;

/// <summary>One option that differs between a checkpoint and the run resuming it, e.g. "heads.dim: 128 → 2048".</summary>
/// <param name="Path">Dotted option path as in the options JSON, the API and the form ("framework", "heads.dim", "search.epochs").</param>
/// <param name="Saved">The checkpoint's value as its JSON text (strings unquoted; "null" for null or absent).</param>
/// <param name="Current">The resuming run's value, same format.</param>
public sealed record OptionChange(string Path, string Saved, string Current)
{
    public override string ToString() => $"{Path}: {Saved} → {Current}";
}

/// <summary>
/// A run was asked to continue from a checkpoint made with other options. Thrown before the
/// checkpoint is loaded, so nothing in the output folder changes. An <see cref="ArgumentException"/>:
/// the options do not fit this output folder, as invalid options do not fit the engine.
/// </summary>
public sealed class ResumeRefusedException(string message, IReadOnlyList<OptionChange> changes) : ArgumentException(message)
{
    /// <summary>The refused differences (never empty).</summary>
    public IReadOnlyList<OptionChange> Changes { get; } = changes;
}

/// <summary>What resuming a stage checkpoint means when the guard lets it through.</summary>
/// <param name="EpochsSaved">The stage's epoch count in the checkpoint's options.</param>
/// <param name="EpochsNow">The stage's epoch count now (≥ the epochs done).</param>
/// <param name="Note">When the epoch count changed: the log line saying the stage is extended and what happens to its schedule; else null.</param>
public sealed record ResumePlan(int EpochsSaved, int EpochsNow, string? Note)
{
    /// <summary>True when the run asks for another epoch count than the checkpoint's.</summary>
    public bool EpochsChanged => EpochsSaved != EpochsNow;
}

/// <summary>
/// Decides whether a stage may continue from its checkpoint (issue 8, "a run reads its identity back
/// from its artefacts"). The checkpoint's saved options and the run's options are compared field by
/// field, over their JSON form so that every option, present or future, takes part:
/// <list type="bullet">
/// <item>Fields that do not change what a stage computes may differ: <see cref="FreeFields"/>, and
/// the sections of the other stages (a pipeline's search is the same search whatever its
/// pre-training epochs).</item>
/// <item>The stage's own Epochs may grow: the stage is extended from its last checkpoint, finished or
/// not. Its learning-rate schedule is a function of (epoch, total epochs) (<see cref="LearningRates"/>),
/// so it is recomputed over the new total rather than continued: under a cosine schedule the rate
/// of the next epoch is lr0·½(1+cos(π·e/E_new)), usually higher than where the old schedule ended
/// (it jumps up). The stage logs the two values. Fewer epochs than already done are refused; fewer
/// than planned but not fewer than done shorten an unfinished stage the same way.</item>
/// <item>Every other difference is refused with the full list ("framework: moco → simclr;
/// heads.dim: 128 → 2048"), instead of a state-dict size error or a silently skipped stage.</item>
/// </list>
/// Whether a stage's input is still the same (the genotype a pre-training trained, the backbone a
/// linear evaluation read) is the stage's own check; see <see cref="SslStageBase"/>.
/// </summary>
public static class ResumeGuard
{
    /// <summary>
    /// Top-level options that never change a stage's numbers: display, placement, logging and
    /// checkpoint cadence, Kind (a search is the same search inside a pipeline), and the step cap
    /// MaxStepsPerStage, a demo and test device: a stage its cap finished is done while its steps
    /// reach the new cap; raising the cap continues it from the epoch after the one the cap cut
    /// (the rest of that epoch is not run).
    /// </summary>
    public static readonly IReadOnlySet<string> FreeFields = new HashSet<string>(StringComparer.Ordinal)
    {
        "name", "kind", "device", "threads", "logEverySteps", "alphaLogEverySteps", "checkpointEveryEpochs", "maxStepsPerStage",
    };

    /// <summary>The options section of each stage: search → search, pretrain → pretrain, lincls → linear.</summary>
    public static string SectionOf(string stage) => stage switch
    {
        "search" => "search",
        "pretrain" => "pretrain",
        "lincls" => "linear",
        _ => throw new ArgumentOutOfRangeException(nameof(stage), stage, "Stages are search, pretrain and lincls."),
    };

    static readonly string[] StageSections = ["search", "pretrain", "linear"];

    /// <summary>
    /// Every difference that matters to <paramref name="stage"/>, its own Epochs included, in JSON
    /// order (saved first). Free fields and other stages' sections are left out.
    /// </summary>
    public static IReadOnlyList<OptionChange> Compare(RunOptions saved, RunOptions current, string stage)
    {
        var own = SectionOf(stage);
        var changes = new List<OptionChange>();
        Diff(JsonNode.Parse(saved.ToJson()), JsonNode.Parse(current.ToJson()), "", changes);
        return changes.Where(c =>
        {
            var top = c.Path.Split('.')[0];
            return !FreeFields.Contains(top) && (top == own || !StageSections.Contains(top));
        }).ToList();
    }

    /// <summary>
    /// Checks a stage checkpoint (<paramref name="state"/>, read from <paramref name="checkpointPath"/>)
    /// against the resuming run's options. Returns the plan, or throws
    /// <see cref="ResumeRefusedException"/> naming every refused difference and the way out.
    /// </summary>
    public static ResumePlan Check(string checkpointPath, CheckpointState state, RunOptions current)
    {
        RunOptions saved;
        try { saved = RunOptions.FromJson(state.OptionsJson); }
        catch (ArgumentException e)
        {
            throw new ResumeRefusedException($"Cannot resume from '{checkpointPath}': its saved options are unreadable ({e.Message}). " +
                                             "Use another output folder, or turn resume off (the CLI's --fresh) to start afresh.",
                [new OptionChange("(options)", "unreadable", "current")]);
        }
        saved = WithLegacyDefaults(saved, state);
        var section = SectionOf(state.Stage);
        var epochsPath = section + ".epochs";
        var changes = Compare(saved, current, state.Stage);
        var refused = changes.Where(c => c.Path != epochsPath).ToList();
        var (savedEpochs, schedule) = Recipe(saved, state.Stage);
        var (nowEpochs, _) = Recipe(current, state.Stage);
        bool partial = state.StepInEpoch > 0;
        if (nowEpochs < state.Epoch || (nowEpochs == state.Epoch && partial))
            refused.Add(new OptionChange(epochsPath, savedEpochs.ToString(CultureInfo.InvariantCulture),
                $"{nowEpochs} (fewer than the {state.Epoch}{(partial ? "+" : "")} epochs already done)"));
        if (refused.Count > 0)
            throw new ResumeRefusedException(
                $"Cannot resume the {state.Stage} stage from '{checkpointPath}': it was made with other options ({string.Join("; ", refused)}). " +
                "Only more epochs may be asked of a stage (it is then extended); fields that do not change the numbers " +
                $"({string.Join(", ", FreeFields)}) may differ. Use another output folder, run with the checkpoint's options, " +
                "or turn resume off (the CLI's --fresh) to start afresh.", refused);
        if (savedEpochs == nowEpochs) return new ResumePlan(savedEpochs, nowEpochs, null);
        return new ResumePlan(savedEpochs, nowEpochs, ExtensionNote(epochsPath, state, savedEpochs, nowEpochs, schedule));
    }

    /// <summary>
    /// Options a checkpoint predates stand for the behaviour of the build that wrote it, which is
    /// not always today's default: a MoCo search checkpoint written before
    /// Compat.MocoMomentumKeyCellInSearch existed holds a momentum key cell (projector_k), so it is
    /// compared as if the switch were on and a run with it off is refused by name, not by a
    /// state-dict error.
    /// </summary>
    static RunOptions WithLegacyDefaults(RunOptions saved, CheckpointState state)
    {
        if (state.Stage != "search" || saved.Framework != Framework.MoCo || saved.Compat.MocoMomentumKeyCellInSearch) return saved;
        // The switch's JSON key path in whatever naming the options use: the one leaf that differs when it is set.
        var on = new RunOptions { Compat = new CompatOptions { MocoMomentumKeyCellInSearch = true } };
        var paths = new List<string[]>();
        LeafPaths(JsonNode.Parse(new RunOptions().ToJson()), JsonNode.Parse(on.ToJson()), [], paths);
        if (paths.Count != 1) return saved;
        JsonNode? node = JsonNode.Parse(state.OptionsJson);
        foreach (var key in paths[0])
            node = node is JsonObject o && o.TryGetPropertyValue(key, out var child) ? child : null;
        return node is null ? saved with { Compat = saved.Compat with { MocoMomentumKeyCellInSearch = true } } : saved;
    }

    /// <summary>The raw JSON key paths of the leaves where <paramref name="a"/> and <paramref name="b"/> differ.</summary>
    static void LeafPaths(JsonNode? a, JsonNode? b, string[] path, List<string[]> found)
    {
        if (a is JsonObject oa && b is JsonObject ob)
        {
            foreach (var (key, value) in oa)
                LeafPaths(value, ob[key], [.. path, key], found);
            return;
        }
        if (Text(a) != Text(b)) found.Add(path);
    }

    /// <summary>The stage's epoch count and schedule in <paramref name="o"/>.</summary>
    static (int Epochs, LrSchedule Schedule) Recipe(RunOptions o, string stage) => stage switch
    {
        "search" => (o.Search.Epochs, o.Search.Schedule),
        "pretrain" => (o.Pretrain.Epochs, o.Pretrain.Schedule),
        _ => (o.Linear.Epochs, o.Linear.Schedule),
    };

    static string ExtensionNote(string path, CheckpointState state, int from, int to, LrSchedule schedule)
    {
        var verb = to > from ? "extending" : "shortening";
        var head = $"{path} {from} → {to}: {verb} the stage from its checkpoint after {state.Epoch} epoch(s), step {state.Step}";
        if (schedule == LrSchedule.Constant || state.Epoch >= to) return head + ".";
        // Recomputed, not continued: the schedule is a pure function of (epoch, total epochs).
        double now = LearningRates.Factor(schedule, state.Epoch, to);
        var old = state.Epoch < from
            ? $"the old schedule would have run it at {LearningRates.Factor(schedule, state.Epoch, from):0.####}"
            : $"the old schedule ended at {LearningRates.Factor(schedule, from - 1, from):0.####} in epoch {from}";
        return $"{head}. The {schedule.ToString().ToLowerInvariant()} learning-rate schedule is recomputed over the new total of {to} epochs, " +
               $"not continued: epoch {state.Epoch + 1} runs at {now:0.####} × the initial rate, where {old}.";
    }

    static void Diff(JsonNode? a, JsonNode? b, string path, List<OptionChange> changes)
    {
        if (a is JsonObject oa && b is JsonObject ob)
        {
            var keys = oa.Select(p => p.Key).Concat(ob.Select(p => p.Key).Where(k => !oa.ContainsKey(k)));
            foreach (var key in keys)
                Diff(oa[key], ob[key], path.Length == 0 ? key : path + "." + key, changes);
            return;
        }
        var (sa, sb) = (Text(a), Text(b));
        if (sa != sb) changes.Add(new OptionChange(path, sa, sb));
    }

    static string Text(JsonNode? n) => n switch
    {
        null => "null",
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        _ => n.ToJsonString(),
    };
}

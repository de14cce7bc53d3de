using NASiam.Core.Engine.Checkpoints;
using NASiam.Core.Engine.Evaluation;
using NASiam.Core.Engine.Optimization;
using NASiam.Core.Methods;
using NASiam.Core.Options;
using NASiam.Core.Reporting;
using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Engine.Runs;

/// <summary>Where a stage starts: fresh (all zero) or from its checkpoint.</summary>
public sealed record ResumePosition(int Epoch, int StepInEpoch, long Step, bool Completed,
    IReadOnlyDictionary<string, long> Data, IReadOnlyDictionary<string, double> Metrics)
{
    public static readonly ResumePosition Fresh = new(0, 0, 0, false, new Dictionary<string, long>(), new Dictionary<string, double>());

    /// <summary>
    /// True when this attempt resumed from this very checkpoint of a completed stage: the attempt's
    /// numbering starts right after it, so the events the stage emitted after its last checkpoint (its
    /// stage_finished, a search's genotype) were dropped from the stored events and metrics.jsonl, and
    /// <see cref="SslStageBase.Completed"/> states them again.
    /// </summary>
    public bool RestateTail { get; init; }

    /// <summary>
    /// True when nothing is left to run: the checkpoint completed the stage and its steps reach
    /// <paramref name="totalSteps"/> (the plan now). A completed stage asked for more epochs is not done.
    /// </summary>
    public bool IsDone(long totalSteps) => Completed && Step >= totalSteps;
}

/// <summary>
/// What every training stage shares: resume from its checkpoint (guarded by <see cref="ResumeGuard"/>:
/// other options are refused, more epochs extend the stage), atomic checkpoint writes with RNG
/// state, the stage_started / step / epoch-end / stage_finished events, the step cap, the
/// non-finite-loss check and cancellation.
/// </summary>
public abstract class SslStageBase(StageEnvironment env, string stage)
{
    /// <summary>A collapse warning is raised when the normalised-output std ratio falls below this (healthy ≈ 1).</summary>
    public const double CollapseStdRatioThreshold = 0.1;

    protected StageEnvironment Env { get; } = env;
    protected RunOptions Options => Env.Options;
    protected EventEmitter Events => Env.Events;
    protected string Stage { get; } = stage;
    protected string CheckpointPath => Env.CheckpointPath(Stage);
    protected bool Cancelled => Env.Cancellation.IsCancellationRequested;

    /// <summary>Planned weight steps: epochs × steps per epoch, capped by MaxStepsPerStage.</summary>
    protected long TotalSteps(int stepsPerEpoch, int epochs) => Math.Min((long)stepsPerEpoch * epochs, Options.MaxStepsPerStage ?? long.MaxValue);

    // Set by TryResume when the run changed the stage's epoch count; logged by Started (a skipped stage logs nothing).
    string? _epochsNote;

    /// <summary>
    /// Loads the stage checkpoint into <paramref name="content"/> and the generator when resuming;
    /// else a fresh position. First the checkpoint's options are checked against the run's
    /// (<see cref="ResumeGuard.Check"/>; throws <see cref="ResumeRefusedException"/> before loading
    /// anything). Then <paramref name="inputChanged"/> (the stage's own check of its input, e.g. the
    /// genotype or the backbone checkpoint) may name a reason why the checkpoint no longer belongs
    /// to this run's input: the stage then starts afresh, with a warning, and overwrites it.
    /// </summary>
    protected ResumePosition TryResume(CheckpointContent content, Generator generator, Func<CheckpointState, string?>? inputChanged = null)
    {
        if (!Env.Resume || !File.Exists(CheckpointPath)) return ResumePosition.Fresh;
        var saved = CheckpointStore.ReadState(CheckpointPath);
        var plan = ResumeGuard.Check(Env.Relative(CheckpointPath), saved, Options);
        if (inputChanged?.Invoke(saved) is { } reason)
        {
            Events.Warn(Stage, "resume", $"{reason}: the {Stage} stage starts afresh and overwrites {Env.Relative(CheckpointPath)}.", 0);
            return ResumePosition.Fresh;
        }
        // The stage's own extra tensors (e.g. the probe's normaliser statistics) are restored in place.
        var own = content.Extra ?? new Dictionary<string, Tensor>();
        var extra = new Dictionary<string, Tensor>(own);
        var withExtra = new CheckpointContent
        {
            Model = content.Model, Alphas = content.Alphas, WeightOptimizer = content.WeightOptimizer,
            AlphaOptimizer = content.AlphaOptimizer, Extra = extra,
        };
        var state = CheckpointStore.Load(CheckpointPath, withExtra);
        if (extra.TryGetValue("augmentation_rng", out var rng)) generator.set_state(rng);
        if (extra.TryGetValue("torch_rng", out var global)) Generator.Default.set_state(global);
        foreach (var (key, t) in extra)
            if (!own.ContainsKey(key)) t.Dispose();
        Events.ContinueFrom(state.NextSequence);
        Events.Log(Stage, "info", $"resumed from {Env.Relative(CheckpointPath)} in epoch {state.Epoch + 1}, after step {state.Step}");
        _epochsNote = plan.Note;
        return new ResumePosition(state.Epoch, state.StepInEpoch, state.Step, state.Completed, state.DataState, state.Metrics)
        {
            RestateTail = state.Completed && state.NextSequence == Events.FirstSequence,
        };
    }

    /// <summary>
    /// Writes the stage checkpoint atomically (with both RNG states) and reports it. The checkpoint counts its own
    /// checkpoint_saved event (a resume numbers on after it), so the event is emitted once the bytes are on disk and
    /// before the rename makes them the checkpoint: a process killed in between leaves the previous checkpoint, whose
    /// resume drops the event, instead of a checkpoint whose event never reached the store (a hole in the numbering).
    /// </summary>
    protected void Save(CheckpointContent content, Generator generator, int nextEpoch, int stepInEpoch, long step, bool completed,
        int scheduleEpoch, IReadOnlyDictionary<string, long> data, IReadOnlyDictionary<string, double> metrics, string? genotypeText,
        IReadOnlyList<string>? alphaCells = null)
    {
        using var augmentationRng = generator.get_state();
        using var torchRng = Generator.Default.get_state();
        var state = new CheckpointState
        {
            Stage = Stage, Epoch = nextEpoch, StepInEpoch = stepInEpoch, Step = step, Completed = completed,
            ScheduleEpoch = scheduleEpoch, OptionsJson = Options.ToJson(), DataState = data, Metrics = metrics,
            GenotypeText = genotypeText, AlphaCells = alphaCells ?? [],
            NextSequence = Events.NextSequence + 1, // the checkpoint event below takes one number
        };
        CheckpointStore.Save(CheckpointPath, state, new CheckpointContent
        {
            Model = content.Model, Alphas = content.Alphas, WeightOptimizer = content.WeightOptimizer, AlphaOptimizer = content.AlphaOptimizer,
            Extra = new Dictionary<string, Tensor>(content.Extra ?? new Dictionary<string, Tensor>())
            {
                ["augmentation_rng"] = augmentationRng, ["torch_rng"] = torchRng,
            },
        }, beforeCommit: () => Events.Emit(Stage, new CheckpointSaved
        {
            Name = Stage, Path = Env.Relative(CheckpointPath), Epoch = nextEpoch, Step = step,
        }));
    }

    /// <summary>Emits stage_started, preceded by the extension note when the run changed the stage's epoch count and followed by the CPU thread note and the <see cref="SetupNote"/>s.</summary>
    protected void Started(int epochs, long totalSteps, int stepsPerEpoch, long resumedAt)
    {
        if (_epochsNote is { } note) Events.Log(Stage, "info", note);
        Events.Emit(Stage, new StageStarted
        {
            TotalEpochs = epochs, TotalSteps = totalSteps, StepsPerEpoch = stepsPerEpoch, ResumedAtStep = resumedAt, Device = Env.Device.ToString(),
        });
        if (Env.CpuNote is { } cpu) Events.Log(Stage, "info", cpu);
        // A capped stage ends early yet succeeds: said, so its epochs and numbers are not read as the recipe's.
        long planned = (long)stepsPerEpoch * epochs;
        if (totalSteps < planned)
            Events.Log(Stage, "info", $"maxStepsPerStage {Options.MaxStepsPerStage} ends this stage after {totalSteps} of its {planned} steps " +
                                      $"(in epoch {(totalSteps + stepsPerEpoch - 1) / stepsPerEpoch} of {epochs})");
        foreach (var line in _setupNotes) Events.Log(Stage, "info", line);
        _setupNotes.Clear();
    }

    readonly List<string> _setupNotes = [];

    /// <summary>
    /// A line about how the stage was set up (the convolution kernels its model runs), logged right after
    /// stage_started: the model is built before the stage starts, and stage_started opens a stage's events.
    /// </summary>
    void SetupNote(string line) => _setupNotes.Add(line);

    /// <summary>
    /// The stage's model set-up log: notes wait for stage_started (<see cref="SetupNote"/>); a line
    /// announcing a wait is logged at once, at run level (the stage has not started yet), naming the stage.
    /// </summary>
    protected SetupLog SetupLog => _setupLog ??= new(SetupNote, line => Events.Log("run", "info", $"{Stage}: {line}"));
    SetupLog? _setupLog;

    protected void StepLogged(int epoch, long step, double loss, double? archLoss, ScheduledOptimizer weights, ScheduledOptimizer? alphas)
    {
        if (step % Options.LogEverySteps != 0) return;
        var rates = new Dictionary<string, double>(weights.CurrentRates());
        if (alphas is not null) rates["alpha"] = alphas.CurrentRates()["alpha"];
        Events.Emit(Stage, new Reporting.StepLogged
        {
            Epoch = epoch, Step = step, Loss = loss, ArchLoss = archLoss, LearningRates = rates,
        });
    }

    /// <summary>
    /// One optimizer step on a two-view batch: zero the optimizer's grads, loss (forward released
    /// before backward), finiteness check, backward, step. Returns the loss. Weight and
    /// architecture steps differ only in the optimizer and <paramref name="kind"/>.
    /// </summary>
    protected static double OptimizerStep(SiameseModel model, ScheduledOptimizer optimizer, Tensor x1, Tensor x2,
        StepKind kind, long step, int epoch)
    {
        optimizer.ZeroGrad();
        var loss = model.ComputeLossForBackward(x1, x2, kind);
        var value = CheckFinite(loss.ItemSingle(), kind == StepKind.Weight ? "weight" : "architecture", step, epoch);
        loss.backward();
        optimizer.Step();
        return value;
    }

    /// <summary>Returns the loss, or throws <see cref="NonFiniteLossException"/> naming the step.</summary>
    protected static double CheckFinite(double loss, string which, long step, int epoch)
    {
        if (double.IsFinite(loss)) return loss;
        throw new NonFiniteLossException($"{which} loss is {(double.IsNaN(loss) ? "NaN" : "infinite")} at step {step}{(epoch >= 0 ? $" (epoch {epoch + 1})" : "")}; " +
                                         "the last good checkpoint is kept. Lower the learning rate or check the data.");
    }

    /// <summary>
    /// Per-epoch monitors: collapse metrics on the probe (+ collapse warning), kNN when asked
    /// (<paramref name="isBest"/> decides the flag), and throughput. Returns the kNN accuracy if run.
    /// </summary>
    protected Accuracy? EpochEnd(SiameseModel model, CollapseProbe probe, StageClock clock, int epoch, long step, bool knn, Func<double, bool>? isBest = null)
    {
        var c = probe.Measure(model);
        Events.Emit(Stage, new CollapseLogged
        {
            Epoch = epoch, Step = step,
            Output = model.EmbeddingDescription, Dimension = c.Dimension, NormalizedStd = c.NormalizedStd, StdRatio = c.StdRatio,
            EffectiveRank = c.EffectiveRank, Alignment = c.Alignment, Uniformity = c.Uniformity, ProbeSize = probe.Size,
        });
        if (c.StdRatio < CollapseStdRatioThreshold)
            Events.Warn(Stage, "collapse", $"possible collapse after epoch {epoch + 1}: normalised-output std ratio {c.StdRatio:0.000} < {CollapseStdRatioThreshold} " +
                                           $"(effective rank {c.EffectiveRank:0.0} of {c.Dimension}).", step);
        Accuracy? accuracy = null;
        if (knn)
        {
            var (acc, protocol) = KnnMonitor.Evaluate(Env, model);
            accuracy = acc;
            Events.Emit(Stage, new KnnLogged
            {
                Epoch = epoch,
                Top1 = acc.Top1, Top5 = acc.Top5, Protocol = protocol, IsBest = isBest?.Invoke(acc.Top1) ?? false,
            });
        }
        EmitThroughput(clock, epoch, step);
        return accuracy;
    }

    /// <summary>
    /// The epoch's throughput event (nothing when it ran no step), after the epoch's monitors, with the
    /// resident memory after the epoch's last step (the training working set, before the periodic
    /// collection and the monitors) and the process's peak so far, so a run shows whether its memory
    /// stays flat without a profiler. Then a malloc_trim (no GC), the engine's only one in training: the
    /// monitors' inference passes leave their activations in the C heap's arenas (+0.45 GiB RSS after a
    /// chunked MoCo ResNet-18 probe, measured), and the periodic collection does not trim.
    /// </summary>
    protected void EmitThroughput(StageClock clock, int epoch, long step)
    {
        double rss = clock.LastStepRssMib;
        var (ips, data, compute, steps) = clock.TakeEpoch();
        if (steps == 0) return;
        // VmHWM is kept lazily: a trim (MADV_DONTNEED) lowers RSS without raising the mark first, so it can read below an RSS seen earlier.
        double peak = NativeMemory.ProcessStatusMib("VmHWM");
        if (double.IsFinite(rss) && !(peak >= rss)) peak = rss;
        Events.Emit(Stage, new ThroughputLogged
        {
            Epoch = epoch, Step = step,
            ImagesPerSecond = ips, DataSecondsPerStep = data, ComputeSecondsPerStep = compute,
            RssMib = double.IsFinite(rss) ? rss : null, PeakRssMib = double.IsFinite(peak) ? peak : null,
        });
        NativeMemory.Trim();
    }

    /// <summary>Emits stage_finished and builds the result.</summary>
    protected StageResult Finish(RunOutcome outcome, string? message, IReadOnlyDictionary<string, double> metrics, string? genotypeText, string? best = null)
    {
        EmitFinished(outcome, message, metrics);
        return new StageResult
        {
            Stage = Stage, Outcome = outcome, Message = message, Metrics = metrics, GenotypeText = genotypeText,
            Checkpoint = File.Exists(CheckpointPath) ? Env.Relative(CheckpointPath) : null, BestCheckpoint = best,
        };
    }

    /// <summary>Emits stage_finished with every metric: one not measured stays "NaN" in the event (not dropped, not a number).</summary>
    void EmitFinished(RunOutcome outcome, string? message, IReadOnlyDictionary<string, double> metrics) =>
        Events.Emit(Stage, new StageFinished { Outcome = outcome, Message = message, Metrics = metrics.ToDictionary() });

    /// <summary>
    /// The result of a stage whose checkpoint says it already completed (a resumed pipeline skips it).
    /// Where the attempt's renumbering dropped what the stage emitted after that checkpoint
    /// (<see cref="ResumePosition.RestateTail"/>), it is emitted again: <paramref name="restateTail"/>
    /// (the stage's own last events) and stage_finished with the checkpoint's metrics, so a re-run into
    /// the same folder leaves the events and metrics.jsonl whole.
    /// </summary>
    protected StageResult Completed(ResumePosition position, string? genotypeText, string? best = null, Action? restateTail = null)
    {
        Events.Log(Stage, "info", $"stage already completed ({Env.Relative(CheckpointPath)}); skipped");
        if (position.RestateTail)
        {
            restateTail?.Invoke();
            EmitFinished(RunOutcome.Succeeded, null, position.Metrics);
        }
        return new StageResult
        {
            Stage = Stage, Outcome = RunOutcome.Succeeded, Metrics = position.Metrics, GenotypeText = genotypeText,
            Checkpoint = Env.Relative(CheckpointPath), BestCheckpoint = best,
        };
    }
}

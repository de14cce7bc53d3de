using NASiam.Core.Data;
using NASiam.Core.Engine.Runs;
using NASiam.Core.Genotypes;
using NASiam.Core.IO;
using NASiam.Core.Methods;
using NASiam.Core.Options;
using NASiam.Core.Reporting;

namespace NASiam.Core.Engine;

/// <summary>
/// The NASiam engine: search, pretrain, lincls, or the whole pipeline (search → derive genotype →
/// pre-train the discovered heads from scratch → linear evaluation of the kNN-best checkpoint for
/// SimSiam and MoCo, of the last one for SimCLR; see <see cref="EvaluatesBestCheckpoint"/>),
/// synchronously on the calling thread. Artefacts: checkpoints/{search,pretrain,pretrain-best,lincls}.ckpt,
/// genotype.txt, genotype.json and result.json in the output folder. Re-running with Resume on
/// continues where a cancelled run stopped and skips completed stages; a checkpoint made with other
/// options is refused before any work (<see cref="ResumeGuard"/>), except that more epochs extend
/// a stage. A stage whose input changed (another genotype, another backbone checkpoint) starts afresh.
/// </summary>
public sealed class NasiamEngine : IRunEngine
{
    /// <summary>Test seam: runs before each weight step of every stage.</summary>
    internal Action<SiameseModel, long>? BeforeWeightStep { get; init; }

    /// <summary>Test seam: the run's thread governor for its thread count; default <see cref="CpuThreadGovernor.ForRun"/>.</summary>
    internal Func<int, CpuThreadGovernor?> ThreadGovernor { get; init; } = CpuThreadGovernor.ForRun;

    public RunResult Run(RunOptions options, RunContext context, ITrainingObserver observer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(context);
        options.EnsureValid();
        if (options.Kind is RunKind.Pretrain) GenotypeReference.Resolve(options.Pretrain.Genotype, options.Framework); // fail before work
        if (options.Kind is RunKind.LinCls && options.Linear.Checkpoint is { } ck && !File.Exists(ck))
            throw new ArgumentException($"linear.checkpoint: '{ck}' does not exist.");
        var outDir = Path.GetFullPath(context.OutputDirectory);
        if (context.Resume) CheckResumable(options, outDir); // refuse before any work, so nothing in the folder changes
        int threads = TorchRuntime.SetThreads(options.Threads);
        var device = TorchRuntime.ResolveDevice(options.Device);
        Directory.CreateDirectory(outDir);
        // The engine owns the numbering and metrics.jsonl: an attempt starts after the newest
        // checkpoint it resumes from, and what it replays from there is written again.
        var (firstSequence, resumedFrom) = FirstSequence(context, outDir);
        var metricsPath = MetricsJsonl.PathIn(outDir);
        string? damagedMetrics = null;
        try { MetricsJsonl.KeepBefore(metricsPath, firstSequence); }
        catch (InvalidDataException e)
        {
            damagedMetrics = $"{MetricsJsonl.FileName} was unreadable and was moved aside to {MetricsJsonl.FileName}.damaged ({e.Message})";
            File.Move(metricsPath, metricsPath + ".damaged", overwrite: true);
        }
        using var metricsFile = new BackgroundObserver(new MetricsJsonlObserver(metricsPath));
        var events = new EventEmitter(context.RunId, firstSequence,
            observer is null ? metricsFile : new CompositeObserver(metricsFile, observer));
        events.Emit("run", new RunStarted { Kind = options.Kind.ToString().ToLowerInvariant(), ResumedFrom = resumedFrom });
        if (damagedMetrics is not null) events.Warn("run", "resume", damagedMetrics, 0);
        // A process killed mid-write left its temporary file (a checkpoint's is the model's size); said, then removed.
        foreach (var folder in new[] { outDir, StageEnvironment.CheckpointDirectoryIn(outDir) })
            if (AtomicFile.RemoveLeftovers(folder) is { Names.Count: > 0 } left)
                events.Log("run", "info", $"removed {left.Names.Count} unfinished write(s) a stopped attempt left in " +
                    $"{(folder == outDir ? "the run folder" : Path.GetRelativePath(outDir, folder))} ({left.Bytes / 1048576.0:0.#} MiB): {string.Join(", ", left.Names)}");
        using var data = DataSets.Open(options.Dataset, options.DataPath, new DataSetOpenOptions
        {
            CoarseLabels = options.CoarseLabels, SyntheticTrainSize = options.SyntheticTrainSize, SyntheticSeed = options.Seed,
            ImageSize = options.Data.ImageSize, Workers = options.Data.Workers,
        });
        // What the data set left out (metadata files, hidden files) is said, not silently dropped.
        foreach (var notice in data.Notices) events.Warn("run", "data", notice, 0);
        // The CPU threads matter on the CPU only; on CUDA they just feed the kernels.
        bool onCpu = device.type == TorchSharp.DeviceType.CPU;
        var governor = onCpu ? ThreadGovernor(threads) : null;
        var env = new StageEnvironment
        {
            Options = options, Device = device, Data = data, OutputDirectory = outDir, Events = events,
            Cancellation = cancellationToken, Resume = context.Resume, BeforeWeightStep = BeforeWeightStep,
            CpuThreads = governor, CpuNote = onCpu ? CpuThreadGovernor.Describe(threads, governor) : null,
        };

        var stages = new List<StageResult>();
        string? genotypeText = null;
        try
        {
            switch (options.Kind)
            {
                case RunKind.Search:
                    stages.Add(Search(env, ref genotypeText));
                    break;
                case RunKind.Pretrain:
                    stages.Add(new PretrainStage(env, GenotypeReference.Resolve(options.Pretrain.Genotype, options.Framework)).Run());
                    genotypeText = stages[^1].GenotypeText;
                    break;
                case RunKind.LinCls:
                    stages.Add(new LinearEvalStage(env, options.Linear.Checkpoint).Run());
                    break;
                case RunKind.Pipeline:
                    var search = Search(env, ref genotypeText);
                    stages.Add(search);
                    if (search.Outcome != RunOutcome.Succeeded) break;
                    // "searched" (or null, in options stored before the keyword) = the genotype just found, at its
                    // own depth; otherwise an explicit choice (e.g. "standard" for a baseline pipeline).
                    var genotype = GenotypeReference.IsSearched(options.Pretrain.Genotype)
                        ? GenotypeRules.ParseAnyDepth(search.GenotypeText!, options.Framework)
                        : GenotypeReference.Resolve(options.Pretrain.Genotype, options.Framework);
                    var pretrain = new PretrainStage(env, genotype).Run();
                    stages.Add(pretrain);
                    if (pretrain.Outcome != RunOutcome.Succeeded) break;
                    bool best = EvaluatesBestCheckpoint(options) && pretrain.BestCheckpoint is not null;
                    var backbone = best ? pretrain.BestCheckpoint! : pretrain.Checkpoint!;
                    events.Log("lincls", "info", best
                        ? $"evaluating the kNN-best pre-training checkpoint {backbone} (selected on the test split; linear.useBestCheckpoint = false for the last)"
                        : $"evaluating the last pre-training checkpoint {backbone}");
                    stages.Add(new LinearEvalStage(env, Path.Combine(outDir, backbone)).Run());
                    break;
            }
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or Numerics.KernelCheckException)
        {
            var stage = stages.Count == 0 ? options.Kind.ToString().ToLowerInvariant() : "run";
            // The message names the file and what is wrong; the exception's type name read as a crash ("InvalidDataException: Image ... is truncated").
            stages.Add(new StageResult { Stage = stage, Outcome = RunOutcome.Failed, Message = e.Message });
            events.Emit(stage, new StageFinished { Outcome = RunOutcome.Failed, Message = e.Message });
        }

        var outcome = stages.Select(s => s.Outcome).FirstOrDefault(o => o != RunOutcome.Succeeded, RunOutcome.Succeeded);
        var metrics = new Dictionary<string, double>();
        var artifacts = new Dictionary<string, string>();
        foreach (var s in stages)
        {
            foreach (var (k, v) in s.Metrics) metrics[k] = v;
            if (s.Checkpoint is { } c) artifacts[s.Stage] = c;
            if (s.BestCheckpoint is { } b) artifacts[s.Stage + "-best"] = b;
        }
        if (genotypeText is not null)
        {
            RunArtifacts.WriteGenotype(outDir, genotypeText, options.Framework);
            artifacts["genotype"] = RunArtifacts.GenotypeTextFile;
            artifacts["genotype_json"] = RunArtifacts.GenotypeJsonFile;
        }
        artifacts["result"] = RunArtifacts.ResultFile;
        var result = new RunResult
        {
            Outcome = outcome,
            Message = stages.FirstOrDefault(s => s.Outcome != RunOutcome.Succeeded)?.Message,
            GenotypeText = genotypeText ?? stages.Select(s => s.GenotypeText).LastOrDefault(g => g is not null),
            Metrics = metrics,
            Artifacts = artifacts,
            NextSequence = events.NextSequence,
        };
        RunArtifacts.WriteResult(outDir, context.RunId, options, result, stages);
        return result;
    }

    /// <summary>
    /// Checks every stage checkpoint this run would resume against its options; throws
    /// <see cref="ResumeRefusedException"/> for the first refused one. A damaged checkpoint is left
    /// to its stage, which reports it as a failed run.
    /// </summary>
    static void CheckResumable(RunOptions options, string outDir)
    {
        foreach (var stage in RunKindStages.Of(options.Kind))
        {
            var path = StageEnvironment.CheckpointPathIn(outDir, stage);
            if (!File.Exists(path)) continue;
            Checkpoints.CheckpointState state;
            try { state = Checkpoints.CheckpointStore.ReadState(path); }
            catch (Exception e) when (e is InvalidDataException or IOException or System.Text.Json.JsonException) { continue; }
            ResumeGuard.Check(Path.GetRelativePath(outDir, path), state, options);
        }
    }

    /// <summary>
    /// Where this attempt's numbering starts: the caller's <see cref="RunContext.FirstSequence"/>,
    /// or, when resuming, the NextSequence of the newest checkpoint in checkpoints/ if later (its
    /// own checkpoint event is the last one kept). Unreadable checkpoint files are left to their
    /// stage, which reports them.
    /// </summary>
    static (long First, string? ResumedFrom) FirstSequence(RunContext context, string outDir)
    {
        long first = context.FirstSequence;
        string? from = null;
        var dir = StageEnvironment.CheckpointDirectoryIn(outDir);
        if (!context.Resume || !Directory.Exists(dir)) return (first, from);
        foreach (var file in Directory.EnumerateFiles(dir, "*.ckpt"))
        {
            long next;
            try { next = Checkpoints.CheckpointStore.ReadState(file).NextSequence; }
            catch (Exception e) when (e is InvalidDataException or IOException or System.Text.Json.JsonException or UnauthorizedAccessException) { continue; }
            if (next > first) (first, from) = (next, Path.GetRelativePath(outDir, file));
        }
        return (first, from);
    }

    /// <summary>
    /// Whether a pipeline linear-evaluates the kNN-best pre-training checkpoint (true) or the last
    /// one (false): Linear.UseBestCheckpoint when set, else the reference's choice per framework:
    /// best for SimSiam and MoCo (their READMEs; method doc 6.4, 7), last for SimCLR, which has no
    /// best-selection (method doc 5.6, D21). A run without kNN monitor has no best and uses the last.
    /// </summary>
    public static bool EvaluatesBestCheckpoint(RunOptions options) =>
        options.Linear.UseBestCheckpoint ?? options.Framework != Framework.SimClr;

    static StageResult Search(StageEnvironment env, ref string? genotypeText)
    {
        var result = new SearchStage(env).Run();
        if (result.Outcome == RunOutcome.Succeeded) genotypeText = result.GenotypeText;
        return result;
    }
}

using System.Text.Json;
using NASiam.Core.Engine;
using NASiam.Core.Engine.Checkpoints;
using NASiam.Core.Engine.Runs;
using NASiam.Core.Genotypes;
using NASiam.Core.Options;
using NASiam.Core.Reporting;
using static TorchSharp.torch;

namespace NASiam.Core.Tests.Engine.Runs;

public sealed class NasiamEngineTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("nasiam-engine-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);
    string Dir(string name) => Path.Combine(_dir, name);

    [Theory]
    [InlineData(Framework.SimSiam)]
    [InlineData(Framework.MoCo)]
    [InlineData(Framework.SimClr)]
    public void Run_Search_EveryFramework_MovesAlphasAndWritesParsableGenotype(Framework framework)
    {
        var (result, recorder) = TinyRuns.Run(TinyRuns.Options(framework, RunKind.Search), Dir("s"));

        Assert.Equal(RunOutcome.Succeeded, result.Outcome);
        var text = File.ReadAllText(Path.Combine(Dir("s"), "genotype.txt"));
        Assert.True(GenotypeText.Parse(text, framework).SameAs(GenotypeText.Parse(result.GenotypeText!, framework)));
        Assert.False(text.EndsWith('\n'));
        Assert.True(File.Exists(Path.Combine(Dir("s"), "genotype.json")));
        var alphas = SavedAlphas.Read(Path.Combine(Dir("s"), "checkpoints", "search.ckpt"));
        Assert.Equal(framework, alphas.Framework);
        Assert.Contains(alphas.Cells.Values.SelectMany(c => c).SelectMany(r => r), v => Math.Abs(v) > 1e-6);
        Assert.True(GenotypeText.Parse(text, framework).SameAs(alphas.Derive()));
        var steps = recorder.Events.OfType<StepLogged>().ToList();
        Assert.Equal(4, steps.Count); // 128 weight images / batch 32
        Assert.All(steps, s => Assert.Contains("alpha", s.LearningRates.Keys));
        Assert.All(steps, s => Assert.True(double.IsFinite(s.ArchLoss!.Value)));
    }

    [Fact]
    public void Run_Search_EmitsEventsInOrderWithGapFreeSequence()
    {
        var (_, recorder) = TinyRuns.Run(TinyRuns.Options(Framework.SimSiam, RunKind.Search), Dir("o"));
        var events = recorder.Events;
        Assert.Equal(Enumerable.Range(0, events.Count).Select(i => (long)i), events.Select(e => e.Sequence));
        Assert.Equal("search", Assert.IsType<RunStarted>(events[0]).Kind);
        Assert.IsType<StageStarted>(events[1]);
        Assert.IsType<StageFinished>(events[^1]);
        var types = events.Select(e => e.Type).ToList();
        // Per epoch: steps (with alphas every 2), then collapse, throughput, checkpoint; genotype before the end.
        Assert.True(types.IndexOf("collapse") > types.LastIndexOf("step"));
        Assert.True(types.IndexOf("throughput") > types.IndexOf("collapse"));
        Assert.True(types.IndexOf("checkpoint") > types.IndexOf("throughput"));
        Assert.True(types.IndexOf("genotype") > types.IndexOf("checkpoint"));
        var alphas = events.OfType<AlphasLogged>().ToList();
        Assert.Equal([2L, 4L], alphas.Select(a => a.Step));
        Assert.Equal(["encoder", "predictor"], alphas[0].Cells.Select(c => c.Cell));
        Assert.Equal([6, 4], alphas[0].Cells.Select(c => c.Layers.Count));
        Assert.All(alphas[0].Cells.SelectMany(c => c.Layers), l => Assert.Equal(1.0, l.Weights.Sum(), 9));
        var step = events.OfType<StepLogged>().First();
        Assert.Equal(["alpha", "encoder", "predictor"], step.LearningRates.Keys.Order());
        Assert.Equal(0.06 * 32 / 256, step.LearningRates["predictor"], 12);
        var collapse = Assert.Single(events.OfType<CollapseLogged>());
        Assert.Equal(64, collapse.Dimension);
        Assert.InRange(collapse.EffectiveRank, 1, 64);
        Assert.Equal(RunOutcome.Succeeded, ((StageFinished)events[^1]).Outcome);
    }

    [Fact]
    public void Run_Search_ResumedAfterEpochOne_EndsWithTheSameAlphasAsAnUninterruptedRun()
    {
        var options = TinyRuns.Options(Framework.SimSiam, RunKind.Search, searchEpochs: 2);
        TinyRuns.Run(options, Dir("full"));

        var stopper = new TinyRuns.CancelWhen(e => e is CheckpointSaved { Epoch: 1 });
        var (first, _) = TinyRuns.Run(options, Dir("resumed"), stopper.Source.Token, extra: stopper);
        Assert.Equal(RunOutcome.Cancelled, first.Outcome);
        var (second, events) = TinyRuns.Run(options, Dir("resumed"));
        Assert.Equal(RunOutcome.Succeeded, second.Outcome);
        Assert.Equal(4, events.Events.OfType<StageStarted>().Single().ResumedAtStep);

        AssertSameAlphas(Dir("full"), Dir("resumed"));
    }

    [Fact]
    public void Run_CancelledMidEpoch_StopsWithinOneStep_AndResumesToTheSameAlphas()
    {
        var options = TinyRuns.Options(Framework.MoCo, RunKind.Search, searchEpochs: 2);
        TinyRuns.Run(options, Dir("full"));

        var stopper = new TinyRuns.CancelWhen(e => e is StepLogged { Step: 3 });
        var (cancelled, events) = TinyRuns.Run(options, Dir("cut"), stopper.Source.Token, extra: stopper);
        Assert.Equal(RunOutcome.Cancelled, cancelled.Outcome);
        Assert.Equal(3, events.Events.OfType<StepLogged>().Max(s => s.Step));
        // The stopped search's genotype is the argmax at its last step, and its last alpha snapshot (logged every
        // 2 steps) is of that step, so a door can say where the genotype comes from.
        var lastAlphas = events.Events.OfType<AlphasLogged>().Last();
        Assert.Equal((3L, cancelled.GenotypeText), (lastAlphas.Step, lastAlphas.GenotypeText));
        var state = CheckpointStore.ReadState(Path.Combine(Dir("cut"), "checkpoints", "search.ckpt"));
        Assert.Equal((0, 3, 3L, false), (state.Epoch, state.StepInEpoch, state.Step, state.Completed));

        var (resumed, _) = TinyRuns.Run(options, Dir("cut"));
        Assert.Equal(RunOutcome.Succeeded, resumed.Outcome);
        AssertSameAlphas(Dir("full"), Dir("cut"));
    }

    // A checkpoint counts its own checkpoint_saved event (a resume numbers on after it). Were the file renamed into
    // place before the event was recorded, a process killed in between (seen once in CI: SIGKILL of a worker child)
    // would leave a checkpoint that counts an event no store has: the resume's numbering skipped it ("17, 18, 20").
    // So the event is recorded first; a kill at that moment leaves the previous checkpoint, and its resume drops the event.
    [Fact]
    public void CheckpointSaved_IsRecordedBeforeItsCheckpointIsCommitted_SoAKillInBetweenLeavesNoHoleInTheNumbering()
    {
        var options = TinyRuns.Options(Framework.SimSiam, RunKind.Search, searchEpochs: 2);
        var killed = new KillAtCheckpointEvent(Path.Combine(Dir("a"), "checkpoints"), Path.Combine(Dir("b"), "checkpoints"), epoch: 2);
        var (_, before) = TinyRuns.Run(options, Dir("a"), extra: killed);
        // At each event the file on disk was still the previous checkpoint (or none), never the one counting the event.
        Assert.Equal([null, 4L], killed.OnDiskAtEvent.Select(s => s?.Step));
        Assert.All(killed.OnDiskAtEvent.Zip(before.Events.OfType<CheckpointSaved>()),
            p => Assert.True(p.First is null || p.First.NextSequence <= p.Second.Sequence, $"checkpoint on disk counts event {p.First?.NextSequence - 1}"));
        Assert.Equal(before.Events.OfType<CheckpointSaved>().Last().Sequence + 1, CheckpointStore.ReadState(Path.Combine(Dir("a"), "checkpoints", "search.ckpt")).NextSequence);
        Assert.Empty(Directory.GetFiles(Path.Combine(Dir("a"), "checkpoints"), "*.tmp"));

        // What a kill at the second checkpoint's event leaves: the events up to it stored, the first checkpoint on disk.
        var stored = before.Events.Where(e => e.Sequence <= killed.KilledAtSequence).ToList();
        var (resumed, after) = TinyRuns.Run(options, Dir("b"));
        Assert.Equal(RunOutcome.Succeeded, resumed.Outcome);
        Assert.Equal(4, after.Events.OfType<StageStarted>().Single().ResumedAtStep); // from the first checkpoint (the copy happened)
        long start = after.Events.OfType<RunStarted>().Single().Sequence;
        Assert.True(start <= killed.KilledAtSequence, $"the resume starts at {start}, after the event at {killed.KilledAtSequence}");
        var all = stored.Where(e => e.Sequence < start).Concat(after.Events).ToList(); // a run_started drops what it replays
        Assert.Equal(Enumerable.Range(0, all.Count).Select(i => (long)i), all.Select(e => e.Sequence));
        Assert.Equal(Enumerable.Range(1, 8).Select(i => (long)i), all.OfType<StepLogged>().Select(s => s.Step));
        // The killed write's temporary file (the new checkpoint, complete but never renamed) is removed, and said.
        var leftover = Path.GetFileName(Assert.Single(killed.Copied, f => f.EndsWith(".tmp")));
        Assert.Empty(Directory.GetFiles(Path.Combine(Dir("b"), "checkpoints"), "*.tmp"));
        Assert.Contains(after.Events.OfType<LogMessage>(), m => m.Message.StartsWith("removed 1 unfinished write(s) a stopped attempt left in checkpoints (")
                                                               && m.Message.EndsWith(leftover));
    }

    /// <summary>
    /// Records the search checkpoint on disk at each checkpoint_saved event and, at the one of <paramref name="epoch"/>,
    /// copies the checkpoints folder (the unfinished write's temporary file too) to <paramref name="copyTo"/>: what a
    /// process killed at that moment would leave.
    /// </summary>
    sealed class KillAtCheckpointEvent(string checkpoints, string copyTo, int epoch) : ITrainingObserver
    {
        public List<CheckpointState?> OnDiskAtEvent { get; } = [];
        public List<string> Copied { get; } = [];
        public long KilledAtSequence { get; private set; } = -1;

        public void On(TrainingEvent e)
        {
            if (e is not CheckpointSaved saved) return;
            var checkpoint = Path.Combine(checkpoints, "search.ckpt");
            OnDiskAtEvent.Add(File.Exists(checkpoint) ? CheckpointStore.ReadState(checkpoint) : null);
            if (saved.Epoch != epoch) return;
            KilledAtSequence = e.Sequence;
            Directory.CreateDirectory(copyTo);
            foreach (var file in Directory.GetFiles(checkpoints))
            {
                File.Copy(file, Path.Combine(copyTo, Path.GetFileName(file)));
                Copied.Add(file);
            }
        }
    }

    static void AssertSameAlphas(string a, string b)
    {
        var x = SavedAlphas.Read(Path.Combine(a, "checkpoints", "search.ckpt"));
        var y = SavedAlphas.Read(Path.Combine(b, "checkpoints", "search.ckpt"));
        Assert.Equal(x.Step, y.Step);
        foreach (var (cell, rows) in x.Cells)
            for (int r = 0; r < rows.Length; r++)
                for (int c = 0; c < rows[r].Length; c++)
                    Assert.True(Math.Abs(rows[r][c] - y.Cells[cell][r][c]) <= 1e-5, $"{cell}[{r},{c}]: {rows[r][c]} vs {y.Cells[cell][r][c]}");
        Assert.Contains(x.Cells.Values.SelectMany(v => v).SelectMany(v => v), v => Math.Abs(v) > 1e-6);
    }

    /// <summary>An engine whose first weight group's first parameter turns NaN (a diverged weight) before weight step <paramref name="step"/> (0-based).</summary>
    static NasiamEngine DivergingBeforeWeightStep(long step, ScalarScope sc) => new()
    {
        BeforeWeightStep = (model, at) =>
        {
            if (at != step) return;
            using var _ = no_grad();
            model.WeightGroups()[0].Parameters[0].fill_(sc[double.NaN]);
        },
    };

    // A search whose first step's loss is NaN (a learning rate far too high, broken data) measured no loss: its final
    // loss is NaN, and stays so (named, as "NaN") in stage_finished and result.json instead of being dropped; the
    // web database's form of the metrics reads it back.
    [Fact]
    public void Run_NaNLossAtTheFirstStep_ReportsItsUnmeasuredLossAsNaN_InTheEventAndResultJson()
    {
        using var sc = new ScalarScope();
        var engine = DivergingBeforeWeightStep(0, sc);
        var (result, recorder) = TinyRuns.Run(TinyRuns.Options(Framework.SimSiam, RunKind.Search), Dir("first"), engine: engine);

        Assert.Equal(RunOutcome.Failed, result.Outcome);
        Assert.Contains("step 1", result.Message);
        Assert.True(double.IsNaN(result.Metrics["search_final_loss"]));
        Assert.True(double.IsNaN(recorder.Events.OfType<StageFinished>().Single().Metrics["search_final_loss"]));
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir("first"), "result.json")));
        Assert.Equal("NaN", doc.RootElement.GetProperty("metrics").GetProperty("search_final_loss").GetString());
        Assert.Equal("NaN", doc.RootElement.GetProperty("lineage")[0].GetProperty("metrics").GetProperty("search_final_loss").GetString());
        var stored = NASiam.Core.Reporting.HeadlineMetricsJson.Serialize(result.Metrics);
        Assert.True(double.IsNaN(NASiam.Core.Reporting.HeadlineMetricsJson.Parse(stored)["search_final_loss"]));
    }

    [Fact]
    public void Run_NaNLoss_FailsWithStepAndReason_AndKeepsTheLastGoodCheckpoint()
    {
        using var sc = new ScalarScope();
        var engine = DivergingBeforeWeightStep(5, sc);
        var (result, recorder) = TinyRuns.Run(TinyRuns.Options(Framework.SimSiam, RunKind.Search, searchEpochs: 2), Dir("nan"), engine: engine);

        Assert.Equal(RunOutcome.Failed, result.Outcome);
        Assert.Contains("NaN", result.Message);
        Assert.Contains("step 6", result.Message);
        var finished = recorder.Events.OfType<StageFinished>().Single();
        Assert.Equal(RunOutcome.Failed, finished.Outcome);
        var state = CheckpointStore.ReadState(Path.Combine(Dir("nan"), "checkpoints", "search.ckpt"));
        Assert.Equal((1, 4L), (state.Epoch, state.Step)); // the epoch-0 checkpoint, intact
        Assert.False(File.Exists(Path.Combine(Dir("nan"), "genotype.txt")));
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir("nan"), "result.json")));
        Assert.Equal("failed", doc.RootElement.GetProperty("outcome").GetString());
    }

    [Fact]
    public void Run_UnderForeignCpuLoad_LowersTheThreadCount_AndLogsWhy()
    {
        // Other processes keep both cores busy in every window: the governor the engine ticks after each step goes to 1 thread.
        static CpuSample Busy(double t) => new(t, 2 * t, 0);
        int before = TorchSharp.torch.get_num_threads();
        var engine = new NasiamEngine
        {
            ThreadGovernor = threads => new CpuThreadGovernor(threads, 2, Busy(ProcCpu.Now() - 10), () => Busy(ProcCpu.Now()), n => TorchRuntime.SetThreads(n)),
        };
        try
        {
            var (result, recorder) = TinyRuns.Run(TinyRuns.Options(Framework.SimSiam, RunKind.Search), Dir("cpu"), engine: engine);

            Assert.Equal(RunOutcome.Succeeded, result.Outcome);
            var log = Assert.Single(recorder.Events.OfType<LogMessage>(), m => m.Message.StartsWith("CPU threads 2 → ", StringComparison.Ordinal));
            Assert.StartsWith("CPU threads 2 → 1: other processes kept 2.0 of this run's 2 cores busy over the last ", log.Message);
            Assert.Equal("search", log.Stage);
            // The stage said at its start how its threads are run, right after stage_started.
            var events = recorder.Events.ToList();
            int started = events.FindIndex(e => e is StageStarted);
            Assert.Equal("CPU threads: up to 2; OpenMP threads spin ~0.1 ms before they sleep, and the thread governor runs fewer while other processes keep this run's 2 cores busy",
                Assert.IsType<LogMessage>(events[started + 1]).Message);
            Assert.True(events.IndexOf(log) > started);
            Assert.Equal(1, TorchSharp.torch.get_num_threads()); // the training thread's count, set by the governor
        }
        finally { TorchSharp.torch.set_num_threads(before); }
    }

    [Theory]
    [InlineData(Framework.SimSiam)]
    [InlineData(Framework.MoCo)]
    [InlineData(Framework.SimClr)]
    public void Run_Pretrain_EveryFramework_ReportsKnnAndKeepsTheBestCheckpoint(Framework framework)
    {
        var (result, recorder) = TinyRuns.Run(TinyRuns.Options(framework, RunKind.Pretrain), Dir("p"));

        Assert.Equal(RunOutcome.Succeeded, result.Outcome);
        var knn = Assert.Single(recorder.Events.OfType<KnnLogged>());
        Assert.True(knn.IsBest);
        Assert.InRange(knn.Top1, 0, 100);
        Assert.True(knn.Top5 >= knn.Top1);
        Assert.Contains("k=10", knn.Protocol);
        // SimCLR's monitor feature is the trunk feature (method doc 4.3), not the projection.
        Assert.Contains(framework == Framework.SimClr ? "feature=backbone trunk feature, 128-d" : "feature=" + (framework == Framework.MoCo ? "q:" : "z:"), knn.Protocol);
        Assert.Equal(knn.Top1, result.Metrics["knn_best_top1"]);
        Assert.True(CheckpointStore.IsValid(Path.Combine(Dir("p"), "checkpoints", "pretrain-best.ckpt")));
        Assert.Single(recorder.Events.OfType<CollapseLogged>());
    }

    // With 5 classes or fewer every label is among the top 5: no top-5 metric (it read 100 and was compared), and the log says why.
    [Fact]
    public void Run_LinCls_OnFourClasses_ReportsNoTop5_AndSaysWhy()
    {
        var root = Dir("four-classes");
        foreach (var (split, n) in new[] { ("train", 8), ("val", 2) })
            for (int c = 0; c < 4; c++)
                for (int i = 0; i < n; i++)
                {
                    var file = Path.Combine(root, split, $"c{c}", $"{i}.png");
                    Directory.CreateDirectory(Path.GetDirectoryName(file)!);
                    NASiam.Core.Tests.Data.TestImages.WritePng(file, 32, 32, (byte)(60 * c), (byte)(20 * i), 100);
                }
        var options = TinyRuns.Options(Framework.SimSiam, RunKind.LinCls) with { Dataset = "folder", DataPath = root, Data = new DataOptions { ImageSize = 32 } };
        var (result, recorder) = TinyRuns.Run(options with { Linear = options.Linear with { BatchSize = 8 } }, Dir("l4"));
        Assert.Equal(RunOutcome.Succeeded, result.Outcome);
        Assert.True(result.Metrics.ContainsKey("lincls_top1"));
        Assert.False(result.Metrics.ContainsKey("lincls_top5"));
        Assert.Contains(recorder.Events.OfType<LogMessage>(), m => m.Stage == "lincls"
            && m.Message == "top-5 accuracy is not reported: the data set has 4 classes, so every label is among the top 5 (100 % by construction)");
    }

    [Fact]
    public void Run_LinCls_WithoutCheckpoint_EvaluatesAnUntrainedBackbone()
    {
        var (result, recorder) = TinyRuns.Run(TinyRuns.Options(Framework.SimSiam, RunKind.LinCls, linearEpochs: 2), Dir("l"));
        Assert.Equal(RunOutcome.Succeeded, result.Outcome);
        var evals = recorder.Events.OfType<LinearEvalLogged>().ToList();
        Assert.Equal(2, evals.Count);
        Assert.True(evals[0].IsBest);
        Assert.Equal(evals.Max(e => e.Top1), result.Metrics["lincls_best_top1"]);
        Assert.All(evals, e => Assert.True(e.Top5 >= e.Top1));
        Assert.True(result.Metrics.ContainsKey("lincls_top5")); // 10 classes
        // Said as a warning (it was an info log line), so the number does not pass for a trained backbone's.
        var warning = Assert.Single(recorder.Events.OfType<WarningRaised>(), w => w.Kind == "backbone");
        Assert.Contains("untrained (randomly initialised) backbone", warning.Message);
    }

    [Fact]
    public void Run_Pipeline_ChainsStagesAndRecordsLineage()
    {
        var (result, recorder) = TinyRuns.Run(TinyRuns.Options(Framework.SimSiam, RunKind.Pipeline), Dir("pipe"));

        Assert.Equal(RunOutcome.Succeeded, result.Outcome);
        // Every stage's epochs report the process's resident memory (Linux /proc), at most its peak so far.
        var throughput = recorder.Events.OfType<ThroughputLogged>().ToList();
        Assert.Equal(["lincls", "pretrain", "search"], throughput.Select(t => t.Stage).Distinct().Order());
        // The kernel keeps VmHWM lazily (a trim's MADV_DONTNEED lowers RSS without raising the mark first), so a
        // read after the run may fall a little below a peak reported during it (0.24 MiB seen): 8 MiB of slack.
        double peakNow = NativeMemory.ProcessStatusMib("VmHWM");
        Assert.All(throughput, t =>
        {
            Assert.InRange(t.RssMib!.Value, 50, t.PeakRssMib!.Value);
            Assert.InRange(t.PeakRssMib.Value, t.RssMib.Value, peakNow + 8);
        });
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir("pipe"), "result.json")));
        var lineage = doc.RootElement.GetProperty("lineage").EnumerateArray().ToList();
        Assert.Equal(["search", "pretrain", "lincls"], lineage.Select(s => s.GetProperty("stage").GetString()));
        var searched = lineage[0].GetProperty("genotype").GetString();
        Assert.Equal(searched, lineage[1].GetProperty("genotype").GetString()); // pre-training used the searched cells
        Assert.Equal(lineage[1].GetProperty("best_checkpoint").GetString(), lineage[2].GetProperty("input").GetString());
        Assert.True(result.Metrics.ContainsKey("lincls_top1"));
        Assert.True(result.Metrics.ContainsKey("knn_top1"));
        Assert.DoesNotContain(recorder.Events.OfType<WarningRaised>(), w => w.Kind == "backbone"); // a finished pre-training's kNN-best
    }

    [Fact]
    public void Run_Pipeline_SimClr_EvaluatesTheLastCheckpoint_AsTheReference()
    {
        var (result, recorder) = TinyRuns.Run(TinyRuns.Options(Framework.SimClr, RunKind.Pipeline, pretrainEpochs: 2), Dir("simclr"));

        Assert.Equal(RunOutcome.Succeeded, result.Outcome);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir("simclr"), "result.json")));
        var lineage = doc.RootElement.GetProperty("lineage").EnumerateArray().ToList();
        Assert.Equal("checkpoints/pretrain-best.ckpt", lineage[1].GetProperty("best_checkpoint").GetString()); // a best exists...
        Assert.Equal("checkpoints/pretrain.ckpt", lineage[2].GetProperty("input").GetString()); // ...but the last is evaluated
        Assert.Contains(recorder.Events.OfType<LogMessage>(), m => m.Message.StartsWith("evaluating the last pre-training checkpoint"));
        // Every stage's log says which convolution kernels its CPU trunk ran (the kernel self-check's choice),
        // also when the choice was already made in this process: a run's record names its kernels.
        foreach (var stage in new[] { "search", "pretrain", "lincls" })
            Assert.Contains(recorder.Events.OfType<LogMessage>(), m => m.Stage == stage && m.Message.StartsWith("convolution setting for resnet-tiny (CIFAR stem, checked at 32 px) on the CPU: "));
    }

    [Theory]
    [InlineData(32, 64)]
    [InlineData(64, 16)]
    [InlineData(96, 8)]
    [InlineData(224, 8)]
    [InlineData(8, 64)]
    public void InferenceChunks_Are64ImagesAt32Px_FewerForLargerImages_AtLeast8(int side, int expected) =>
        Assert.Equal(expected, InferenceChunks.For(side));

    [Fact]
    public void CollapseProbe_MeasuredInChunks_EqualsOnePass()
    {
        // Eval mode: every image's embedding is its own, so the chunked probe gives the one-pass metrics.
        var options = TinyRuns.Options(Framework.SimSiam, RunKind.Pretrain);
        using var data = NASiam.Core.Data.SyntheticShapes.Open(200, seed: 2);
        var env = new StageEnvironment { Options = options, Device = CPU, Data = data, OutputDirectory = _dir, Events = null!, Cancellation = default };
        using var model = ModelBuilder.Create(options, false, null, CPU, cifarStem: true, seed: 3);
        using var probe = new CollapseProbe(env);
        Assert.Equal(200, probe.Size);
        var chunked = probe.Measure(model);
        var (v1, v2) = env.SslAugmenter().TwoViews(data.ReadTrain(Enumerable.Range(0, 200).Select(i => (long)i).ToArray()).Images, new Generator(env.AugmentationSeed(77)));
        model.eval();
        using (no_grad())
        {
            var whole = NASiam.Core.Engine.Evaluation.CollapseMetrics.Compute(model.Embedding(v1), model.Embedding(v2));
            Assert.Equal(whole.EffectiveRank, chunked.EffectiveRank, 4);
            Assert.Equal(whole.StdRatio, chunked.StdRatio, 5);
            Assert.Equal(whole.Alignment, chunked.Alignment, 5);
        }
    }

    [Fact]
    public void Run_FirstOnThisHost_LogsTheKernelCheckWaitAtOnce_AndTheChoiceWithTheStage()
    {
        // A fresh cache: the self-check probes (seconds to a minute on a real backbone). Its notice is a
        // run-level log line before stage_started, so a page watching the run shows why nothing moves yet.
        var saved = Environment.GetEnvironmentVariable(NASiam.Core.Engine.Numerics.KernelSelfCheck.CacheVariable);
        Environment.SetEnvironmentVariable(NASiam.Core.Engine.Numerics.KernelSelfCheck.CacheVariable, Dir("kernel-cache"));
        try
        {
            NASiam.Core.Engine.Numerics.KernelSelfCheck.ClearMemo();
            var (result, recorder) = TinyRuns.Run(TinyRuns.Options(Framework.SimSiam, RunKind.Search), Dir("first"));
            Assert.Equal(RunOutcome.Succeeded, result.Outcome);
            var events = recorder.Events.ToList();
            int waiting = events.FindIndex(e => e is LogMessage { Stage: "run" } m && m.Message.StartsWith("search: checking convolution kernels for resnet-tiny on this CPU"));
            int started = events.FindIndex(e => e is StageStarted);
            Assert.InRange(waiting, 1, started - 1);
            int choice = events.FindIndex(e => e is LogMessage { Stage: "search" } m && m.Message.StartsWith("convolution setting for resnet-tiny (CIFAR stem, checked at 32 px) on the CPU: "));
            Assert.True(choice > started, $"choice at {choice}, stage_started at {started}");

            // Probed once: a second run reads the cache and announces no wait.
            var (_, again) = TinyRuns.Run(TinyRuns.Options(Framework.SimSiam, RunKind.Search), Dir("second"));
            Assert.DoesNotContain(again.Events.OfType<LogMessage>(), m => m.Message.Contains("checking convolution kernels"));
        }
        finally
        {
            Environment.SetEnvironmentVariable(NASiam.Core.Engine.Numerics.KernelSelfCheck.CacheVariable, saved);
            NASiam.Core.Engine.Numerics.KernelSelfCheck.ClearMemo();
        }
    }

    // A linear probe of a stopped pre-training measures a partly trained backbone: the evaluation's own events
    // say so (the run page, the CLI log and the API show them next to its top-1), in the request notice's words.
    [Fact]
    public void LinCls_OfAStoppedPretraining_WarnsHowFarItGot()
    {
        var options = TinyRuns.Options(Framework.SimSiam, RunKind.Pretrain, pretrainEpochs: 2);
        var stopper = new TinyRuns.CancelWhen(e => e is StepLogged { Step: 3 });
        var (stopped, _) = TinyRuns.Run(options, Dir("stopped"), stopper.Source.Token, extra: stopper);
        Assert.Equal(RunOutcome.Cancelled, stopped.Outcome);
        var checkpoint = Path.Combine(Dir("stopped"), "checkpoints", "pretrain.ckpt");
        var state = CheckpointStore.ReadState(checkpoint);

        var lincls = TinyRuns.Options(Framework.SimSiam, RunKind.LinCls) with { MaxStepsPerStage = 2 };
        lincls = lincls with { Linear = lincls.Linear with { Checkpoint = checkpoint } };
        var (evaluated, events) = TinyRuns.Run(lincls, Dir("stopped-lincls"));
        Assert.Equal(RunOutcome.Succeeded, evaluated.Outcome);
        var warning = Assert.Single(events.Events.OfType<WarningRaised>(), w => w.Kind == "backbone");
        Assert.Equal("lincls", warning.Stage);
        Assert.EndsWith($": the pre-training did not finish; this evaluates its backbone after 0 of 2 epochs (step {state.Step})", warning.Message);
        Assert.Equal(3, state.Step);
        // The cap that ends the stage early (it succeeds) is said: 256 images in batches of 64 plan 4 steps.
        Assert.Contains(events.Events.OfType<LogMessage>(), m => m.Stage == "lincls" && m.Message == "maxStepsPerStage 2 ends this stage after 2 of its 4 steps (in epoch 1 of 1)");
    }

    // A checkpoint whose bytes changed after it was written (a disk or copy error) used to load other weights without
    // a word; its linear evaluation, and the resume of its own run, now fail naming the damaged section.
    [Fact]
    public void ADamagedCheckpoint_FailsItsEvaluationAndItsResume_NamingTheSection()
    {
        var options = TinyRuns.Options(Framework.SimSiam, RunKind.Pretrain, pretrainEpochs: 2);
        var stopper = new TinyRuns.CancelWhen(e => e is CheckpointSaved { Epoch: 1 });
        Assert.Equal(RunOutcome.Cancelled, TinyRuns.Run(options, Dir("damaged"), stopper.Source.Token, extra: stopper).Result.Outcome);
        var checkpoint = Path.Combine(Dir("damaged"), "checkpoints", "pretrain.ckpt");
        var bytes = File.ReadAllBytes(checkpoint);
        bytes[bytes.AsSpan().IndexOf((byte[])[5, .. "model"u8]) + 6 + sizeof(long) + 2000] ^= 0x01;
        File.WriteAllBytes(checkpoint, bytes);
        string damaged = $"Checkpoint '{checkpoint}' is damaged: section 'model' does not match its checksum";

        var lincls = TinyRuns.Options(Framework.SimSiam, RunKind.LinCls) with { MaxStepsPerStage = 2 };
        var (evaluated, _) = TinyRuns.Run(lincls with { Linear = lincls.Linear with { Checkpoint = checkpoint } }, Dir("damaged-lincls"));
        Assert.Equal(RunOutcome.Failed, evaluated.Outcome);
        Assert.Contains(damaged, evaluated.Message);

        var (resumed, _) = TinyRuns.Run(options, Dir("damaged"));
        Assert.Equal(RunOutcome.Failed, resumed.Outcome);
        Assert.Contains(damaged, resumed.Message);
    }

    // The kNN-best checkpoint is a copy of an earlier epoch's and never marked complete itself: a pipeline
    // that evaluates it after a finished pre-training warned "did not finish". Its stage finished when the
    // stage's own checkpoint beside it did.
    [Fact]
    public void UnfinishedBackboneNote_TheKnnBestOfAFinishedPretraining_IsNotUnfinished()
    {
        var options = TinyRuns.Options(Framework.SimSiam, RunKind.Pretrain, pretrainEpochs: 4);
        var dir = Path.Combine(Dir("best"), "checkpoints");
        Directory.CreateDirectory(dir);
        string best = Path.Combine(dir, "pretrain-best.ckpt"), own = Path.Combine(dir, "pretrain.ckpt"), copy = Path.Combine(dir, "mine.ckpt");
        var epoch2 = new CheckpointState { Stage = "pretrain", Epoch = 2, Step = 20, Completed = false, OptionsJson = options.ToJson() };
        foreach (var file in new[] { best, copy }) CheckpointStore.Save(file, epoch2, new CheckpointContent());

        CheckpointStore.Save(own, epoch2 with { Epoch = 4, Step = 40, Completed = true }, new CheckpointContent());
        Assert.Null(CheckpointState.UnfinishedBackboneNote(best, epoch2));
        // Another name is judged by its own state; a stopped stage's kNN-best says it is the kNN-best.
        Assert.Equal("the pre-training did not finish; this evaluates its backbone after 2 of 4 epochs (step 20)", CheckpointState.UnfinishedBackboneNote(copy, epoch2));
        CheckpointStore.Save(own, epoch2 with { Epoch = 3, Step = 30 }, new CheckpointContent());
        Assert.Equal("the pre-training did not finish; this evaluates its kNN-best backbone after 2 of 4 epochs (step 20)", CheckpointState.UnfinishedBackboneNote(best, epoch2));
    }

    [Fact]
    public void Run_ThreeLayerMoCoGenotype_PretrainsWritesLoadsInLinClsAndExports()
    {
        // Genotype depth is the genotype's own (method doc 2.6): the reference's earlier 3-layer MoCo genotype.
        const string text = "Genotype(encoder=[['avgpool_3x3'], ['identity'], ['identity']])";
        var options = TinyRuns.Options(Framework.MoCo, RunKind.Pretrain);
        options = options with { MaxStepsPerStage = 2, Pretrain = options.Pretrain with { Genotype = text } };
        var (pretrain, _) = TinyRuns.Run(options, Dir("g3"));
        Assert.Equal(RunOutcome.Succeeded, pretrain.Outcome);
        Assert.Equal(text, File.ReadAllText(Path.Combine(Dir("g3"), "genotype.txt")));
        Assert.Equal(3, GenotypeJson.Parse(File.ReadAllText(Path.Combine(Dir("g3"), "genotype.json"))).Encoder!.Count);

        var checkpoint = Path.Combine(Dir("g3"), "checkpoints", "pretrain.ckpt");
        var lincls = TinyRuns.Options(Framework.MoCo, RunKind.LinCls) with { MaxStepsPerStage = 2 };
        lincls = lincls with { Linear = lincls.Linear with { Checkpoint = checkpoint } };
        var (evaluated, events) = TinyRuns.Run(lincls, Dir("g3-lincls"));
        Assert.Equal(RunOutcome.Succeeded, evaluated.Outcome);
        Assert.Contains(events.Events.OfType<LogMessage>(), m => m.Message.StartsWith("backbone from"));
        Assert.DoesNotContain(events.Events.OfType<WarningRaised>(), w => w.Kind == "backbone"); // the pre-training completed

        var written = CheckpointExport.Export(checkpoint, Path.Combine(_dir, "g3.pt"));
        Assert.True(File.Exists(written.Single()));
        using var model = CheckpointExport.LoadModel(checkpoint);
        var cell = Assert.IsType<NASiam.Core.Search.Cell>(((NASiam.Core.Methods.MoCoModel)model).Projector);
        Assert.Equal(["avgpool_3x3", "identity", "identity"], cell.LayerOps);
    }

    [Fact]
    public void Run_IntoAFolderOfAnotherFramework_IsRefusedBeforeAnyWork_NamingTheFields()
    {
        TinyRuns.Run(TinyRuns.Options(Framework.SimSiam, RunKind.Search), Dir("r"));
        var result = File.ReadAllText(Path.Combine(Dir("r"), "result.json"));
        var checkpoint = File.ReadAllBytes(Path.Combine(Dir("r"), "checkpoints", "search.ckpt"));

        var e = Assert.Throws<NASiam.Core.Engine.Runs.ResumeRefusedException>(() => TinyRuns.Run(TinyRuns.Options(Framework.MoCo, RunKind.Search), Dir("r")));
        Assert.Contains("framework", e.Changes.Select(c => c.Path));
        Assert.Contains("heads.dim: 64 → 32", e.Message);
        Assert.DoesNotContain("state_dict", e.Message);
        Assert.Equal(result, File.ReadAllText(Path.Combine(Dir("r"), "result.json"))); // nothing rewritten
        Assert.Equal(checkpoint, File.ReadAllBytes(Path.Combine(Dir("r"), "checkpoints", "search.ckpt")));
    }

    // A finished search run again into its folder: the attempt numbers its events after the stage's last
    // checkpoint, which drops what the stage emitted after it (the genotype, stage_finished with the final
    // metrics) from the stored events and metrics.jsonl. The skipped stage states them again.
    [Fact]
    public void Run_FinishedSearchAgain_StatesItsGenotypeAndStageFinishedAgain_AfterTheNewRunStarted()
    {
        var options = TinyRuns.Options(Framework.SimSiam, RunKind.Search);
        var (first, firstEvents) = TinyRuns.Run(options, Dir("again"));
        var firstEnd = firstEvents.Events.OfType<StageFinished>().Single();

        var (second, events) = TinyRuns.Run(options, Dir("again"));
        Assert.Equal(RunOutcome.Succeeded, second.Outcome);
        Assert.Contains(events.Events.OfType<LogMessage>(), m => m.Message.Contains("already completed"));
        long started = events.Events.OfType<RunStarted>().Single().Sequence;
        var genotype = Assert.Single(events.Events.OfType<GenotypeDerived>());
        Assert.Equal(first.GenotypeText, genotype.GenotypeText);
        var end = events.Events.OfType<StageFinished>().Single(e => e.Stage == "search");
        Assert.Equal(RunOutcome.Succeeded, end.Outcome);
        Assert.Equal(firstEnd.Metrics.OrderBy(kv => kv.Key), end.Metrics.OrderBy(kv => kv.Key));
        Assert.NotEmpty(firstEnd.Metrics);
        Assert.True(started < genotype.Sequence && genotype.Sequence < end.Sequence);
    }

    [Fact]
    public void Run_FinishedSearchAskedForMoreEpochs_IsExtended_AndResultJsonTellsTheTruth()
    {
        TinyRuns.Run(TinyRuns.Options(Framework.SimSiam, RunKind.Search, searchEpochs: 2), Dir("full"));
        TinyRuns.Run(TinyRuns.Options(Framework.SimSiam, RunKind.Search, searchEpochs: 1), Dir("ext"));

        // Name and LogEverySteps do not change the numbers and may differ.
        var more = TinyRuns.Options(Framework.SimSiam, RunKind.Search, searchEpochs: 2) with { Name = "extended", LogEverySteps = 2 };
        var (result, events) = TinyRuns.Run(more, Dir("ext"));

        Assert.Equal(RunOutcome.Succeeded, result.Outcome);
        var started = events.Events.OfType<StageStarted>().Single();
        Assert.Equal((4L, 2, 8L), (started.ResumedAtStep, started.TotalEpochs, started.TotalSteps));
        Assert.Contains(events.Events.OfType<LogMessage>(), m => m.Message.StartsWith("search.epochs 1 → 2: extending") && m.Message.Contains("recomputed"));
        Assert.DoesNotContain(events.Events.OfType<LogMessage>(), m => m.Message.Contains("already completed"));
        var state = CheckpointStore.ReadState(Path.Combine(Dir("ext"), "checkpoints", "search.ckpt"));
        Assert.Equal((2, 8L, true), (state.Epoch, state.Step, state.Completed));
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir("ext"), "result.json")));
        Assert.Equal(2, doc.RootElement.GetProperty("options").GetProperty("search").GetProperty("epochs").GetInt32());
        Assert.Equal(result.GenotypeText, doc.RootElement.GetProperty("genotype").GetString());
        // Cosine over 2 epochs starts at factor 1 like cosine over 1, so the extension equals a 2-epoch run.
        AssertSameAlphas(Dir("full"), Dir("ext"));

        var fewer = Assert.Throws<NASiam.Core.Engine.Runs.ResumeRefusedException>(() =>
            TinyRuns.Run(TinyRuns.Options(Framework.SimSiam, RunKind.Search, searchEpochs: 1), Dir("ext")));
        Assert.Contains("search.epochs: 2 → 1 (fewer than the 2 epochs already done)", fewer.Message);
    }

    [Fact]
    public void Run_PipelineWithMorePretrainEpochs_ExtendsPretrain_AndReevaluatesTheNewBackbone()
    {
        TinyRuns.Run(TinyRuns.Options(Framework.SimClr, RunKind.Pipeline), Dir("pipe2"));
        var (result, events) = TinyRuns.Run(TinyRuns.Options(Framework.SimClr, RunKind.Pipeline, pretrainEpochs: 2), Dir("pipe2"));

        Assert.Equal(RunOutcome.Succeeded, result.Outcome);
        var starts = events.Events.OfType<StageStarted>().ToDictionary(s => s.Stage);
        Assert.False(starts.ContainsKey("search")); // finished and unchanged: skipped
        Assert.Equal(2, starts["pretrain"].TotalEpochs);
        Assert.True(starts["pretrain"].ResumedAtStep > 0);
        Assert.Equal(0, starts["lincls"].ResumedAtStep); // SimCLR evaluates the last checkpoint, which changed
        Assert.Contains(events.Events.OfType<WarningRaised>(), w => w.Stage == "lincls" && w.Message.Contains("evaluated backbone changed"));
        var pretrain = CheckpointStore.ReadState(Path.Combine(Dir("pipe2"), "checkpoints", "pretrain.ckpt"));
        Assert.Equal((2, true), (pretrain.Epoch, pretrain.Completed));
    }

    [Fact]
    public void Run_Throws_BeforeAnyWork_ForInvalidOptions()
    {
        var bad = TinyRuns.Options(Framework.SimSiam, RunKind.Search) with { Backbone = "vgg" };
        var e = Assert.Throws<ArgumentException>(() => TinyRuns.Run(bad, Dir("bad")));
        Assert.Contains("backbone", e.Message);
        Assert.False(Directory.Exists(Dir("bad")));
    }
}

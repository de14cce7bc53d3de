using NASiam.Core.Data;
using NASiam.Core.Engine.Checkpoints;
using NASiam.Core.Engine.Evaluation;
using NASiam.Core.Engine.Optimization;
using NASiam.Core.Genotypes;
using NASiam.Core.Methods;
using NASiam.Core.Options;
using NASiam.Core.Reporting;
using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Engine.Runs;

/// <summary>
/// Linear evaluation (method doc 7): the backbone of a pre-training (or search) checkpoint,
/// frozen and in eval mode (BN running statistics fixed, D13 avoided), feeds a linear classifier
/// trained on augmented training images; top-1/top-5 on the test split after each epoch. Without
/// a checkpoint the backbone is untrained (seeded random init): the baseline a trained one must beat.
/// </summary>
public sealed class LinearEvalStage(StageEnvironment env, string? backboneCheckpoint) : SslStageBase(env, "lincls")
{
    /// <summary>Runs (or resumes) the evaluation; the result names the evaluated checkpoint as its input.</summary>
    public StageResult Run() => RunCore() with { Input = BackboneInput };

    /// <summary>The evaluated checkpoint as the run names it (relative to its folder); null without one.</summary>
    string? BackboneInput => backboneCheckpoint is null ? null : Env.Relative(Path.GetFullPath(backboneCheckpoint));

    StageResult RunCore()
    {
        var o = Options;
        var l = o.Linear;
        var (loaded, backbone) = LoadBackbone();
        using var model = loaded;
        model.eval();
        if (!Env.HasTop5) Events.Log(Stage, "info", Env.NoTop5);
        foreach (var prm in model.parameters()) prm.requires_grad = false;
        using var probe = new LinearProbe(model.FeatureDim, Env.Data.ClassCount, Env.Device, o.Seed + 3, l.NormalizeFeatures);
        using var optimizer = OptimizerFactory.CreateWeightOptimizer([new ParameterGroupSpec("classifier", probe.Parameters(), false)],
            WeightOptimizerSettings.ForLinear(l));
        var batches = new BatchProvider(new IndexRange(0, Env.Data.TrainCount), l.BatchSize, o.Seed, stream: 3, dropLast: false);
        var augmenter = Env.LinearAugmenter();
        var transform = Env.EvalTransform();
        using var generator = new Generator(Env.AugmentationSeed(3));
        var content = new CheckpointContent { Model = probe.Module, WeightOptimizer = optimizer.Optimizer, Extra = probe.NormalizerState() };
        // An evaluation of another backbone (in a pipeline: the pre-training was extended) is stale: start afresh.
        var position = TryResume(content, generator, saved => BackboneChange(saved.DataState, backbone));
        int spe = batches.BatchesPerEpoch;
        long total = TotalSteps(spe, l.Epochs);
        if (position.IsDone(total)) return Completed(position, null);

        Started(l.Epochs, total, spe, position.Step);
        var clock = Env.NewClock(Stage);
        long step = position.Step;
        var metrics = new Dictionary<string, double>(position.Metrics);
        double best = metrics.GetValueOrDefault("lincls_best_top1", double.NegativeInfinity);
        var data = new Dictionary<string, long>(backbone);
        try
        {
            for (int epoch = position.Epoch; epoch < l.Epochs && step < total; epoch++)
            {
                int startBatch = epoch == position.Epoch ? position.StepInEpoch : 0;
                optimizer.SetEpoch(epoch);
                int inEpoch = startBatch;
                double lossSum = 0;
                int lossCount = 0;
                foreach (var batch in Env.TrainBatches(batches, epoch, startBatch, augmenter, stream: 3, views: 1))
                {
                    using var owned = batch;
                    if (step >= total) break;
                    double loss;
                    using (var scope = NewDisposeScope())
                    {
                        clock.StartData();
                        var view = augmenter.View(batch, generator);
                        var labels = batch.Labels.to(Env.Device);
                        clock.DataDone();
                        Tensor features;
                        using (no_grad()) features = model.BackboneFeatures(view);
                        loss = CheckFinite(probe.TrainStep(features, labels, optimizer), "classifier", step + 1, epoch);
                        clock.StepDone((int)batch.Count);
                    }
                    step++;
                    inEpoch++;
                    NativeMemory.MaybeCollect(step);
                    lossSum += loss;
                    lossCount++;
                    StepLogged(epoch, step, loss, null, optimizer, null);
                    if (Cancelled)
                    {
                        Save(content, generator, epoch, inEpoch, step, false, optimizer.Epoch, data, metrics, null);
                        return Finish(RunOutcome.Cancelled, $"cancelled at step {step}; resumable from {Env.Relative(CheckpointPath)}", metrics, null);
                    }
                }
                bool last = epoch == l.Epochs - 1 || step >= total;
                var acc = Evaluate(model, probe, transform);
                bool isBest = acc.Top1 > best;
                if (isBest) best = acc.Top1;
                metrics["lincls_top1"] = acc.Top1;
                if (Env.HasTop5) metrics["lincls_top5"] = acc.Top5;
                metrics["lincls_best_top1"] = best;
                Events.Emit(Stage, new LinearEvalLogged
                {
                    Epoch = epoch,
                    TrainLoss = lossCount > 0 ? lossSum / lossCount : double.NaN, Top1 = acc.Top1, Top5 = acc.Top5, IsBest = isBest,
                });
                EmitThroughput(clock, epoch, step);
                if (last || Cancelled || (epoch + 1) % o.CheckpointEveryEpochs == 0)
                    Save(content, generator, epoch + 1, 0, step, last, optimizer.Epoch, data, metrics, null);
                if (Cancelled && !last)
                    return Finish(RunOutcome.Cancelled, $"cancelled after epoch {epoch + 1} of {l.Epochs}; resumable from {Env.Relative(CheckpointPath)}", metrics, null);
            }
        }
        catch (NonFiniteLossException e)
        {
            return Finish(RunOutcome.Failed, e.Message, metrics, null);
        }
        return Finish(RunOutcome.Succeeded, null, metrics, null);
    }

    /// <summary>Top-1/top-5 of the probe on the whole test split (test transform, no augmentation).</summary>
    Accuracy Evaluate(SiameseModel model, LinearProbe probe, Data.Augmentation.EvalTransform transform)
    {
        long n = Env.Data.TestCount, hits1 = 0, hits5 = 0;
        InferenceChunks.ForEach(n, InferenceChunks.For(transform, Env.Data), Env.Data.ReadTest, batch =>
        {
            var (a, b) = probe.CountHits(model.BackboneFeatures(transform.Apply(batch.Images)), batch.Labels.to(Env.Device));
            hits1 += a;
            hits5 += b;
        });
        return n == 0 ? new Accuracy(0, 0) : new Accuracy(100.0 * hits1 / n, 100.0 * hits5 / n);
    }

    const string BackboneStep = "backbone_step", BackboneSavedAt = "backbone_saved_at";

    /// <summary>
    /// Why a lincls checkpoint does not belong to <paramref name="backbone"/> (the identity of the
    /// checkpoint evaluated now: its step and save time, recorded in the lincls checkpoint's data
    /// state), or null when it does.
    /// </summary>
    static string? BackboneChange(IReadOnlyDictionary<string, long> saved, IReadOnlyDictionary<string, long> backbone)
    {
        bool same = backbone.All(kv => saved.TryGetValue(kv.Key, out var v) && v == kv.Value);
        if (same) return null;
        string Describe(IReadOnlyDictionary<string, long> d) =>
            !d.TryGetValue(BackboneStep, out var step) ? "an unrecorded backbone"
            : step < 0 ? "an untrained backbone"
            : $"the backbone at step {step} saved {new DateTimeOffset(d.GetValueOrDefault(BackboneSavedAt), TimeSpan.Zero):O}";
        return $"the evaluated backbone changed since the last linear evaluation ({Describe(saved)} → {Describe(backbone)})";
    }

    /// <summary>
    /// The model whose backbone is evaluated (from the checkpoint's own options and genotype, or
    /// untrained) and the backbone's identity for the resume check: step and save time of its
    /// checkpoint ("backbone_step" = -1 when untrained).
    /// </summary>
    (SiameseModel Model, Dictionary<string, long> Identity) LoadBackbone()
    {
        if (backboneCheckpoint is null)
        {
            // A warning, not a log line: the run's number must not pass for a trained backbone's.
            Events.Warn(Stage, "backbone", $"no checkpoint given, so {RunRequestResolver.UntrainedBackbone}", 0);
            return (ModelBuilder.Fixed(Env, null, log: SetupLog), new Dictionary<string, long> { [BackboneStep] = -1 });
        }
        var state = CheckpointStore.ReadState(backboneCheckpoint);
        if (state.Stage is not ("pretrain" or "search"))
            throw new ArgumentException($"Checkpoint '{backboneCheckpoint}' is from stage '{state.Stage}'; linear evaluation needs a pretrain or search checkpoint.");
        var saved = RunOptions.FromJson(state.OptionsJson);
        if (saved.Framework != Options.Framework || saved.Backbone != Options.Backbone)
            Events.Log(Stage, "info", $"using the checkpoint's framework/backbone ({saved.Framework.ToName()}, {saved.Backbone})");
        bool search = state.Stage == "search";
        // The checkpoint's own genotype depth (method doc 2.6) and its own stem rule (its options, not this run's).
        var genotype = search || state.GenotypeText is null ? null : GenotypeRules.ParseAnyDepth(state.GenotypeText, saved.Framework);
        var model = ModelBuilder.Create(saved, search, genotype, Env.Device, ModelBuilder.CifarStem(saved), saved.Seed, SetupLog);
        CheckpointStore.Load(backboneCheckpoint, new CheckpointContent
        {
            Model = model, Alphas = search ? model.ArchParameters() : null,
        });
        Events.Log(Stage, "info", $"backbone from {backboneCheckpoint} (stage {state.Stage} after {state.Epoch} epoch(s), step {state.Step})");
        // Also here, not only in the request's notice: the run's own events keep it next to the top-1 it qualifies (page, log, API).
        if (CheckpointState.UnfinishedBackboneNote(backboneCheckpoint, state) is { } unfinished) Events.Warn(Stage, "backbone", $"{BackboneInput}: {unfinished}", 0);
        return (model, new Dictionary<string, long> { [BackboneStep] = state.Step, [BackboneSavedAt] = state.SavedAt.UtcTicks });
    }
}

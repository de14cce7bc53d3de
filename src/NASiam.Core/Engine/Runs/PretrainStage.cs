using NASiam.Core.Data;
using NASiam.Core.Engine.Checkpoints;
using NASiam.Core.Engine.Optimization;
using NASiam.Core.Genotypes;
using NASiam.Core.Methods;
using NASiam.Core.Reporting;
using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Engine.Runs;

/// <summary>
/// Pre-training of a fixed architecture from scratch (method doc 6): the derived cells or the
/// baseline heads, the framework's loss and recipe, the kNN monitor each KnnEveryEpochs epochs
/// and a copy of the checkpoint as pretrain-best whenever kNN top-1 improves. More epochs on a
/// finished stage extend it (<see cref="ResumeGuard"/>); the best so far stays the best to beat.
/// </summary>
public sealed class PretrainStage(StageEnvironment env, Genotype? genotype) : SslStageBase(env, "pretrain")
{
    /// <summary>Path of the kNN-best checkpoint.</summary>
    public string BestPath => Env.CheckpointPath("pretrain-best");

    public StageResult Run()
    {
        var o = Options;
        var p = o.Pretrain;
        var genotypeText = genotype is null ? null : GenotypeText.Write(genotype);
        using var model = ModelBuilder.Fixed(Env, genotype, log: SetupLog);
        if (p.KnnEveryEpochs > 0 && !Env.HasTop5) Events.Log(Stage, "info", Env.NoTop5);
        using var optimizer = OptimizerFactory.CreateWeightOptimizer(ModelBuilder.Groups(model), WeightOptimizerSettings.ForPretrain(p));
        var batches = new BatchProvider(new IndexRange(0, Env.Data.TrainCount), p.BatchSize, o.Seed, stream: 2);
        var augmenter = Env.SslAugmenter();
        using var generator = new Generator(Env.AugmentationSeed(2));
        var content = new CheckpointContent { Model = model, WeightOptimizer = optimizer.Optimizer };
        // A checkpoint of other heads (in a pipeline: the search was extended and derived another
        // genotype) belongs to no input of this run: start afresh rather than skip or mix.
        var position = TryResume(content, generator, saved => saved.GenotypeText == genotypeText ? null
            : $"{Env.Relative(CheckpointPath)} pre-trained {saved.GenotypeText ?? "the baseline heads"}, this run pre-trains {genotypeText ?? "the baseline heads"}");
        // A fresh stage must not report an earlier run's best checkpoint as its own.
        if (position.Step == 0 && File.Exists(BestPath)) File.Delete(BestPath);
        string? BestIfAny() => File.Exists(BestPath) ? Env.Relative(BestPath) : null;
        int spe = batches.BatchesPerEpoch;
        long total = TotalSteps(spe, p.Epochs);
        if (position.IsDone(total)) return Completed(position, genotypeText, BestIfAny());

        Started(p.Epochs, total, spe, position.Step);
        using var probe = new CollapseProbe(Env);
        var clock = Env.NewClock(Stage);
        long step = position.Step;
        var metrics = new Dictionary<string, double>(position.Metrics) { ["head_parameters"] = model.HeadParameterCount() };
        double best = metrics.GetValueOrDefault("knn_best_top1", double.NegativeInfinity);
        double lastLoss = double.NaN;

        try
        {
            for (int epoch = position.Epoch; epoch < p.Epochs && step < total; epoch++)
            {
                int startBatch = epoch == position.Epoch ? position.StepInEpoch : 0;
                optimizer.SetEpoch(epoch);
                int inEpoch = startBatch;
                foreach (var batch in Env.TrainBatches(batches, epoch, startBatch, augmenter, stream: 2))
                {
                    using var owned = batch;
                    if (step >= total) break;
                    using (var scope = NewDisposeScope())
                    {
                        clock.StartData();
                        var (x1, x2) = augmenter.TwoViews(batch, generator);
                        clock.DataDone();
                        model.train();
                        Env.BeforeWeightStep?.Invoke(model, step);
                        lastLoss = OptimizerStep(model, optimizer, x1, x2, StepKind.Weight, step + 1, epoch);
                        clock.StepDone((int)batch.Count);
                    }
                    step++;
                    inEpoch++;
                    NativeMemory.MaybeCollect(step);
                    metrics["pretrain_final_loss"] = lastLoss;
                    StepLogged(epoch, step, lastLoss, null, optimizer, null);
                    if (Cancelled)
                    {
                        Save(content, generator, epoch, inEpoch, step, false, optimizer.Epoch, new Dictionary<string, long>(), metrics, genotypeText);
                        return Finish(RunOutcome.Cancelled, $"cancelled at step {step}; resumable from {Env.Relative(CheckpointPath)}", metrics, genotypeText, BestIfAny());
                    }
                }
                bool last = epoch == p.Epochs - 1 || step >= total;
                bool knn = p.KnnEveryEpochs > 0 && ((epoch + 1) % p.KnnEveryEpochs == 0 || last);
                bool improved = false;
                var acc = EpochEnd(model, probe, clock, epoch, step, knn, top1 => improved = top1 > best);
                if (acc is { } a)
                {
                    metrics["knn_top1"] = a.Top1;
                    if (Env.HasTop5) metrics["knn_top5"] = a.Top5;
                    if (improved) metrics["knn_best_top1"] = best = a.Top1;
                }
                if (last || improved || Cancelled || (epoch + 1) % o.CheckpointEveryEpochs == 0)
                    Save(content, generator, epoch + 1, 0, step, last, optimizer.Epoch, new Dictionary<string, long>(), metrics, genotypeText);
                if (improved) IO.AtomicFile.Copy(CheckpointPath, BestPath);
                if (Cancelled && !last)
                    return Finish(RunOutcome.Cancelled, $"cancelled after epoch {epoch + 1} of {p.Epochs}; resumable from {Env.Relative(CheckpointPath)}", metrics, genotypeText, BestIfAny());
            }
        }
        catch (NonFiniteLossException e)
        {
            return Finish(RunOutcome.Failed, e.Message, metrics, genotypeText, BestIfAny());
        }
        // Without a monitor the last checkpoint is the one to evaluate.
        return Finish(RunOutcome.Succeeded, null, metrics, genotypeText, BestIfAny());
    }

}

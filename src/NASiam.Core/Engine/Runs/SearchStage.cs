using NASiam.Core.Options;
using NASiam.Core.Data;
using NASiam.Core.Engine.Checkpoints;
using NASiam.Core.Engine.Evaluation;
using NASiam.Core.Engine.Optimization;
using NASiam.Core.Genotypes;
using NASiam.Core.Methods;
using NASiam.Core.Reporting;
using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Engine.Runs;

/// <summary>
/// The search stage (method doc 5): first-order DARTS alternation on a 50/50 split of the train
/// set. Per iteration the architecture step comes first, on a batch from the held-out alpha half
/// (a persistent cycling iterator, not a fresh one per step, D5), then the weight step. SimCLR
/// takes one alpha step per weight step unless Compat.SimClrAlphaStepPerEpoch (D7). Ends with
/// the argmax genotype. Resumable from checkpoints/search.ckpt at any step; a finished search asked
/// for more epochs continues from it (<see cref="ResumeGuard"/>).
/// </summary>
public sealed class SearchStage(StageEnvironment env) : SslStageBase(env, "search")
{
    /// <summary>Runs (or resumes, or returns the result of an already completed) search.</summary>
    public StageResult Run()
    {
        var o = Options;
        var s = o.Search;
        using var model = ModelBuilder.Search(Env, SetupLog);
        var alphas = model.ArchParameters();
        using var weightOpt = OptimizerFactory.CreateWeightOptimizer(ModelBuilder.Groups(model), WeightOptimizerSettings.ForSearch(s));
        using var alphaOpt = OptimizerFactory.CreateAlphaOptimizer(alphas, s);
        // Disjoint weight/alpha halves (method doc 5.1); on image folders a random class-balanced quarter
        // unless Compat.ImageNetSearchFirstQuarter reproduces the reference's first quarter by index (D20).
        // Said in the queue-time check's words (RunDataCheck), for a door that could not list the data (a web-only node).
        if (RunDataCheck.SearchSplitError(o, Env.Data.TrainCount, Env.ImageNetStyle && Env.Data is ImageFolderDataSet folder ? RunDataCheck.CountsOf(folder) : null) is { } tooSmall)
            throw new ArgumentException(tooSmall.ToString());
        var (weightBatches, alphaBatches) = SearchSplit.Providers(Env.Data, s.TrainPortion, Env.ImageNetStyle, o.Compat.ImageNetSearchFirstQuarter, s.BatchSize, o.Seed);
        var augmenter = Env.SslAugmenter();
        using var generator = new Generator(Env.AugmentationSeed(1));
        bool alphaPerEpoch = o.Framework == Framework.SimClr && o.Compat.SimClrAlphaStepPerEpoch;

        var content = new CheckpointContent { Model = model, Alphas = alphas, WeightOptimizer = weightOpt.Optimizer, AlphaOptimizer = alphaOpt.Optimizer };
        var position = TryResume(content, generator);
        int spe = weightBatches.BatchesPerEpoch;
        long total = TotalSteps(spe, s.Epochs);
        if (position.IsDone(total)) return Completed(position, DeriveText(model), restateTail: () => Concluded(model, s.Epochs, position.Step));
        var alphaIterator = alphaBatches.Cycle(new CyclingIteratorState(position.Data.GetValueOrDefault("alpha_pass"), (int)position.Data.GetValueOrDefault("alpha_next")));
        IReadOnlyDictionary<string, long> DataState() => new Dictionary<string, long>
        {
            ["alpha_pass"] = alphaIterator.State.Pass, ["alpha_next"] = alphaIterator.State.NextBatch,
        };
        var cells = model.SearchCells.Select(c => c.Name).ToArray();

        Started(s.Epochs, total, spe, position.Step);
        using var probe = new CollapseProbe(Env);
        var clock = Env.NewClock(Stage);
        long step = position.Step;
        // Carried over a resume, so a checkpoint saved before this process's first step keeps the last values.
        double lastLoss = position.Metrics.GetValueOrDefault("search_final_loss", double.NaN);
        double lastArchLoss = position.Metrics.GetValueOrDefault("search_final_arch_loss", double.NaN);
        string? lastWarning = null;

        void SaveCheckpoint(int nextEpoch, int stepInEpoch, bool completed) =>
            Save(content, generator, nextEpoch, stepInEpoch, step, completed, weightOpt.Epoch, DataState(), Metrics(), DeriveText(model), cells);
        Dictionary<string, double> Metrics() => new() { ["search_final_loss"] = lastLoss, ["search_final_arch_loss"] = lastArchLoss };

        try
        {
            for (int epoch = position.Epoch; epoch < s.Epochs && step < total; epoch++)
            {
                int startBatch = epoch == position.Epoch ? position.StepInEpoch : 0;
                weightOpt.SetEpoch(epoch);
                if (alphaPerEpoch && startBatch == 0) ArchitectureStep(model, alphaOpt, alphaBatches, alphaIterator, augmenter, generator, step);
                int inEpoch = startBatch;
                foreach (var batch in Env.TrainBatches(weightBatches, epoch, startBatch, augmenter, stream: 1))
                {
                    using var owned = batch;
                    if (step >= total) break;
                    using (var scope = NewDisposeScope())
                    {
                        clock.StartData();
                        var (w1, w2) = augmenter.TwoViews(batch, generator);
                        Tensor? a1 = null, a2 = null;
                        if (!alphaPerEpoch)
                        {
                            using var alphaBatch = ReadAlphaBatch(alphaIterator, augmenter);
                            (a1, a2) = augmenter.TwoViews(alphaBatch, generator);
                        }
                        clock.DataDone();
                        model.train();
                        if (a1 is not null)
                        {
                            // Architecture step first (5.4); the weight grads it leaves are cleared below.
                            lastArchLoss = OptimizerStep(model, alphaOpt, a1, a2!, StepKind.Architecture, step + 1, epoch);
                        }
                        Env.BeforeWeightStep?.Invoke(model, step);
                        lastLoss = OptimizerStep(model, weightOpt, w1, w2, StepKind.Weight, step + 1, epoch);
                        clock.StepDone((int)batch.Count * (a1 is null ? 1 : 2));
                    }
                    step++;
                    inEpoch++;
                    NativeMemory.MaybeCollect(step);
                    StepLogged(epoch, step, lastLoss, alphaPerEpoch ? null : lastArchLoss, weightOpt, alphaOpt);
                    if (step % o.AlphaLogEverySteps == 0) AlphasLogged(model, epoch, step);
                    if (Cancelled)
                    {
                        // A stopped search's genotype is the argmax at this step: its last alpha snapshot says which step (the doors name it).
                        if (step % o.AlphaLogEverySteps != 0) AlphasLogged(model, epoch, step);
                        SaveCheckpoint(epoch, inEpoch, completed: false);
                        return Finish(RunOutcome.Cancelled, $"cancelled at step {step}; resumable from {Env.Relative(CheckpointPath)}", Metrics(), DeriveText(model));
                    }
                }
                bool last = epoch == s.Epochs - 1 || step >= total;
                EpochEnd(model, probe, clock, epoch, step, knn: false);
                lastWarning = ArchitectureWarning(model, step, lastWarning);
                if (last || Cancelled || (epoch + 1) % o.CheckpointEveryEpochs == 0)
                    SaveCheckpoint(epoch + 1, 0, completed: last);
                if (Cancelled && !last)
                {
                    if (step % o.AlphaLogEverySteps != 0) AlphasLogged(model, epoch, step);
                    return Finish(RunOutcome.Cancelled, $"cancelled after epoch {epoch + 1} of {s.Epochs}; resumable from {Env.Relative(CheckpointPath)}", Metrics(), DeriveText(model));
                }
            }
        }
        catch (NonFiniteLossException e)
        {
            return Finish(RunOutcome.Failed, e.Message, Metrics(), DeriveText(model));
        }
        var text = Concluded(model, s.Epochs, step);
        return Finish(RunOutcome.Succeeded, null, Metrics(), text);
    }

    /// <summary>What a finished search emits after its last checkpoint: the final alphas (unless just logged) and the derived genotype.</summary>
    string Concluded(SiameseModel model, int epochs, long step)
    {
        if (step % Options.AlphaLogEverySteps != 0) AlphasLogged(model, Math.Max(0, epochs - 1), step);
        var text = DeriveText(model);
        Events.Emit(Stage, new GenotypeDerived { GenotypeText = text });
        return text;
    }

    /// <summary>The next architecture batch; a streamed folder's crops are keyed by the iterator's position (stream 11), so they survive a resume.</summary>
    ImageBatch ReadAlphaBatch(CyclingBatchIterator iterator, Data.Augmentation.TwoViewAugmenter augmenter)
    {
        var at = iterator.State;
        return Env.ReadTrainViews(iterator.Next(), augmenter, Env.CropKey(11, at.Pass, at.NextBatch));
    }

    void ArchitectureStep(SiameseModel model, ScheduledOptimizer alphaOpt, BatchProvider alphaBatches, CyclingBatchIterator iterator,
        Data.Augmentation.TwoViewAugmenter augmenter, Generator generator, long step)
    {
        using var scope = NewDisposeScope();
        using var batch = ReadAlphaBatch(iterator, augmenter);
        var (a1, a2) = augmenter.TwoViews(batch, generator);
        model.train();
        OptimizerStep(model, alphaOpt, a1, a2, StepKind.Architecture, step, -1);
    }

    /// <summary>The current argmax genotype in the reference text format.</summary>
    public static string DeriveText(SiameseModel model) => GenotypeText.Write(Derive(model));

    /// <summary>The current argmax genotype of a search model.</summary>
    public static Genotype Derive(SiameseModel model) =>
        AlphaDiagnostics.Derive(model.Framework, model.SearchCells.ToDictionary(c => c.Name, c => c.Cell.AlphaValues()));

    void AlphasLogged(SiameseModel model, int epoch, long step)
    {
        var cells = model.SearchCells.Select(c => AlphaDiagnostics.Summarise(c.Name, c.Cell.AlphaValues(), model.Framework)).ToList();
        Events.Emit(Stage, new Reporting.AlphasLogged
        {
            Epoch = epoch, Step = step, Cells = cells, GenotypeText = DeriveText(model),
        });
    }

    string? ArchitectureWarning(SiameseModel model, long step, string? previous)
    {
        var cells = model.SearchCells.Select(c => AlphaDiagnostics.Summarise(c.Name, c.Cell.AlphaValues(), model.Framework));
        var message = string.Join(" ", AlphaDiagnostics.ArchitectureWarnings(cells));
        if (message.Length == 0) return null;
        if (message != previous) Events.Warn(Stage, "architecture", message, step);
        return message;
    }
}

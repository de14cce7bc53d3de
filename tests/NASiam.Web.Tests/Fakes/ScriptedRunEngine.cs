using System.Globalization;
using NASiam.Core;
using NASiam.Core.Engine;
using NASiam.Core.Genotypes;
using NASiam.Core.Options;
using NASiam.Core.Reporting;
using NASiam.Core.Search;

namespace NASiam.Web.Tests.Fakes;

/// <summary>
/// A deterministic stand-in for the real engine in web tests: a SimSiam search that emits the
/// engine's event types (steps, alphas whose winners change, collapse, kNN, throughput,
/// checkpoints), honours cancellation within a step, resumes from its newest checkpoint file and
/// writes genotype.txt/json like the real engine. <paramref name="stopMilliseconds"/>: how long a cancelled
/// attempt takes to stop (a real one finishes its step and writes a checkpoint), before it checkpoints.
/// </summary>
public sealed class ScriptedRunEngine(int totalSteps = 12, int stepMilliseconds = 10, int checkpointEvery = 4, int stopMilliseconds = 0) : IRunEngine
{
    public int Calls { get; private set; }
    /// <summary>The headline metrics a succeeded run returns (default: search_final_loss -0.9).</summary>
    public IReadOnlyDictionary<string, double> FinalMetrics { get; init; } = new Dictionary<string, double> { ["search_final_loss"] = -0.9 };
    /// <summary>The options of the latest call, as the job handed them over.</summary>
    public RunOptions? LastOptions { get; private set; }

    public RunResult Run(RunOptions options, RunContext context, ITrainingObserver observer, CancellationToken ct)
    {
        options.EnsureValid();
        Calls++;
        LastOptions = options;
        var ckptDir = Path.Combine(context.OutputDirectory, "checkpoints");
        Directory.CreateDirectory(ckptDir);
        // Like the engine: the attempt numbers its events after its newest checkpoint's and says so first.
        var (start, seq) = context.Resume ? NewestCheckpoint(ckptDir) : (0, 0);
        seq = Math.Max(seq, context.FirstSequence);
        void Emit(TrainingEvent e) => observer.On(e);
        Emit(new RunStarted { RunId = context.RunId, Sequence = seq++, At = DateTimeOffset.UtcNow, Stage = "run", Kind = "search",
            ResumedFrom = start > 0 ? "checkpoints" : null });

        Emit(new StageStarted { RunId = context.RunId, Sequence = seq++, At = DateTimeOffset.UtcNow, Stage = "search",
            TotalEpochs = totalSteps / checkpointEvery, TotalSteps = totalSteps, StepsPerEpoch = checkpointEvery, ResumedAtStep = start, Device = "cpu" });
        string genotype = Genotype(start);
        for (long step = start + 1; step <= totalSteps; step++)
        {
            if (ct.WaitHandle.WaitOne(stepMilliseconds) || ct.IsCancellationRequested)
            {
                Thread.Sleep(stopMilliseconds);
                SaveCheckpoint(step - 1);
                Emit(new StageFinished { RunId = context.RunId, Sequence = seq++, At = DateTimeOffset.UtcNow, Stage = "search", Outcome = RunOutcome.Cancelled });
                return new RunResult { Outcome = RunOutcome.Cancelled, Message = "cancelled", NextSequence = seq };
            }
            int epoch = (int)((step - 1) / checkpointEvery);
            Emit(new StepLogged { RunId = context.RunId, Sequence = seq++, At = DateTimeOffset.UtcNow, Stage = "search", Epoch = epoch, Step = step,
                Loss = -0.5 - 0.4 * step / totalSteps, ArchLoss = -0.45 - 0.4 * step / totalSteps,
                LearningRates = new Dictionary<string, double> { ["encoder"] = 0.03 * (1 - (double)step / totalSteps), ["alpha"] = 1e-3 } });
            if (step % 2 == 0)
            {
                genotype = Genotype(step);
                Emit(new AlphasLogged { RunId = context.RunId, Sequence = seq++, At = DateTimeOffset.UtcNow, Stage = "search", Epoch = epoch, Step = step,
                    Cells = [Cell("encoder", 6, step), Cell("predictor", 4, step)], GenotypeText = genotype });
            }
            if (step % checkpointEvery == 0)
            {
                Emit(new CollapseLogged { RunId = context.RunId, Sequence = seq++, At = DateTimeOffset.UtcNow, Stage = "search", Epoch = epoch, Step = step,
                    Output = "z (projector output, 256-d)", Dimension = 256, NormalizedStd = 0.05, StdRatio = 0.8, EffectiveRank = 40 + step,
                    Alignment = 0.5, Uniformity = -2, ProbeSize = 64 });
                Emit(new ThroughputLogged { RunId = context.RunId, Sequence = seq++, At = DateTimeOffset.UtcNow, Stage = "search", Epoch = epoch, Step = step,
                    ImagesPerSecond = 500, DataSecondsPerStep = 0.01, ComputeSecondsPerStep = 0.1, RssMib = 700 + step / 100.0, PeakRssMib = 900 });
                Emit(new KnnLogged { RunId = context.RunId, Sequence = seq++, At = DateTimeOffset.UtcNow, Stage = "search", Epoch = epoch,
                    Top1 = 10 + step, Top5 = 50 + step, Protocol = "k=20", IsBest = true });
                SaveCheckpoint(step);
            }
        }
        File.WriteAllText(Path.Combine(context.OutputDirectory, "genotype.txt"), genotype);
        File.WriteAllText(Path.Combine(context.OutputDirectory, "genotype.json"), GenotypeJson.Write(GenotypeText.Parse(genotype), Framework.SimSiam));
        Emit(new GenotypeDerived { RunId = context.RunId, Sequence = seq++, At = DateTimeOffset.UtcNow, Stage = "search", GenotypeText = genotype });
        Emit(new StageFinished { RunId = context.RunId, Sequence = seq++, At = DateTimeOffset.UtcNow, Stage = "search", Outcome = RunOutcome.Succeeded,
            Metrics = FinalMetrics });
        return new RunResult { Outcome = RunOutcome.Succeeded, GenotypeText = genotype, NextSequence = seq,
            Metrics = FinalMetrics,
            Artifacts = new Dictionary<string, string> { ["search"] = "genotype.txt" } };

        void SaveCheckpoint(long step)
        {
            var name = $"step-{step:D4}.ckpt";
            var path = Path.Combine(ckptDir, name);
            File.WriteAllText(path, string.Create(CultureInfo.InvariantCulture, $"{step} {seq + 1}")); // step, NextSequence
            Emit(new CheckpointSaved { RunId = context.RunId, Sequence = seq++, At = DateTimeOffset.UtcNow, Stage = "search",
                Name = name, Path = Path.Combine("checkpoints", name), Epoch = (int)(step / checkpointEvery), Step = step });
        }
    }

    static (long Step, long NextSequence) NewestCheckpoint(string dir) =>
        Directory.EnumerateFiles(dir, "step-*.ckpt")
            .Select(f => File.ReadAllText(f).Split(' ').Select(x => long.Parse(x, CultureInfo.InvariantCulture)).ToArray())
            .Select(v => (v[0], v[1])).DefaultIfEmpty((0, 0)).MaxBy(v => v.Item1);

    /// <summary>Softmax rows that drift: each layer's winner moves from its initial op to a favoured op.</summary>
    public static double[] Weights(int layer, long step)
    {
        var logits = Enumerable.Range(0, OperationNames.Count)
            .Select(o => Math.Sin(layer + 2 * o) + (o == (layer * 3 + 1) % OperationNames.Count ? 0.02 * step : 0)).ToArray();
        var max = logits.Max();
        var exp = logits.Select(l => Math.Exp(l - max)).ToArray();
        var sum = exp.Sum();
        return exp.Select(e => e / sum).ToArray();
    }

    static CellAlphas Cell(string name, int layers, long step)
    {
        var ops = OperationNames.SimSiamMoCoOrder;
        return new CellAlphas(name, ops, Enumerable.Range(0, layers).Select(l =>
        {
            var w = Weights(l, step);
            var sorted = w.OrderDescending().ToArray();
            var entropy = -w.Sum(p => p * Math.Log(p));
            return new AlphaLayer(l, w, ops[GenotypeDerivation.ArgmaxLastTie(w)], entropy, sorted[0] - sorted[1]);
        }).ToArray());
    }

    static string Genotype(long step)
    {
        var ops = OperationNames.SimSiamMoCoOrder;
        double[][] Rows(int n) => Enumerable.Range(0, n).Select(l => Weights(l, step)).ToArray();
        return GenotypeText.Write(GenotypeDerivation.Derive(Framework.SimSiam, Rows(6), Rows(4)));
    }
}

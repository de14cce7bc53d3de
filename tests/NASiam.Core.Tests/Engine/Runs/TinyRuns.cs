using NASiam.Core.Engine;
using NASiam.Core.Options;
using NASiam.Core.Reporting;

namespace NASiam.Core.Tests.Engine.Runs;

/// <summary>Tiny, fast run options (resnet-tiny, 256 synthetic images, batch 32) and a run helper.</summary>
static class TinyRuns
{
    public static RunOptions Options(Framework framework, RunKind kind, int searchEpochs = 1, int pretrainEpochs = 1, int linearEpochs = 1)
    {
        var b = RunPresets.ForFramework(framework);
        return b with
        {
            Kind = kind, Backbone = "resnet-tiny", Dataset = "synthetic", SyntheticTrainSize = 256, Device = "cpu", Threads = 2,
            Seed = 5, AlphaLogEverySteps = 2,
            Heads = b.Heads with { Dim = framework == Framework.SimSiam ? 64 : 32, PredDim = 16, QueueSize = 128 },
            Search = b.Search with { Epochs = searchEpochs, BatchSize = 32 },
            Pretrain = b.Pretrain with { Epochs = pretrainEpochs, BatchSize = 32, KnnK = 10, Genotype = kind == RunKind.Pipeline ? null : "standard" },
            Linear = b.Linear with { Epochs = linearEpochs, BatchSize = 64, Lr = framework == Framework.SimClr ? 1e-2 : 1.0, LrScaling = LrScaling.Absolute },
        };
    }

    public static (RunResult Result, RecordingObserver Events) Run(RunOptions options, string dir, CancellationToken token = default,
        NasiamEngine? engine = null, ITrainingObserver? extra = null, bool resume = true)
    {
        var recorder = new RecordingObserver();
        ITrainingObserver observer = extra is null ? recorder : new CompositeObserver(recorder, extra);
        var result = (engine ?? new NasiamEngine()).Run(options, new RunContext { RunId = Guid.NewGuid(), OutputDirectory = dir, Resume = resume }, observer, token);
        return (result, recorder);
    }

    /// <summary>Cancels its token when <paramref name="when"/> matches an event.</summary>
    public sealed class CancelWhen(Func<TrainingEvent, bool> when) : ITrainingObserver
    {
        public CancellationTokenSource Source { get; } = new();
        public void On(TrainingEvent e) { if (when(e)) Source.Cancel(); }
    }
}

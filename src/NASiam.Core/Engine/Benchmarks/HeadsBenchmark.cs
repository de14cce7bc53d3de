using System.Diagnostics;
using NASiam.Core.Engine.Optimization;
using NASiam.Core.Losses;
using NASiam.Core.Search;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NASiam.Core.Engine.Benchmarks;

/// <summary>What <see cref="HeadsBenchmark"/> measures with (defaults: the reference's SimSiam ResNet-18 search heads).</summary>
public sealed record HeadsBenchmarkOptions
{
    public int BatchSize { get; init; } = 32;
    public int Steps { get; init; } = 30;
    public int Warmup { get; init; } = 5;
    /// <summary>Torch threads (0 = all cores).</summary>
    public int Threads { get; init; }
    /// <summary>Backbone feature width (ResNet-18: 512).</summary>
    public int FeatureDim { get; init; } = 512;
    public int Dim { get; init; } = 2048;
    public int PredDim { get; init; } = 512;
    public int EncoderLayers { get; init; } = 6;
    public int PredictorLayers { get; init; } = 4;
}

/// <summary>Median seconds per phase of one heads-only weight step, for one head implementation.</summary>
public sealed record HeadsTiming(string Variant, double Forward, double Backward, double Optimizer)
{
    /// <summary>Median process CPU seconds (all threads) of forward + backward: less sensitive than wall time to other processes on a shared host.</summary>
    public double CpuForwardBackward { get; init; } = double.NaN;
    public double ForwardBackward => Forward + Backward;
}

/// <summary>
/// The SimSiam search heads alone, as the reference's SimSiamSearch builds them (projector cell on
/// the backbone features, fc + BN(affine=false), predictor cell, symmetric negative cosine, SGD with
/// momentum 0.9 and wd 5e-4): forward, backward and optimizer step on random [B, FeatureDim]
/// features, so the heads' cost can be compared with PyTorch (bench/engine/heads_ref.py) without
/// the backbone. Each variant is measured alternately step by step
/// in one process (A/B against the same load); medians per variant.
/// </summary>
public static class HeadsBenchmark
{
    /// <summary>A head implementation under test: builds the cells (projector, predictor) for the options.</summary>
    /// <param name="Name">The variant's name in the report.</param>
    /// <param name="Build">Builds the projector and predictor cells for the options.</param>
    /// <param name="ViewBatched">Run the heads once on both views stacked [N, 2, ·] (the engine's default) instead of once per view.</param>
    public sealed record Variant(string Name, Func<HeadsBenchmarkOptions, (nn.Module<Tensor, Tensor> Projector, nn.Module<Tensor, Tensor> Predictor)> Build,
        bool ViewBatched = false);

    static (nn.Module<Tensor, Tensor>, nn.Module<Tensor, Tensor>) BuildSearchCells(HeadsBenchmarkOptions o)
    {
        var ops = new OperationSet(Framework.SimSiam);
        return (new SearchCell(ops, o.FeatureDim, o.EncoderLayers),
            new SearchCell(ops, o.Dim, o.PredictorLayers, o.PredDim, o.Dim));
    }

    /// <summary>The engine's SearchCells, called once per view (the reference's call pattern).</summary>
    public static Variant SearchCells { get; } = new("search-cells", BuildSearchCells);

    /// <summary>The engine's SearchCells, called once on both views stacked (<see cref="Methods.SiameseModel.ViewBatchedHeads"/>).</summary>
    public static Variant ViewBatchedSearchCells { get; } = new("view-batched", BuildSearchCells, ViewBatched: true);

    public static IReadOnlyList<HeadsTiming> Run(HeadsBenchmarkOptions o, IReadOnlyList<Variant> variants, Action<string>? progress = null)
    {
        if (o.BatchSize < 2 || o.Steps < 1 || o.Warmup < 0) throw new ArgumentException("Benchmark needs batch >= 2, steps >= 1 and warmup >= 0.");
        TorchRuntime.SetThreads(o.Threads);
        var setups = variants.Select(v =>
        {
            manual_seed(0);
            var (projector, predictor) = v.Build(o);
            var fc = nn.Linear(o.FeatureDim, o.Dim);
            fc.bias!.requires_grad = false;
            var bn = new ViewBatchNorm1d(o.Dim, affine: false);
            var encoderParams = projector.parameters().Concat(fc.parameters()).Where(p => p.requires_grad).ToArray();
            var predictorParams = predictor.parameters().Where(p => p.requires_grad).ToArray();
            double lr = 0.06 * o.BatchSize / 256;
            var opt = new InPlace.SGD([new SGD.ParamGroup(encoderParams, lr, 0.9, 0, 5e-4, false, false), new SGD.ParamGroup(predictorParams, lr, 0.9, 0, 5e-4, false, false)],
                lr, 0.9, 0, 5e-4);
            foreach (var m in new nn.Module[] { projector, predictor, fc, bn }) m.train();
            return (v.Name, v.ViewBatched, projector, predictor, fc, bn, opt, Times: new List<(double F, double B, double O, double Cpu)>());
        }).ToList();
        using var g = new Generator(1);
        var features = Enumerable.Range(0, 4).Select(_ => (randn([o.BatchSize, o.FeatureDim], generator: g), randn([o.BatchSize, o.FeatureDim], generator: g))).ToArray();
        for (int i = 0; i < o.Warmup + o.Steps; i++)
        {
            foreach (var s in setups)
            {
                using var scope = NewDisposeScope();
                var (h1, h2) = features[i % features.Length];
                var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
                var clock = Stopwatch.StartNew();
                Tensor loss;
                if (s.ViewBatched)
                {
                    var z = s.bn.call(s.fc.call(s.projector.call(stack([h1, h2], 1))));
                    loss = SiameseLosses.SimSiam(s.predictor.call(z), z);
                }
                else
                {
                    var z1 = s.bn.call(s.fc.call(s.projector.call(h1)));
                    var z2 = s.bn.call(s.fc.call(s.projector.call(h2)));
                    loss = SiameseLosses.SimSiam(s.predictor.call(z1), s.predictor.call(z2), z1, z2);
                }
                var f = clock.Elapsed.TotalSeconds;
                s.opt.zero_grad();
                loss.backward();
                var b = clock.Elapsed.TotalSeconds - f;
                var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
                s.opt.step();
                loss.ItemSingle();
                var total = clock.Elapsed.TotalSeconds;
                if (i >= o.Warmup) s.Times.Add((f, b, total - f - b, cpu));
                if ((i + 1) % NativeMemory.CollectEvery == 0) NativeMemory.Collect();
            }
            progress?.Invoke($"step {i + 1}/{o.Warmup + o.Steps}: " + string.Join(", ", setups.Select(s => s.Times.Count == 0 ? s.Name : $"{s.Name} {s.Times[^1].F + s.Times[^1].B:0.000}s")));
        }
        var result = setups.Select(s => new HeadsTiming(s.Name, Median(s.Times.Select(t => t.F)), Median(s.Times.Select(t => t.B)), Median(s.Times.Select(t => t.O))) { CpuForwardBackward = Median(s.Times.Select(t => t.Cpu)) }).ToList();
        foreach (var s in setups) { s.opt.Dispose(); s.projector.Dispose(); s.predictor.Dispose(); s.fc.Dispose(); s.bn.Dispose(); }
        foreach (var (a, b) in features) { a.Dispose(); b.Dispose(); }
        return result;
    }

    static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}

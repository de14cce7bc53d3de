using NASiam.Core.Engine.Optimization;
using NASiam.Core.Engine.Runs;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NASiam.Core.Engine.Evaluation;

/// <summary>
/// The linear classifier of method doc 7 on frozen features: Linear(D→C), weight ~ N(0, 0.01),
/// bias 0, trained with cross-entropy. The caller produces the features (backbone in eval mode,
/// no grad), so only this layer learns. Optionally the features first pass a BatchNorm1d without
/// affine parameters (the MAE / solo-learn probe): it only standardises each feature, so the
/// classifier stays linear in the features, but the reference's lr 30 no longer diverges on
/// backbones whose feature scale differs from ResNet's. Nothing non-finite passes silently: a
/// training step refuses non-finite input features and checks the classifier's weights and the
/// normaliser's running statistics after the update, and evaluation refuses non-finite logits, each
/// with a <see cref="NonFiniteLossException"/> naming the tensor (the stages end as failed on it).
/// </summary>
public sealed class LinearProbe : IDisposable
{
    readonly Linear _fc;
    readonly Search.ViewBatchNorm1d? _norm;

    /// <param name="featureDim">D, the backbone feature width.</param>
    /// <param name="classes">C, the class count.</param>
    /// <param name="device">Device of the features.</param>
    /// <param name="seed">Seed of the N(0, 0.01) initialisation.</param>
    /// <param name="normalizeFeatures">Standardise features with a non-affine BatchNorm1d (batch statistics in training, running ones in evaluation).</param>
    public LinearProbe(int featureDim, int classes, Device device, long seed, bool normalizeFeatures = false)
    {
        if (featureDim < 1 || classes < 2) throw new ArgumentException($"A linear probe needs D >= 1 and at least 2 classes (got D={featureDim}, C={classes}).");
        _fc = nn.Linear(featureDim, classes);
        using (no_grad())
        using (var g = new Generator((ulong)seed))
        {
            _fc.weight!.copy_(normal(0, 0.01, [classes, featureDim], generator: g));
            _fc.bias!.fill_(Scalars.Zero);
        }
        _fc.to(device);
        if (normalizeFeatures)
        {
            _norm = new Search.ViewBatchNorm1d(featureDim, eps: 1e-6, affine: false); // PyTorch BatchNorm1d without TorchSharp's per-step Scalars
            _norm.to(device);
        }
        Classes = classes;
    }

    public int Classes { get; }
    /// <summary>The classifier (for optimizer construction and checkpoints).</summary>
    public Linear Module => _fc;

    /// <summary>Whether features are standardised before the classifier.</summary>
    public bool NormalizesFeatures => _norm is not null;

    /// <summary>The feature normaliser's running statistics by name (empty without one), for checkpoints.</summary>
    public IDictionary<string, Tensor> NormalizerState() => _norm is null
        ? new Dictionary<string, Tensor>()
        : new Dictionary<string, Tensor> { ["probe_norm_mean"] = _norm.RunningMean, ["probe_norm_var"] = _norm.RunningVar };

    /// <summary>The trainable tensors (weight, bias).</summary>
    public IReadOnlyList<Parameter> Parameters() => _fc.parameters().ToList();

    /// <summary>
    /// One SGD/Adam step on a batch of features [B,D] and int64 labels [B]; returns the loss.
    /// Throws <see cref="ArgumentException"/> for a batch of one sample when features are normalised
    /// (its variance is undefined and would make the running variance NaN), and
    /// <see cref="NonFiniteLossException"/> when a feature is NaN/infinite or when, after the step,
    /// a classifier weight or a running statistic is.
    /// </summary>
    public double TrainStep(Tensor features, Tensor labels, ScheduledOptimizer optimizer)
    {
        using var scope = NewDisposeScope();
        if (_norm is not null && features.shape[0] < 2)
            throw new ArgumentException($"The linear probe's feature normalisation needs training batches of at least 2 samples; got {features.shape[0]} (one sample's variance is undefined and would turn the running variance into NaN).");
        RequireFinite(features, "input features of a training batch (the frozen backbone's output)");
        _fc.train();
        var input = features.detach();
        if (_norm is not null)
        {
            _norm.train();
            input = _norm.forward(input);
        }
        optimizer.ZeroGrad();
        var loss = nn.functional.cross_entropy(_fc.forward(input), labels);
        loss.backward();
        optimizer.Step();
        using (no_grad())
        {
            RequireFinite(_fc.weight!, "classifier weight after the step");
            RequireFinite(_fc.bias!, "classifier bias after the step");
            if (_norm is not null)
            {
                RequireFinite(_norm.RunningMean, "feature normaliser running_mean (probe_norm_mean)");
                RequireFinite(_norm.RunningVar, "feature normaliser running_var (probe_norm_var)");
            }
        }
        return loss.ItemSingle();
    }

    /// <summary>Throws <see cref="NonFiniteLossException"/> naming <paramref name="what"/> when any element of <paramref name="t"/> is NaN or infinite.</summary>
    internal static void RequireFinite(Tensor t, string what)
    {
        using var scope = NewDisposeScope();
        var bad = t.isfinite().logical_not().sum().ItemInt64();
        if (bad == 0) return;
        var nan = t.isnan().sum().ItemInt64();
        throw new NonFiniteLossException($"Linear probe: {bad} of {t.numel()} values of the {what} are not finite ({nan} NaN, {bad - nan} infinite); the stage stops rather than report a meaningless accuracy.");
    }

    /// <summary>Logits [B,C] without grad.</summary>
    public Tensor Predict(Tensor features)
    {
        using var _ = no_grad();
        _fc.eval();
        if (_norm is null) return _fc.forward(features);
        _norm.eval();
        return _fc.forward(_norm.forward(features));
    }

    /// <summary>
    /// Counts of top-1 and top-5 hits in a batch (top-5 clamped to C). Throws
    /// <see cref="NonFiniteLossException"/> when a logit is NaN or infinite (a NaN ranks arbitrarily and would give a chance-level accuracy).
    /// </summary>
    public (long Top1, long Top5) CountHits(Tensor features, Tensor labels)
    {
        using var scope = NewDisposeScope();
        var logits = Predict(features);
        RequireFinite(logits, "logits of an evaluation batch");
        var top = Math.Min(5, Classes);
        var ranked = logits.topk(top, dim: 1).indexes;
        var hits = ranked.eq(labels.unsqueeze(1));
        return (hits.narrow(1, 0, 1).sum().ItemInt64(), hits.any(1).sum().ItemInt64());
    }

    /// <summary>Accuracy in percent over batches of (features, labels).</summary>
    public Accuracy Evaluate(IEnumerable<(Tensor Features, Tensor Labels)> batches)
    {
        long n = 0, t1 = 0, t5 = 0;
        foreach (var (f, l) in batches)
        {
            var (a, b) = CountHits(f, l);
            t1 += a; t5 += b; n += l.shape[0];
        }
        return n == 0 ? new Accuracy(0, 0) : new Accuracy(100.0 * t1 / n, 100.0 * t5 / n);
    }

    public void Dispose()
    {
        _fc.Dispose();
        _norm?.Dispose();
    }
}

using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NASiam.Core.Engine.Optimization;

/// <summary>
/// Faster steps for TorchSharp's SGD and Adam. The classes are named SGD and Adam on purpose:
/// TorchSharp writes the optimizer's type name into the saved state and refuses a different one
/// on load, so under these names checkpoints stay readable by and from TorchSharp's own classes.
/// </summary>
public static class InPlace
{
    /// <summary>
    /// Zeroes every existing gradient in place, as TorchSharp's zero_grad does (the same tensors stay
    /// allocated; none is set to null). TorchSharp 0.107's <c>Tensor.zero_()</c> is <c>zeros(shape)</c>, and each
    /// <c>shape</c> read leaves a native callback thunk (~128 bytes of C heap) that only the next GC frees:
    /// one per parameter per step, which fragmented glibc's heap between collections (bench/README.md,
    /// eleventh session). fill_ with a static zero makes none.
    /// </summary>
    public static void ZeroGradients(IEnumerable<Parameter> parameters)
    {
        foreach (var p in parameters)
        {
            using var grad = p.grad;
            grad?.fill_(Scalars.Zero);
        }
    }

    /// <summary>
    /// torch.optim.SGD (TorchSharp's <see cref="TorchSharp.Modules.SGD"/>: same update, same state, same checkpoint
    /// format) with a cheaper step: the weight-decay term is added to the gradient in place instead of
    /// into a fresh tensor, and every scalar is created once per group and disposed explicitly.
    /// TorchSharp's own step allocates a temporary the size of every parameter (grad + wd·θ) and four
    /// implicit native Scalars per parameter that only the finalizer frees; over the ~23 M floats of
    /// the SimSiam search heads that made the step 6.5× slower (128 vs 19 ms per step, one thread).
    /// Results are bitwise those of <see cref="TorchSharp.Modules.SGD"/> (the same kernels on the same values; the first
    /// momentum buffer is a clone of the decayed gradient, as in PyTorch). After a step each gradient
    /// holds grad + wd·θ; the engine zeroes gradients before the next backward, as it always does.
    /// Nesterov, maximize and closures fall back to TorchSharp's step.
    /// </summary>
    public sealed class SGD : TorchSharp.Modules.SGD
    {
        /// <summary>Same arguments as <see cref="TorchSharp.Modules.SGD"/>'s group constructor.</summary>
        public SGD(IEnumerable<ParamGroup> groups, double lr, double momentum, double dampening, double weightDecay)
            : base(groups, lr, momentum, dampening, weightDecay, nesterov: false, maximize: false)
        {
        }

        /// <summary>Zeroes the gradients in place without TorchSharp's per-parameter shape read (<see cref="ZeroGradients"/>).</summary>
        public override void zero_grad() => ZeroGradients(_parameter_groups.SelectMany(g => g.Parameters));

        /// <inheritdoc />
        public override Tensor step(Func<Tensor>? closure = null)
        {
            if (closure is not null || _parameter_groups.Any(g => ((ParamGroup)g).Options is { nesterov: true } or { maximize: true }))
                return base.step(closure!);
            using var noGrad = no_grad();
            foreach (var pg in _parameter_groups)
            {
                var o = ((ParamGroup)pg).Options;
                double wd = o.weight_decay!.Value, momentum = o.momentum!.Value, dampening = o.dampening!.Value;
                using var wdS = wd.ToScalar();
                using var momentumS = momentum.ToScalar();
                using var dampS = (1 - dampening).ToScalar();
                using var negLr = (-o.LearningRate!.Value).ToScalar();
                foreach (var p in pg.Parameters)
                {
                    using var grad = p.grad;
                    if (grad is null) continue;
                    if (wd != 0) grad.add_(p, wdS);
                    var direction = grad;
                    if (momentum != 0)
                    {
                        var state = (State)_state[p.Handle];
                        if (state.momentum_buffer is null)
                            state.momentum_buffer = grad.clone().detach().DetachFromDisposeScope();
                        else
                            state.momentum_buffer.mul_(momentumS).add_(grad, dampS);
                        direction = state.momentum_buffer;
                    }
                    p.add_(direction, negLr);
                }
            }
            return null!;
        }
    }

    /// <summary>
    /// torch.optim.Adam (TorchSharp's <see cref="TorchSharp.Modules.Adam"/>: same update, state and checkpoint format)
    /// with an in-place step: L2 decay is added to the gradient in place, the denominator is built in
    /// one buffer (√v / √(1−β₂ᵗ) + ε), and scalars are explicit and disposed. Bitwise equal to
    /// <see cref="TorchSharp.Modules.Adam"/>. After a step each gradient holds grad + wd·θ. AMSGrad, maximize and closures
    /// fall back to TorchSharp's step.
    /// </summary>
    public sealed class Adam : TorchSharp.Modules.Adam
    {
        /// <summary>Same arguments as <see cref="TorchSharp.Modules.Adam"/>'s group constructor.</summary>
        public Adam(IEnumerable<ParamGroup> groups, double lr, double beta1, double beta2, double eps, double weightDecay)
            : base(groups, lr, beta1, beta2, eps, weightDecay, amsgrad: false, maximize: false)
        {
        }

        /// <summary>Zeroes the gradients in place without TorchSharp's per-parameter shape read (<see cref="ZeroGradients"/>).</summary>
        public override void zero_grad() => ZeroGradients(_parameter_groups.SelectMany(g => g.Parameters));

        /// <inheritdoc />
        public override Tensor step(Func<Tensor>? closure = null)
        {
            if (closure is not null || _parameter_groups.Any(g => ((ParamGroup)g).Options is { amsgrad: true } or { maximize: true }))
                return base.step(closure!);
            using var noGrad = no_grad();
            foreach (var pg in _parameter_groups)
            {
                var o = (Options)((ParamGroup)pg).Options;
                using var c = new AdamCoefficients(o.beta1!.Value, o.beta2!.Value, o.eps!.Value, o.LearningRate!.Value);
                double wd = o.weight_decay!.Value;
                using var wdS = wd.ToScalar();
                foreach (var p in pg.Parameters)
                {
                    using var grad = p.grad;
                    if (grad is null) continue;
                    var state = (State)_state[p.Handle];
                    state.step += 1;
                    if (wd != 0) grad.add_(p, wdS);
                    c.Update(p, grad, state.step, state.exp_avg, state.exp_avg_sq);
                }
            }
            return null!;
        }
    }

    /// <summary>
    /// torch.optim.AdamW (TorchSharp's <see cref="TorchSharp.Modules.AdamW"/>: same update, state and checkpoint
    /// format; decoupled decay θ ← θ·(1 − lr·wd) before the moments, Loshchilov and Hutter 2019) with
    /// scalars that are explicit and disposed. TorchSharp's step makes about eight native Scalars per
    /// parameter that only the finalizer frees; on the alphas (the search's architecture step, method
    /// doc 5.2) they were freed in the middle of the next steps' activations and fragmented the C heap.
    /// Bitwise equal to <see cref="TorchSharp.Modules.AdamW"/>. AMSGrad, maximize and closures fall back to
    /// TorchSharp's step.
    /// </summary>
    public sealed class AdamW : TorchSharp.Modules.AdamW
    {
        /// <summary>Same arguments as <see cref="TorchSharp.Modules.AdamW"/>'s group constructor.</summary>
        public AdamW(IEnumerable<ParamGroup> groups, double lr, double beta1, double beta2, double eps, double weightDecay)
            : base(groups, lr, beta1, beta2, eps, weightDecay, amsgrad: false, maximize: false)
        {
        }

        /// <summary>Zeroes the gradients in place without TorchSharp's per-parameter shape read (<see cref="ZeroGradients"/>).</summary>
        public override void zero_grad() => ZeroGradients(_parameter_groups.SelectMany(g => g.Parameters));

        /// <inheritdoc />
        public override Tensor step(Func<Tensor>? closure = null)
        {
            if (closure is not null || _parameter_groups.Any(g => ((ParamGroup)g).Options is { amsgrad: true } or { maximize: true }))
                return base.step(closure!);
            using var noGrad = no_grad();
            foreach (var pg in _parameter_groups)
            {
                var o = (Options)((ParamGroup)pg).Options;
                using var c = new AdamCoefficients(o.beta1!.Value, o.beta2!.Value, o.eps!.Value, o.LearningRate!.Value);
                using var decay = (1 - o.LearningRate!.Value * o.weight_decay!.Value).ToScalar();
                foreach (var p in pg.Parameters)
                {
                    using var grad = p.grad;
                    if (grad is null) continue;
                    var state = (State)_state[p.Handle];
                    state.step += 1;
                    p.mul_(decay);
                    c.Update(p, grad, state.step, state.exp_avg, state.exp_avg_sq);
                }
            }
            return null!;
        }
    }
    /// <summary>
    /// One group's Adam coefficients as disposable Scalars, and the update Adam and AdamW share after
    /// their own decay (Kingma and Ba 2015, Algorithm 1, as torch.optim.Adam computes it):
    /// m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², θ ← θ − lr/(1−β₁ᵗ) · m / (√v / √(1−β₂ᵗ) + ε).
    /// </summary>
    sealed class AdamCoefficients(double beta1, double beta2, double eps, double lr) : IDisposable
    {
        readonly Scalar _beta1 = beta1.ToScalar(), _beta2 = beta2.ToScalar(), _oneMinusBeta1 = (1 - beta1).ToScalar(),
            _oneMinusBeta2 = (1 - beta2).ToScalar(), _eps = eps.ToScalar();

        /// <summary>Updates the moments and the parameter in place; <paramref name="step"/> is t, already counted.</summary>
        public void Update(Tensor p, Tensor grad, long step, Tensor expAvg, Tensor expAvgSq)
        {
            double biasCorrection1 = 1 - Math.Pow(beta1, step);
            double biasCorrection2 = 1 - Math.Pow(beta2, step);
            expAvg.mul_(_beta1).add_(grad, _oneMinusBeta1);
            expAvgSq.mul_(_beta2).addcmul_(grad, grad, _oneMinusBeta2);
            using var sqrtBc2 = Math.Sqrt(biasCorrection2).ToScalar();
            using var denom = expAvgSq.sqrt();
            denom.div_(sqrtBc2).add_(_eps, Scalars.One);
            using var negStep = (-lr / biasCorrection1).ToScalar();
            p.addcdiv_(expAvg, denom, negStep);
        }

        public void Dispose()
        {
            foreach (var s in new[] { _beta1, _beta2, _oneMinusBeta1, _oneMinusBeta2, _eps }) s.Dispose();
        }
    }
}

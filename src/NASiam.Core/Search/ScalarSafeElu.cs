using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Search;

/// <summary>
/// torch.nn.ELU() (α = 1; any shape → the same shape), the activation of the linear-ELU candidate op
/// (method doc 2.3), without TorchSharp's per-call Scalars: its ELU module calls
/// <c>Tensor.elu(double)</c>, which makes three native Scalars (α, scale, input scale) that only the
/// finalizer frees, one set per op per forward. Here they are the engine's static ones. Same values
/// as TorchSharp's <see cref="TorchSharp.Modules.ELU"/> (the same libtorch kernel on the same arguments).
/// </summary>
public sealed class ScalarSafeElu : nn.Module<Tensor, Tensor>
{
    /// <summary>ELU with α = 1, scale 1 and input scale 1 (PyTorch's defaults).</summary>
    public ScalarSafeElu() : base("ELU") { }

    /// <inheritdoc />
    public override Tensor forward(Tensor x) => x.elu(Engine.Scalars.One, Engine.Scalars.One, Engine.Scalars.One);
}

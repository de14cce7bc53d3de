using Microsoft.CodeAnalysis;

namespace NASiam.Analyzers;

/// <summary>What the NASIAM rules recognise as TorchSharp's types.</summary>
static class TorchSymbols
{
    public static bool InTorchSharp(ITypeSymbol? type) => type?.ContainingNamespace?.ToDisplayString() == "TorchSharp";

    /// <summary>TorchSharp.Scalar.</summary>
    public static bool IsScalar(ITypeSymbol? type) => type is { Name: "Scalar" } && InTorchSharp(type);

    /// <summary>TorchSharp.torch.Tensor.</summary>
    public static bool IsTensor(ITypeSymbol? type) =>
        type is { Name: "Tensor" } && type.ContainingType?.Name == "torch" && InTorchSharp(type.ContainingType);
}

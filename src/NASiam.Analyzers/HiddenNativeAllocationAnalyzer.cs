using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;
using static NASiam.Analyzers.TorchSymbols;

namespace NASiam.Analyzers;

/// <summary>
/// NASIAM002: a TorchSharp 0.107 call that makes native memory only the GC frees, although the call
/// site passes no number (NASIAM001 covers those). Such blocks, allocated between a training step's
/// freed activations, fragmented glibc's heap until the next GC (issue 11; bench/README.md, eleventh
/// session), and a hidden Scalar can be finalized while libtorch reads it, as in NASIAM001:
/// <list type="bullet">
/// <item>one-argument <c>add</c>/<c>add_</c> (a hidden alpha Scalar 1): pass the alpha, <c>a.add(b, Scalars.One)</c>; the same for Tensor <c>+</c> and <c>Scalar − Tensor</c> anywhere (the data augmentation runs them every step too): <c>TensorMath.Plus</c>/<c>Minus</c>;</item>
/// <item>two-argument <c>addcdiv</c>/<c>addcdiv_</c>, <c>square()</c>, <c>elu(double)</c>: hidden Scalars;</item>
/// <item><c>zero_()</c>, which is <c>zeros(shape)</c>: use <c>fill_(Scalars.Zero)</c>;</item>
/// <item><c>item&lt;T&gt;()</c>, whose TensorAccessor marshals a stride callback: <c>ItemSingle()</c>, <c>ItemDouble()</c>, <c>ItemInt64()</c>;</item>
/// <item><c>shape</c> and <c>size()</c> inside a module's <c>forward</c>: each marshals a callback whose native thunk lives until the next GC; use <c>size(d)</c> and <c>dim()</c>;</item>
/// <item><c>nn.BatchNorm1d/2d/3d</c> and <c>nn.ELU</c>, whose forwards make Scalars: use ViewBatchNorm1d, ScalarSafeBatchNorm2d, ScalarSafeElu.</item>
/// </list>
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class HiddenNativeAllocationAnalyzer : DiagnosticAnalyzer
{
    public const string Id = "NASIAM002";

    static readonly DiagnosticDescriptor Rule = new(
        Id,
        "TorchSharp call that leaves native memory for the GC",
        "{0}: TorchSharp makes native memory here that only the GC frees (heap fragmentation between steps, and a Scalar freed while libtorch reads it); {1}",
        "Reliability",
        DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics => ImmutableArray.Create(Rule);

    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterOperationAction(OnInvocation, OperationKind.Invocation);
        context.RegisterOperationAction(OnOperator, OperationKind.Binary, OperationKind.CompoundAssignment);
        context.RegisterOperationAction(OnShape, OperationKind.PropertyReference);
    }

    static void OnInvocation(OperationAnalysisContext context)
    {
        var call = (IInvocationOperation)context.Operation;
        var m = call.TargetMethod;
        string? fix = null;
        if (IsTensor(m.ContainingType))
        {
            int n = m.Parameters.Length;
            fix = m.Name switch
            {
                "add" or "add_" when n == 1 => "pass the alpha explicitly, e.g. add(x, Scalars.One)",
                "addcdiv" or "addcdiv_" when n == 2 => "pass the value explicitly (a static or disposed Scalar)",
                "square" when n == 0 => "use mul(x, x) or pow with a static Scalar",
                "elu" or "elu_" when n == 1 && m.Parameters[0].Type.SpecialType == SpecialType.System_Double => "use elu(alpha, scale, inputScale) with static Scalars (ScalarSafeElu)",
                "zero_" when n == 0 => "TorchSharp's zero_() is zeros(shape); use fill_(Scalars.Zero)",
                "item" when n == 0 && m.IsGenericMethod => "its TensorAccessor reads the strides through a marshalled callback; use ItemSingle(), ItemDouble() or ItemInt64() (TensorMath)",
                "size" when n == 0 && InForward(context) && !InThrow(call) => "use size(d) and dim() in a forward",
                _ => null,
            };
        }
        else if (m.ContainingType?.Name == "nn" && m.ContainingType.ContainingType?.Name == "torch" && InTorchSharp(m.ContainingType))
        {
            fix = m.Name switch
            {
                "BatchNorm1d" or "BatchNorm3d" => "its forward makes Scalars; use ViewBatchNorm1d",
                "BatchNorm2d" => "its forward makes Scalars; use ScalarSafeBatchNorm2d",
                "ELU" => "its forward makes Scalars; use ScalarSafeElu",
                _ => null,
            };
        }
        if (fix is not null)
            context.ReportDiagnostic(Diagnostic.Create(Rule, call.Syntax.GetLocation(), $"'{m.ContainingType!.Name}.{m.Name}' with {m.Parameters.Length} argument(s)", fix));
    }

    static void OnOperator(OperationAnalysisContext context)
    {
        var method = context.Operation switch
        {
            IBinaryOperation b => b.OperatorMethod,
            ICompoundAssignmentOperation c => c.OperatorMethod,
            _ => null,
        };
        if (method is null || !IsTensor(method.ContainingType)) return;
        // The number overloads are NASIAM001's.
        if (!method.Parameters.All(p => IsTensor(p.Type) || IsScalar(p.Type))) return;
        // Tensor + Tensor, Tensor + Scalar and Scalar + Tensor call add(x), whose alpha 1 is a hidden
        // Scalar; Scalar − Tensor is negative().add(s), the same. (Tensor − x calls sub, which has none.)
        if (method.Name == "op_Addition")
            context.ReportDiagnostic(Diagnostic.Create(Rule, context.Operation.Syntax.GetLocation(),
                "The TorchSharp operator '+'", "write a.add(b, Scalars.One), or TensorMath.Plus(a, b)"));
        else if (method.Name == "op_Subtraction" && IsScalar(method.Parameters[0].Type))
            context.ReportDiagnostic(Diagnostic.Create(Rule, context.Operation.Syntax.GetLocation(),
                "The TorchSharp operator 'Scalar - Tensor'", "write TensorMath.Minus(s, t) (t.neg().add(s, Scalars.One))"));
    }

    static void OnShape(OperationAnalysisContext context)
    {
        var p = (IPropertyReferenceOperation)context.Operation;
        if (p.Property.Name != "shape" || !IsTensor(p.Property.ContainingType) || !InForward(context) || InThrow(p)) return;
        context.ReportDiagnostic(Diagnostic.Create(Rule, p.Syntax.GetLocation(),
            "'Tensor.shape' in a forward", "use size(d) and dim()"));
    }

    /// <summary>In an override named forward (a module's hot path); shape reads elsewhere (checks, set-up, messages) are left alone.</summary>
    static bool InForward(OperationAnalysisContext context) =>
        context.ContainingSymbol is IMethodSymbol { Name: "forward", IsOverride: true };

    /// <summary>Part of a throw (an error message may describe the shape; it runs once).</summary>
    static bool InThrow(IOperation op)
    {
        for (var o = op.Parent; o is not null; o = o.Parent)
            if (o is IThrowOperation) return true;
        return false;
    }
}

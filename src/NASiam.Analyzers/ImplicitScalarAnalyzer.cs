using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;
using static NASiam.Analyzers.TorchSymbols;

namespace NASiam.Analyzers;

/// <summary>
/// NASIAM001: a TorchSharp <c>Scalar</c> made from a .NET number at the call (an implicit or explicit
/// conversion, or a Tensor operator overload taking a number, which converts inside TorchSharp).
/// Why it is an error: such a Scalar is freed only by its finalizer, and TorchSharp 0.107 passes its
/// handle to libtorch without keeping the object alive, so a collection during the native call can free
/// the Scalar while libtorch reads it (seen in CI as "Expected false to be true ... from toFloat" in
/// <c>double + Tensor</c>, and earlier as "Unknown scalar type" in div). Use a static Scalar
/// (NASiam.Core.Engine.Scalars) or <c>using var s = x.ToScalar();</c>, whose Dispose keeps it alive.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class ImplicitScalarAnalyzer : DiagnosticAnalyzer
{
    public const string Id = "NASIAM001";

    static readonly DiagnosticDescriptor Rule = new(
        Id,
        "Number converted to a TorchSharp Scalar at the call",
        "{0} makes a TorchSharp Scalar that only the finalizer frees, possibly while libtorch still reads it; use a static Scalar (Scalars) or 'using var s = value.ToScalar();'",
        "Reliability",
        DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics => ImmutableArray.Create(Rule);

    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterOperationAction(OnConversion, OperationKind.Conversion);
        context.RegisterOperationAction(OnOperator, OperationKind.Binary, OperationKind.CompoundAssignment);
    }

    static void OnConversion(OperationAnalysisContext context)
    {
        var conversion = (IConversionOperation)context.Operation;
        if (!conversion.Conversion.IsUserDefined || !IsScalar(conversion.Type)) return;
        if (IsScalar(conversion.Operand.Type)) return;
        context.ReportDiagnostic(Diagnostic.Create(Rule, conversion.Syntax.GetLocation(),
            $"The conversion of '{conversion.Operand.Syntax}' ({conversion.Operand.Type?.ToDisplayString() ?? "?"})"));
    }

    static void OnOperator(OperationAnalysisContext context)
    {
        var method = context.Operation switch
        {
            IBinaryOperation b => b.OperatorMethod,
            ICompoundAssignmentOperation c => c.OperatorMethod,
            _ => null,
        };
        if (method is null || method.ContainingType?.ContainingNamespace?.ToDisplayString() != "TorchSharp") return;
        // Tensor's operator overloads that take a number (e.g. op_Addition(double, Tensor)) convert it to a Scalar inside TorchSharp.
        var (left, right) = context.Operation switch
        {
            IBinaryOperation b => (b.LeftOperand, b.RightOperand),
            ICompoundAssignmentOperation c => (c.Target, c.Value),
            _ => (null!, null!),
        };
        for (int i = 0; i < method.Parameters.Length && i < 2; i++)
        {
            if (!IsNumber(method.Parameters[i].Type)) continue;
            var operand = i == 0 ? left : right;
            context.ReportDiagnostic(Diagnostic.Create(Rule, operand.Syntax.GetLocation(),
                $"The {method.Parameters[i].Type.ToDisplayString()} operand '{operand.Syntax}' of a TorchSharp operator"));
        }
    }

    static bool IsNumber(ITypeSymbol type) => type.SpecialType is
        SpecialType.System_Byte or SpecialType.System_SByte or SpecialType.System_Int16 or SpecialType.System_Int32
        or SpecialType.System_Int64 or SpecialType.System_Single or SpecialType.System_Double or SpecialType.System_Boolean;
}

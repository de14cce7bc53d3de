namespace NASiam.Core.Search;

/// <summary>
/// The seven candidate operations of the NASiam MLP search space (method doc 2.1), with the
/// per-framework alpha column order: SimCLR swaps columns 4 and 5. The column order decides
/// which alpha belongs to which op, and therefore how an argmax index maps back to a name.
/// </summary>
public static class OperationNames
{
    public const string MaxPool = "maxpool_3x3";
    public const string AvgPool = "avgpool_3x3";
    public const string Identity = "identity";
    public const string LinearRelu = "linear_relu";
    public const string LinearSilu = "linear_silu";
    public const string LinearHardswish = "linear_hardswish";
    public const string LinearElu = "linear_elu";

    /// <summary>Column order for SimSiam and MoCo.</summary>
    public static readonly IReadOnlyList<string> SimSiamMoCoOrder =
        [MaxPool, AvgPool, Identity, LinearRelu, LinearSilu, LinearHardswish, LinearElu];

    /// <summary>Column order for SimCLR (indices 4 and 5 swapped).</summary>
    public static readonly IReadOnlyList<string> SimClrOrder =
        [MaxPool, AvgPool, Identity, LinearRelu, LinearHardswish, LinearSilu, LinearElu];

    /// <summary>Number of candidate operations per layer (columns of an alpha matrix).</summary>
    public const int Count = 7;

    /// <summary>The alpha column order of a framework.</summary>
    public static IReadOnlyList<string> For(Framework framework) =>
        framework == Framework.SimClr ? SimClrOrder : SimSiamMoCoOrder;

    /// <summary>True for a name of the search space (any framework uses the same seven names).</summary>
    public static bool IsValid(string name) => SimSiamMoCoOrder.Contains(name);

    /// <summary>True for ops that carry no learned linear map of their own in an equal-width layer.</summary>
    public static bool IsParameterFreeKind(string name) => name is MaxPool or AvgPool or Identity;
}

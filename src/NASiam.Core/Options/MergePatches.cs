using System.Text.Json.Nodes;

namespace NASiam.Core.Options;

/// <summary>Combining JSON merge patches (RFC 7396) before they are applied to a base document.</summary>
public static class MergePatches
{
    /// <summary>
    /// Lays <paramref name="later"/> over <paramref name="target"/> in place, so that applying the result equals
    /// applying <paramref name="target"/> and then <paramref name="later"/>: objects merge member by member, any
    /// other value (a null, which clears, included) replaces. <paramref name="later"/> is not modified.
    /// </summary>
    public static void LayerOnto(JsonObject target, JsonObject later)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(later);
        foreach (var (k, v) in later.ToArray())
        {
            if (v is JsonObject inner && target[k] is JsonObject t) LayerOnto(t, inner);
            else target[k] = v?.DeepClone();
        }
    }
}

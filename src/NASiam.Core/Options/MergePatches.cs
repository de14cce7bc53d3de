using System.Text.Json.Nodes;

namespace NASiam.Core.Options;

/// <summary>Combining JSON merge patches (RFC 7396) before they are applied to a base document.</summary>
public static class MergePatches
{
    /// <summary>
    /// Lays <paramref name="later"/> over <paramref name="target"/> in place, so that applying the result equals
    /// applying <paramref name="target"/> and then <paramref name="later"/>: objects merge member by member (names in any case), any
    /// other value (a null, which clears, included) replaces. <paramref name="later"/> is not modified.
    /// </summary>
    public static void LayerOnto(JsonObject target, JsonObject later)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(later);
        foreach (var (name, value) in later.ToArray())
        {
            // Member names match as the resolver reads them (any case): "Search" lays over "search", not beside it.
            var key = target.Select(p => p.Key).FirstOrDefault(k => string.Equals(k, name, StringComparison.OrdinalIgnoreCase)) ?? name;
            if (value is JsonObject inner && target[key] is JsonObject existing) LayerOnto(existing, inner);
            else target[key] = value?.DeepClone();
        }
    }
}

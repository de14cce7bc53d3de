using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace NASiam.Core.Options;

/// <summary>
/// Messages for a JSON value of the wrong type in a request (<c>"epochs":"two"</c>, <c>"preset":5</c>,
/// <c>"epochs":99999999999</c>), in the API's words: what the member expects and what it got.
/// System.Text.Json's own text names .NET types, and for a member of the wrong type often the type that
/// declares it (<c>could not be converted to NASiam.Web.Api.CreateRunRequest</c>); the expected form
/// here comes from the member's declared type, found by the error's JSON path. One place for the run
/// options (<see cref="RunRequestResolver"/>) and the web API's request bodies.
/// </summary>
public static partial class JsonValueErrors
{
    /// <summary>
    /// The message for <paramref name="e"/>, thrown while deserialising <paramref name="root"/> from
    /// <paramref name="document"/> (null when the text did not parse). A wrong type reads "expected a whole
    /// number from … to …, got "two""; malformed JSON keeps the parser's position.
    /// </summary>
    public static string Describe(JsonException e, Type root, JsonNode? document)
    {
        var message = e.Message.Split(" Path: ")[0];
        if (!message.StartsWith("The JSON value could not be converted", StringComparison.Ordinal))
            return "malformed JSON: " + message;
        // A string holding a lone UTF-16 surrogate ("\ud800") is valid JSON but no text; reading it again to quote it threw,
        // and the API answered 500 with a stack trace.
        if (e.InnerException is InvalidOperationException { Message: var inner } && inner.Contains("surrogate", StringComparison.OrdinalIgnoreCase))
            return UndecodableText;
        var path = JsonPath(e);
        var expected = TypeAt(root, path) is { } t ? Expected(t) : null;
        string? got;
        try { got = ValueAt(document, path) is { } node ? Shorten(node.ToJsonString()) : null; }
        catch (InvalidOperationException) { return UndecodableText; }
        // A member given as null is not a value of its type; left out, it would keep its default.
        if (got is null && expected is not null && IsNullMember(document, path))
            return "null is not a value here: leave the member out to keep its default";
        return (expected, got) switch
        {
            (not null, not null) => $"expected {expected}, got {got}",
            (not null, null) => $"expected {expected}",
            _ => "a value of the wrong type here",
        };
    }

    /// <summary>The message for a string value that is no text (a lone UTF-16 surrogate escape).</summary>
    public const string UndecodableText = "not valid text: a UTF-16 surrogate escape (\\uD800-\\uDFFF) without its pair";

    /// <summary>
    /// The dotted path (as <see cref="JsonPath"/>) of the first string value under <paramref name="node"/> that does not decode
    /// as text (a lone UTF-16 surrogate escape: valid JSON, but reading it throws <see cref="InvalidOperationException"/>); null if none.
    /// </summary>
    public static string? UndecodablePath(JsonNode? node, string prefix = "")
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (key, value) in o)
                    if (UndecodablePath(value, prefix.Length == 0 ? key : $"{prefix}.{key}") is { } p) return p;
                return null;
            case JsonArray a:
                for (int i = 0; i < a.Count; i++)
                    if (UndecodablePath(a[i], $"{prefix}[{i}]") is { } p) return p;
                return null;
            case JsonValue v when v.GetValueKind() == System.Text.Json.JsonValueKind.String:
                try { v.GetValue<string>(); return null; }
                catch (InvalidOperationException) { return prefix; }
            default:
                return null;
        }
    }

    /// <summary>The error's member path, dotted, with array items as [i] (as the API's error keys name members); "" for the root.</summary>
    public static string JsonPath(JsonException e) => (e.Path ?? "$").TrimStart('$').TrimStart('.');

    /// <summary>What a value of <paramref name="t"/> must look like in JSON, e.g. "a whole number from -2147483648 to 2147483647".</summary>
    public static string Expected(Type t)
    {
        t = Nullable.GetUnderlyingType(t) ?? t;
        if (t == typeof(int)) return $"a whole number from {int.MinValue} to {int.MaxValue}";
        if (t == typeof(long)) return $"a whole number from {long.MinValue} to {long.MaxValue}";
        if (t == typeof(double) || t == typeof(float) || t == typeof(decimal)) return "a number";
        if (t == typeof(bool)) return "true or false";
        if (t == typeof(string)) return "a string";
        if (t == typeof(Guid)) return "a GUID string";
        if (t.IsEnum) return "one of " + string.Join(", ", EnumNames.All(t));
        if (t.IsArray || (t != typeof(string) && typeof(System.Collections.IEnumerable).IsAssignableFrom(t) && !IsDictionary(t))) return "an array";
        return "an object";
    }

    /// <summary>True when <paramref name="t"/> (nullable or not) is a 32- or 64-bit integer.</summary>
    public static bool IsInteger(Type t) => (Nullable.GetUnderlyingType(t) ?? t) is var u && (u == typeof(int) || u == typeof(long));

    /// <summary>
    /// The declared type of the member at <paramref name="path"/> below <paramref name="root"/> (properties
    /// matched as the Web JSON defaults match them: their JSON name, case-insensitively; [i] steps into
    /// an array's items); null when the path leaves the types (a dictionary's entry, an unknown name).
    /// </summary>
    public static Type? TypeAt(Type root, string path)
    {
        var t = root;
        foreach (Match m in Segment().Matches(path))
        {
            t = Nullable.GetUnderlyingType(t) ?? t;
            if (m.Groups["index"].Success)
            {
                t = t.IsArray ? t.GetElementType() : t.GetInterfaces().Append(t)
                    .FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>))?.GetGenericArguments()[0];
                if (t is null) return null;
                continue;
            }
            var name = m.Groups["name"].Value;
            var p = t.GetProperties(BindingFlags.Public | BindingFlags.Instance).FirstOrDefault(p =>
                string.Equals(p.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? p.Name, name, StringComparison.OrdinalIgnoreCase));
            if (p is null) return null;
            t = p.PropertyType;
        }
        return t;
    }

    /// <summary>The node at a dotted path with [i] items, or null.</summary>
    public static JsonNode? ValueAt(JsonNode? node, string path)
    {
        foreach (Match m in Segment().Matches(path))
        {
            if (node is null) return null;
            if (m.Groups["index"].Success)
                node = node is JsonArray a && int.TryParse(m.Groups["index"].Value, out var i) && i < a.Count ? a[i] : null;
            else if (node is JsonObject o)
                node = o.FirstOrDefault(kv => string.Equals(kv.Key, m.Groups["name"].Value, StringComparison.OrdinalIgnoreCase)).Value;
            else return null;
        }
        return node;
    }

    /// <summary>True when the member at <paramref name="path"/> is present in its object with the value null.</summary>
    static bool IsNullMember(JsonNode? document, string path)
    {
        var matches = Segment().Matches(path);
        if (matches.Count == 0 || matches[^1].Groups["index"].Success) return false;
        var last = matches[^1];
        var parent = ValueAt(document, path[..last.Index].TrimEnd('.'));
        return parent is JsonObject o && o.Any(kv => string.Equals(kv.Key, last.Groups["name"].Value, StringComparison.OrdinalIgnoreCase) && kv.Value is null);
    }

    static bool IsDictionary(Type t) => t.GetInterfaces().Append(t).Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IDictionary<,>));

    static string Shorten(string json) => json.Length <= 40 ? json : json[..37] + "...";

    // "search.epochs", "seeds[0]", "$['odd name']" (System.Text.Json's form for names that need quoting).
    [GeneratedRegex(@"\['(?<name>[^']*)'\]|\[(?<index>\d+)\]|(?<name>[^.\[\]]+)")]
    private static partial Regex Segment();
}

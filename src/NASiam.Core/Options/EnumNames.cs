using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace NASiam.Core.Options;

/// <summary>
/// The one spelling of every option enum value (<c>simsiam</c>, <c>moco</c>, <c>lincls</c>,
/// <c>adamw</c>, ...), used by options JSON, the API, the form and the CLI. Each value's name comes
/// from its <see cref="JsonStringEnumMemberNameAttribute"/>, else the lower-cased member name.
/// Reading is case-insensitive and also accepts the aliases of <see cref="EnumAliasAttribute"/>
/// (e.g. the kebab-case spellings <c>sim-siam</c>, <c>adam-w</c> that checkpoints and run rows
/// written before this spelling was fixed still hold).
/// </summary>
public static class EnumNames
{
    /// <summary>The canonical name of <paramref name="value"/>.</summary>
    public static string Name<T>(T value) where T : struct, Enum => Table<T>.Names[value];

    /// <summary>Canonical names of every value of <typeparamref name="T"/>, in declaration order.</summary>
    public static IReadOnlyList<string> All<T>() where T : struct, Enum => Table<T>.Ordered;

    /// <summary>Canonical names of every value of <paramref name="enumType"/>, in declaration order.</summary>
    public static IReadOnlyList<string> All(Type enumType) =>
        Enum.GetValues(enumType).Cast<Enum>().Select(v => NameOf(enumType, v)).ToArray();

    /// <summary>The canonical name of a boxed value of <paramref name="enumType"/>.</summary>
    public static string NameOf(Type enumType, object value)
    {
        var member = enumType.GetField(Enum.GetName(enumType, value) ?? throw new ArgumentOutOfRangeException(nameof(value)))!;
        return member.GetCustomAttribute<JsonStringEnumMemberNameAttribute>()?.Name ?? member.Name.ToLowerInvariant();
    }

    /// <summary>Parses a canonical name or alias, case-insensitively.</summary>
    public static bool TryParse<T>(string? text, out T value) where T : struct, Enum =>
        Table<T>.Lookup.TryGetValue(text?.Trim() ?? "", out value);

    /// <summary>Parses or throws <see cref="ArgumentException"/> listing the valid names.</summary>
    public static T Parse<T>(string? text) where T : struct, Enum =>
        TryParse<T>(text, out var v) ? v
            : throw new ArgumentException($"'{text}' is not one of {string.Join(", ", All<T>())}.");

    /// <summary>Parses a canonical name or alias of <paramref name="enumType"/>; null when unknown.</summary>
    public static object? TryParse(Type enumType, string? text)
    {
        var t = text?.Trim() ?? "";
        foreach (var v in Enum.GetValues(enumType).Cast<Enum>())
        {
            var member = enumType.GetField(v.ToString())!;
            if (string.Equals(NameOf(enumType, v), t, StringComparison.OrdinalIgnoreCase)) return v;
            if (member.GetCustomAttributes<EnumAliasAttribute>().Any(a => string.Equals(a.Alias, t, StringComparison.OrdinalIgnoreCase))) return v;
        }
        return null;
    }

    static class Table<T> where T : struct, Enum
    {
        public static readonly Dictionary<T, string> Names = Enum.GetValues<T>().ToDictionary(v => v, v => NameOf(typeof(T), v));
        public static readonly string[] Ordered = Enum.GetValues<T>().Select(v => Names[v]).ToArray();
        public static readonly Dictionary<string, T> Lookup = Build();

        static Dictionary<string, T> Build()
        {
            var d = new Dictionary<string, T>(StringComparer.OrdinalIgnoreCase);
            foreach (var v in Enum.GetValues<T>())
            {
                d[Names[v]] = v;
                foreach (var a in typeof(T).GetField(v.ToString())!.GetCustomAttributes<EnumAliasAttribute>()) d[a.Alias] = v;
            }
            return d;
        }
    }
}

/// <summary>Another accepted input spelling of an enum value (never written).</summary>
[AttributeUsage(AttributeTargets.Field, AllowMultiple = true)]
public sealed class EnumAliasAttribute(string alias) : Attribute
{
    public string Alias { get; } = alias;
}

/// <summary>System.Text.Json converter for every enum: writes <see cref="EnumNames"/>' canonical name, reads names and aliases.</summary>
public sealed class CanonicalEnumConverterFactory : JsonConverterFactory
{
    public override bool CanConvert(Type typeToConvert) => typeToConvert.IsEnum;

    public override JsonConverter CreateConverter(Type typeToConvert, JsonSerializerOptions options) =>
        (JsonConverter)Activator.CreateInstance(typeof(Converter<>).MakeGenericType(typeToConvert))!;

    sealed class Converter<T> : JsonConverter<T> where T : struct, Enum
    {
        public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            if (reader.TokenType != JsonTokenType.String)
                throw new JsonException($"must be one of {string.Join(", ", EnumNames.All<T>())} (a string)");
            var text = reader.GetString();
            return EnumNames.TryParse<T>(text, out var v) ? v
                : throw new JsonException($"'{text}' is not one of {string.Join(", ", EnumNames.All<T>())}");
        }

        public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options) =>
            writer.WriteStringValue(EnumNames.Name(value));

        public override T ReadAsPropertyName(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            EnumNames.Parse<T>(reader.GetString());

        public override void WriteAsPropertyName(Utf8JsonWriter writer, T value, JsonSerializerOptions options) =>
            writer.WritePropertyName(EnumNames.Name(value));
    }
}

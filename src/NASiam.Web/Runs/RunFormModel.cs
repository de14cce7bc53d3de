using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using NASiam.Core.Options;

namespace NASiam.Web.Runs;

/// <summary>One editable engine option: its path as the validator names it ("Search.Epochs") and its type.</summary>
public sealed record OptionField(string Path, string Group, string Label, Type Type, bool Nullable)
{
    public Type ValueType => System.Nullable.GetUnderlyingType(Type) ?? Type;
    public bool IsBool => ValueType == typeof(bool);
    public bool IsEnum => ValueType.IsEnum;
    public string Id => "opt-" + Path.Replace('.', '-');
}

/// <summary>
/// The new-run form's model: every <see cref="RunOptions"/> property (found by reflection, so a new
/// engine option shows up without UI work), edited as text, grouped by its nested record. Field
/// paths match <see cref="RunOptionsValidator"/>'s "Field.Path: message" strings, so each message
/// lands next to its field.
/// </summary>
public sealed class RunFormModel
{
    static readonly string[] Groups = ["General", "Heads", "Search", "Pretrain", "Linear", "Compat"];

    public static IReadOnlyList<OptionField> Fields { get; } = Discover();

    /// <summary>Field values as text ("true"/"false" for switches, enum names for choices, "" for null).</summary>
    public Dictionary<string, string> Values { get; } = new();

    /// <summary>Errors per field path ("" for errors without a field).</summary>
    public Dictionary<string, List<string>> Errors { get; } = new();

    public static IEnumerable<IGrouping<string, OptionField>> Grouped =>
        Fields.GroupBy(f => f.Group).OrderBy(g => Array.IndexOf(Groups, g.Key));

    static List<OptionField> Discover()
    {
        var list = new List<OptionField>();
        foreach (var p in typeof(RunOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite))
        {
            if (IsNested(p.PropertyType))
                foreach (var q in p.PropertyType.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(q => q.CanWrite))
                    list.Add(Field($"{p.Name}.{q.Name}", p.Name, q));
            else
                list.Add(Field(p.Name, "General", p));
        }
        return list;
    }

    static bool IsNested(Type t) => t.IsClass && t != typeof(string);

    static OptionField Field(string path, string group, PropertyInfo p) =>
        new(path, group, Label(p.Name), p.PropertyType,
            System.Nullable.GetUnderlyingType(p.PropertyType) is not null || new NullabilityInfoContext().Create(p).WriteState == NullabilityState.Nullable);

    static string Label(string name) =>
        string.Concat(name.Select((ch, i) => i > 0 && char.IsUpper(ch) && !char.IsUpper(name[i - 1]) ? " " + char.ToLowerInvariant(ch) : ch.ToString()));

    public static RunFormModel From(RunOptions options)
    {
        var m = new RunFormModel();
        m.Load(options);
        return m;
    }

    public void Load(RunOptions options)
    {
        Values.Clear();
        Errors.Clear();
        foreach (var f in Fields)
        {
            object? v = Read(options, f.Path);
            Values[f.Path] = v switch
            {
                null => "",
                bool b => b ? "true" : "false",
                IFormattable x => x.ToString(null, CultureInfo.InvariantCulture),
                _ => v.ToString() ?? "",
            };
        }
    }

    static object? Read(object target, string path)
    {
        object? cur = target;
        foreach (var part in path.Split('.')) cur = cur?.GetType().GetProperty(part)!.GetValue(cur);
        return cur;
    }

    /// <summary>Builds options from the text values; parse errors and validator errors fill <see cref="Errors"/>.</summary>
    public RunOptions? TryBuild()
    {
        Errors.Clear();
        var root = new JsonObject();
        foreach (var f in Fields)
        {
            var text = Values.GetValueOrDefault(f.Path, "").Trim();
            JsonNode? node;
            if (text.Length == 0)
            {
                if (!f.Nullable && f.ValueType != typeof(string)) { AddError(f.Path, "is required"); continue; }
                node = null;
            }
            else if (f.ValueType == typeof(string)) node = JsonValue.Create(text);
            else if (f.IsBool) node = JsonValue.Create(text == "true");
            else if (f.IsEnum)
            {
                if (!Enum.TryParse(f.ValueType, text, true, out var e)) { AddError(f.Path, $"'{text}' is not one of {string.Join(", ", Enum.GetNames(f.ValueType))}"); continue; }
                node = JsonSerializer.SerializeToNode(e, f.ValueType, RunOptions.Json);
            }
            else if (f.ValueType == typeof(int) || f.ValueType == typeof(long))
            {
                if (!long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) || (f.ValueType == typeof(int) && n is > int.MaxValue or < int.MinValue))
                { AddError(f.Path, "must be a whole number"); continue; }
                node = JsonValue.Create(n);
            }
            else if (f.ValueType == typeof(double))
            {
                if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) || !double.IsFinite(d))
                { AddError(f.Path, "must be a number"); continue; }
                node = JsonValue.Create(d);
            }
            else continue;
            Set(root, f.Path, node);
        }
        if (Errors.Count > 0) return null;
        var options = RunOptions.FromJson(root.ToJsonString());
        foreach (var e in options.Validate())
        {
            int i = e.IndexOf(": ", StringComparison.Ordinal);
            AddError(i > 0 ? e[..i] : "", i > 0 ? e[(i + 2)..] : e);
        }
        return Errors.Count == 0 ? options : null;
    }

    public void AddError(string path, string message)
    {
        if (!Errors.TryGetValue(path, out var list)) Errors[path] = list = [];
        list.Add(message);
    }

    public string? ErrorFor(string path) => Errors.TryGetValue(path, out var l) ? string.Join("; ", l) : null;

    static void Set(JsonObject root, string path, JsonNode? value)
    {
        var parts = path.Split('.').Select(JsonNamingPolicy.CamelCase.ConvertName).ToArray();
        var cur = root;
        for (int i = 0; i < parts.Length - 1; i++)
        {
            if (cur[parts[i]] is not JsonObject next) cur[parts[i]] = next = new JsonObject();
            cur = next;
        }
        cur[parts[^1]] = value;
    }
}

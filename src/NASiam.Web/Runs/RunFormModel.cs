using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using NASiam.Core;
using NASiam.Core.Options;

namespace NASiam.Web.Runs;

/// <summary>One editable engine option: its JSON path ("search.epochs", as <see cref="FieldError"/> names it) and its type.</summary>
public sealed record OptionField(string Path, string Group, string Label, Type Type, bool Nullable)
{
    public Type ValueType => System.Nullable.GetUnderlyingType(Type) ?? Type;
    public bool IsBool => ValueType == typeof(bool);
    public bool IsEnum => ValueType.IsEnum;
    public string Id => "opt-" + Path.Replace('.', '-');
}

/// <summary>
/// The New-run form's model: every <see cref="RunOptions"/> field (so a new engine option shows up
/// without UI work), edited as text, grouped by its nested record. The form decides nothing about
/// what a run means: <see cref="ToRequest"/> turns the edits into a <see cref="RunRequest"/> — the
/// preset plus a merge patch of the fields that differ from it — which the same
/// <see cref="RunRequestResolver"/> as the API and the CLI resolves. Errors come back as
/// <see cref="FieldError"/>s whose paths are this model's field paths.
/// </summary>
public sealed class RunFormModel
{
    static readonly string[] Groups = ["General", "Heads", "Search", "Pretrain", "Linear", "Compat"];

    public static IReadOnlyList<OptionField> Fields { get; } = Discover();

    /// <summary>Field values as text ("true"/"false" for switches, canonical enum names, "" for null).</summary>
    public Dictionary<string, string> Values { get; } = new();

    /// <summary>Errors per field path ("" for errors without a field).</summary>
    public Dictionary<string, List<string>> Errors { get; } = new();

    /// <summary>Notices from the last resolution (e.g. "no genotype given, so the standard heads").</summary>
    public List<string> Notices { get; } = new();

    /// <summary>The preset the values started from; the request sends only what differs from it.</summary>
    public string Preset { get; private set; } = RunPresets.QuickDemo;

    /// <summary>The framework the preset was loaded for (picks the quick demo's flavour).</summary>
    public NASiam.Core.Framework Framework { get; private set; } = RunPresets.QuickDemoDefaultFramework;

    public static IEnumerable<IGrouping<string, OptionField>> Grouped =>
        Fields.GroupBy(f => f.Group).OrderBy(g => Array.IndexOf(Groups, g.Key));

    static List<OptionField> Discover()
    {
        var list = new List<OptionField>();
        foreach (var p in typeof(RunOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite))
        {
            if (IsNested(p.PropertyType))
                foreach (var q in p.PropertyType.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(q => q.CanWrite))
                    list.Add(Field($"{Camel(p.Name)}.{Camel(q.Name)}", p.Name, q));
            else
                list.Add(Field(Camel(p.Name), "General", p));
        }
        return list;
    }

    static string Camel(string name) => JsonNamingPolicy.CamelCase.ConvertName(name);

    static bool IsNested(Type t) => t.IsClass && t != typeof(string);

    static OptionField Field(string path, string group, PropertyInfo p) =>
        new(path, group, Label(p.Name), p.PropertyType,
            System.Nullable.GetUnderlyingType(p.PropertyType) is not null || new NullabilityInfoContext().Create(p).WriteState == NullabilityState.Nullable);

    static string Label(string name) =>
        string.Concat(name.Select((ch, i) => i > 0 && char.IsUpper(ch) && !char.IsUpper(name[i - 1]) ? " " + char.ToLowerInvariant(ch) : ch.ToString()));

    /// <summary>The options of <paramref name="preset"/> for <paramref name="framework"/>.</summary>
    public static RunOptions PresetOptions(string preset, NASiam.Core.Framework framework) =>
        preset == RunPresets.QuickDemo ? RunPresets.Get(preset, framework) : RunPresets.Get(preset);

    /// <summary>Shows <paramref name="options"/>, remembering which preset and framework they came from.</summary>
    public void Load(RunOptions options, string preset, NASiam.Core.Framework framework)
    {
        Preset = preset;
        Framework = framework;
        Values.Clear();
        Errors.Clear();
        Notices.Clear();
        var document = JsonSerializer.SerializeToNode(options, RunOptions.Json)!.AsObject();
        foreach (var f in Fields)
        {
            var node = Node(document, f.Path);
            Values[f.Path] = node switch
            {
                null => "",
                JsonValue v when v.TryGetValue<bool>(out var b) => b ? "true" : "false",
                JsonValue v when v.TryGetValue<string>(out var s) => s,
                _ => node.ToJsonString(),
            };
        }
    }

    static JsonNode? Node(JsonObject root, string path)
    {
        JsonNode? cur = root;
        foreach (var part in path.Split('.')) cur = cur?[part];
        return cur;
    }

    /// <summary>
    /// The request these values stand for: the preset, and as overrides only the fields whose
    /// value differs from the preset's. Null when a value cannot even be read as its type (the
    /// messages are in <see cref="Errors"/>); range and consistency checks are the resolver's.
    /// </summary>
    public RunRequest? ToRequest()
    {
        Errors.Clear();
        Notices.Clear();
        var basis = JsonSerializer.SerializeToNode(PresetOptions(Preset, Framework), RunOptions.Json)!.AsObject();
        var patch = new JsonObject();
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
                if (EnumNames.TryParse(f.ValueType, text) is null) { AddError(f.Path, $"'{text}' is not one of {string.Join(", ", EnumNames.All(f.ValueType))}"); continue; }
                node = JsonValue.Create(text);
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
            if (SameValue(Node(basis, f.Path), node, f)) continue;
            Set(patch, f.Path, node);
        }
        if (Errors.Count > 0) return null;
        return new RunRequest { Preset = Preset, Framework = Framework.ToName(), Overrides = patch.Count == 0 ? null : patch };
    }

    static bool SameValue(JsonNode? preset, JsonNode? edited, OptionField f)
    {
        if (preset is null || edited is null) return preset is null && edited is null;
        if (f.IsEnum) return Equals(EnumNames.TryParse(f.ValueType, preset.GetValue<string>()), EnumNames.TryParse(f.ValueType, edited.GetValue<string>()));
        if (f.ValueType == typeof(double)) return preset.GetValue<double>() == edited.GetValue<double>();
        if (f.ValueType == typeof(int) || f.ValueType == typeof(long)) return preset.GetValue<long>() == edited.GetValue<long>();
        return JsonNode.DeepEquals(preset, edited);
    }

    /// <summary>Shows a resolution's errors next to their fields and keeps its notices.</summary>
    public void Show(IEnumerable<FieldError> errors, IEnumerable<string>? notices = null)
    {
        foreach (var e in errors) AddError(Fields.Any(f => f.Path == e.Path) ? e.Path : "", e.Path.Length == 0 || Fields.Any(f => f.Path == e.Path) ? e.Message : e.ToString());
        if (notices is not null) Notices.AddRange(notices);
    }

    public void AddError(string path, string message)
    {
        if (!Errors.TryGetValue(path, out var list)) Errors[path] = list = [];
        list.Add(message);
    }

    public string? ErrorFor(string path) => Errors.TryGetValue(path, out var l) ? string.Join("; ", l) : null;

    static void Set(JsonObject root, string path, JsonNode? value)
    {
        var parts = path.Split('.');
        var cur = root;
        for (int i = 0; i < parts.Length - 1; i++)
        {
            if (cur[parts[i]] is not JsonObject next) cur[parts[i]] = next = new JsonObject();
            cur = next;
        }
        cur[parts[^1]] = value;
    }
}

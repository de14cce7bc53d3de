using System.Text.Json;
using System.Text.Json.Nodes;
using NASiam.Core;
using NASiam.Core.Options;

namespace NASiam.Web.Runs;

/// <summary>
/// The New-run form's model: every <see cref="RunOptions"/> field as the <see cref="OptionCatalog"/>
/// describes it (label, unit, help, choices; a new engine option shows up without UI work), edited as text. The form decides nothing about
/// what a run means: <see cref="ToRequest"/> turns the edits into a <see cref="RunRequest"/> — the
/// preset plus a merge patch of the fields that differ from it — which the same
/// <see cref="RunRequestResolver"/> as the API and the CLI resolves. Errors come back as
/// <see cref="FieldError"/>s whose paths are this model's field paths.
/// </summary>
public sealed class RunFormModel
{
    /// <summary>Every field, in catalog order.</summary>
    public static IReadOnlyList<OptionEntry> Fields => OptionCatalog.Entries;

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

    /// <summary>Fields by catalog group, in the group's order.</summary>
    public static IEnumerable<IGrouping<OptionGroup, OptionEntry>> Grouped => Fields.GroupBy(f => f.Group).OrderBy(g => g.Key);

    /// <summary>The DOM id of a field's input.</summary>
    public static string InputId(OptionEntry f) => "opt-" + f.Path.Replace('.', '-');

    /// <summary>Shows <paramref name="options"/>, remembering which preset and framework they came from.</summary>
    public void Load(RunOptions options, string preset, NASiam.Core.Framework framework)
    {
        Preset = preset;
        Framework = framework;
        Values.Clear();
        Errors.Clear();
        Notices.Clear();
        foreach (var f in Fields) Values[f.Path] = f.ReadText(options) ?? "";
    }

    /// <summary>
    /// After <see cref="Load"/> brought another framework's recipe: puts back the user's edits that are not part of a
    /// recipe (<see cref="OptionEntry.FrameworkRecipe"/>: name, data, step cap, device…). <paramref name="before"/> are
    /// the values before the load, <paramref name="loadedBefore"/> what the previous load showed (an edit is a
    /// difference between the two). Returns the edits kept and the recipe edits the load replaced.
    /// </summary>
    public (IReadOnlyList<OptionEntry> Kept, IReadOnlyList<OptionEntry> Reset) KeepSetupEdits(
        IReadOnlyDictionary<string, string> before, IReadOnlyDictionary<string, string> loadedBefore)
    {
        var edited = Fields.Where(f => f.Path != "framework" && before.GetValueOrDefault(f.Path, "") != loadedBefore.GetValueOrDefault(f.Path, "")).ToList();
        var kept = edited.Where(f => !f.FrameworkRecipe).ToList();
        foreach (var f in kept) Values[f.Path] = before[f.Path];
        // An edit equal to the new recipe's value was not lost: not reported as reset.
        var reset = edited.Where(f => f.FrameworkRecipe && Values.GetValueOrDefault(f.Path, "") != before[f.Path]).ToList();
        return (kept, reset);
    }

    static JsonNode? Node(JsonObject root, string path)
    {
        JsonNode? cur = root;
        foreach (var part in path.Split('.')) cur = cur?[part];
        return cur;
    }

    /// <summary>
    /// The request the fields that read as their type stand for: the preset, and as overrides only the
    /// fields whose value differs from the preset's. A field whose text cannot be read gets its message in
    /// <see cref="Errors"/> and keeps the preset's value here.
    /// </summary>
    RunRequest ReadRequest()
    {
        Errors.Clear();
        Notices.Clear();
        return ReadRequest(AddError);
    }

    RunRequest ReadRequest(Action<string, string> unreadable)
    {
        var basis = JsonSerializer.SerializeToNode(RunPresets.Get(Preset, Framework), RunOptions.Json)!.AsObject();
        var patch = new JsonObject();
        foreach (var f in Fields)
        {
            if (!f.TryParseText(Values.GetValueOrDefault(f.Path, ""), out var node, out var error)) { unreadable(f.Path, error); continue; }
            if (SameValue(Node(basis, f.Path), node, f)) continue;
            Set(patch, f.Path, node);
        }
        return new RunRequest { Preset = Preset, Framework = Framework.ToName(), Overrides = patch.Count == 0 ? null : patch };
    }

    /// <summary>
    /// The options the fields stand for as <paramref name="resolve"/> reads them, showing nothing (no error or notice is
    /// changed); null while a field does not read as its type or the request is refused.
    /// </summary>
    public RunOptions? Peek(Func<RunRequest, RunResolution> resolve)
    {
        bool unread = false;
        var request = ReadRequest((_, _) => unread = true);
        return unread ? null : resolve(request).Options;
    }

    /// <summary>
    /// Checks every field at once, as the form shows them: fields whose text does not read as their type
    /// get that message, and the request the other fields stand for goes through <paramref name="resolve"/>
    /// (range and consistency checks), whose errors are shown for every field not already in error. Before,
    /// a read error stopped there, and a range error elsewhere appeared only at the next submit. The request,
    /// or null with the errors shown.
    /// </summary>
    public RunRequest? Validate(Func<RunRequest, RunResolution> resolve) => Validate(resolve, out _);

    /// <inheritdoc cref="Validate(Func{RunRequest, RunResolution})"/>
    /// <param name="resolution">The resolver's answer (its options are what the run would get).</param>
    public RunRequest? Validate(Func<RunRequest, RunResolution> resolve, out RunResolution resolution)
    {
        var request = ReadRequest();
        var unread = Errors.Keys.ToHashSet();
        resolution = resolve(request);
        Show(resolution.Errors.Where(e => !unread.Contains(e.Path)), resolution.Notices);
        return unread.Count == 0 && resolution.Ok ? request : null;
    }

    static bool SameValue(JsonNode? preset, JsonNode? edited, OptionEntry f)
    {
        if (preset is null || edited is null) return preset is null && edited is null;
        if (f.ClrType.IsEnum) return Equals(EnumNames.TryParse(f.ClrType, preset.GetValue<string>()), EnumNames.TryParse(f.ClrType, edited.GetValue<string>()));
        // Numbers compare by value: the preset's node may hold an int where the edit holds a long or double.
        if (f.Type is OptionValueType.Number or OptionValueType.Integer) return Number(preset) == Number(edited);
        return JsonNode.DeepEquals(preset, edited);
    }

    static double Number(JsonNode n) => double.Parse(n.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture);

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

using System.Text.Json;
using System.Text.Json.Nodes;
using NASiam.Core.Engine.Checkpoints;
using NASiam.Core.Engine.Runs;
using NASiam.Core.Genotypes;

namespace NASiam.Core.Options;

/// <summary>
/// The one place where a run request becomes <see cref="RunOptions"/>; the form, the API and the
/// CLI call it and add no rules of their own. Order: base (checkpoint's saved options, else the
/// preset, else the framework's recipe) → kind → overrides merged as a JSON merge patch →
/// genotype → checks. Rules that live here:
/// <list type="bullet">
/// <item>A pipeline pre-trains the genotype it searched unless the request names another (method doc 1 step 3).</item>
/// <item>A pre-training that names no genotype uses the framework's standard heads (a notice says so).</item>
/// <item>A framework given in the overrides is the request's framework: the base recipe follows it, never half of each.</item>
/// <item>Linear evaluation of a checkpoint takes its identity and recipe from the checkpoint's saved
/// options; overrides of the recipe are allowed and listed, overrides of the model are errors.</item>
/// </list>
/// </summary>
public static class RunRequestResolver
{
    /// <summary>Fields of a checkpoint that fix its model: a linear evaluation cannot change them.</summary>
    static readonly string[] ModelIdentity = ["framework", "backbone", "heads", "compat"];

    /// <summary>The answer to a checkpoint path the policy does not let the request name.</summary>
    const string ServerPathsRefused = "server file paths are not accepted here: leave it empty to evaluate an untrained backbone, give a run's id as the checkpoint to evaluate that run's pre-training, or use the command line (nasiam lincls --checkpoint)";

    /// <summary>Resolves <paramref name="request"/> under <paramref name="policy"/>; never throws for bad input.</summary>
    public static RunResolution Resolve(RunRequest request, RunRequestPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(policy);
        var errors = new List<FieldError>();
        var notices = new List<string>();
        var patch = request.Overrides?.DeepClone().AsObject();

        // 1. The framework: the request's, or the overrides' (lifted, so the base recipe follows it).
        Framework? framework = null;
        string? frameworkText = request.Framework;
        if (patch is not null && FindKey(patch, "framework") is { } fwKey)
        {
            var fromPatch = patch[fwKey] is JsonValue v && v.TryGetValue<string>(out var t) ? t : null;
            patch.Remove(fwKey);
            if (fromPatch is null)
                errors.Add(new("framework", $"must be one of {string.Join(", ", EnumNames.All<Framework>())} (a string)"));
            else if (frameworkText is not null && FrameworkNames.TryParse(frameworkText, out var asked) && FrameworkNames.TryParse(fromPatch, out var given) && asked != given)
                errors.Add(new("framework", $"the request says '{frameworkText}' and its options say '{fromPatch}'"));
            frameworkText ??= fromPatch;
        }
        if (frameworkText is not null)
        {
            if (FrameworkNames.TryParse(frameworkText, out var f)) framework = f;
            else errors.Add(new("framework", $"'{frameworkText}' is not one of {string.Join(", ", EnumNames.All<Framework>())}"));
        }
        // The kind, like the framework: the request's and its options' must agree (the CLI's verb drops a file's kind first).
        if (request.Kind is { } askedKind && patch is not null && FindKey(patch, "kind") is { } kindKey
            && patch[kindKey] is JsonValue kv && kv.TryGetValue<string>(out var kindText)
            && EnumNames.TryParse<RunKind>(kindText, out var givenKind) && givenKind != askedKind)
            errors.Add(new("kind", $"the request says '{askedKind.ToString().ToLowerInvariant()}' and its options say '{kindText}'"));
        // Top-level members that are options fields (the API's device and name) travel as overrides; when the
        // options give the same field another value, neither silently wins.
        patch = LiftMember(patch, "device", request.Device, errors);
        patch = LiftMember(patch, "name", request.Name, errors);
        // Only a linear evaluation reads a checkpoint; any other kind would take the checkpoint's recipe and ignore its weights.
        if (!string.IsNullOrWhiteSpace(request.Checkpoint) && request.Kind is { } ckKind && ckKind != RunKind.LinCls)
            errors.Add(new("checkpoint", CheckpointNotRead(ckKind)));
        if (errors.Count > 0) return new(null, errors, notices);

        // 2. The base options.
        RunOptions baseOptions;
        RunOptions? checkpointOptions = null;
        if (!string.IsNullOrWhiteSpace(request.Checkpoint))
        {
            // Before the file system is touched: whether a path exists is not for every door to learn.
            if (!policy.MayRead(request.Checkpoint)) return Fail("checkpoint", ServerPathsRefused);
            var path = Path.GetFullPath(request.Checkpoint);
            string? folder = null;
            if (Directory.Exists(path))
            {
                folder = path;
                path = StageEnvironment.FinalBackboneCheckpointIn(path)!;
                if (path is null)
                    return Fail("checkpoint", $"the run has no pre-training or search checkpoint ({string.Join(" or ", StageEnvironment.BackboneStages.Select(StageEnvironment.CheckpointName))}) to evaluate");
            }
            else if (!File.Exists(path)) return Fail("checkpoint", $"'{request.Checkpoint}' does not exist");
            try
            {
                var state = CheckpointStore.ReadState(path);
                checkpointOptions = RunOptions.FromJson(state.OptionsJson);
                if (!StageEnvironment.BackboneStages.Contains(state.Stage))
                    return Fail("checkpoint", $"is a '{state.Stage}' checkpoint; linear evaluation needs a pre-training (or search) checkpoint");
                // A stopped stage's checkpoint evaluates the backbone as it was then: said, never silent.
                // A run folder stands for one of its checkpoints: which one, said (they give different numbers).
                if (folder is not null) notices.Add($"checkpoint: {WhichBackbone(Path.GetRelativePath(folder, path).Replace('\\', '/'), state)}");
                if (CheckpointState.UnfinishedBackboneNote(path, state) is { } unfinished) notices.Add($"checkpoint: {unfinished}");
            }
            catch (Exception e) when (e is InvalidDataException or IOException or ArgumentException or JsonException)
            {
                return Fail("checkpoint", $"cannot be read as a NASiam checkpoint: {e.Message}");
            }
            if (request.Preset is not null)
                return Fail("preset", "give a checkpoint or a preset, not both: a checkpoint brings its own recipe");
            if (framework is { } asked && asked != checkpointOptions.Framework)
                return Fail("framework", $"the checkpoint is a {checkpointOptions.Framework.ToName()} model; it cannot be evaluated as {asked.ToName()}");
            // The thread count is the host's, not the recipe's: a web node writes its own fill-in (1) into the checkpoint,
            // which pinned every later evaluation of it, on any host, to one thread.
            baseOptions = checkpointOptions with
            {
                Name = null, Kind = request.Kind ?? RunKind.LinCls, Threads = 0, Linear = checkpointOptions.Linear with { Checkpoint = path },
            };
            notices.Add($"from the checkpoint: {checkpointOptions.Framework.ToName()}, {checkpointOptions.Backbone}, {checkpointOptions.Dataset}, the {checkpointOptions.Framework.ToName()} linear recipe");
        }
        else if (!string.IsNullOrWhiteSpace(request.Preset))
        {
            try { baseOptions = RunPresets.Get(request.Preset, framework); }
            catch (ArgumentException e) { return Fail("preset", e.Message); }
        }
        else baseOptions = RunPresets.ForFramework(framework ?? Framework.SimSiam);
        if (request.Kind is { } kind) baseOptions = baseOptions with { Kind = kind };

        // 3. Overrides as a merge patch on the base document.
        var document = JsonSerializer.SerializeToNode(baseOptions, RunOptions.Json)!.AsObject();
        var baseDocument = document.DeepClone().AsObject();
        bool genotypeInPatch = false;
        if (patch is not null)
        {
            genotypeInPatch = patch[FindKey(patch, "pretrain") ?? ""] is JsonObject pre && FindKey(pre, "genotype") is not null;
            MergePatch(document, patch, "", errors);
        }
        if (request.Genotype is not null)
        {
            document["pretrain"]!.AsObject()["genotype"] = request.Genotype.Trim();
            genotypeInPatch = true;
        }
        if (errors.Count > 0) return new(null, errors, notices);

        RunOptions options;
        try
        {
            options = document.Deserialize<RunOptions>(RunOptions.Json) ?? throw new JsonException("null");
        }
        catch (JsonException e)
        {
            var path = JsonValueErrors.JsonPath(e);
            return Fail(path, OutOfRangeMessage(document, path) ?? JsonValueErrors.Describe(e, typeof(RunOptions), document));
        }
        catch (InvalidOperationException) when (JsonValueErrors.UndecodablePath(document) is { } undecodable)
        {
            return Fail(undecodable, JsonValueErrors.UndecodableText);
        }

        if (checkpointOptions is not null && options.Kind != RunKind.LinCls) return Fail("kind", CheckpointNotRead(options.Kind));
        // What the request changed from its base, by path (the unused-field notice below; a comparison's own). After
        // deserialisation, which refuses text that cannot be written back (a lone surrogate).
        var changed = Differences(baseDocument, document, "").Select(d => d.Path).ToArray();

        // 4. Genotype rules by kind.
        if (request.Genotype is not null && options.Kind is not (RunKind.Pretrain or RunKind.Pipeline))
            return Fail("genotype", $"a {options.Kind.ToString().ToLowerInvariant()} run pre-trains no heads, so it takes no genotype; use kind pretrain or pipeline");
        if (options.Kind == RunKind.Pipeline && options.Pretrain.Genotype is null)
            options = options with { Pretrain = options.Pretrain with { Genotype = GenotypeReference.Searched } };
        if (options.Kind == RunKind.Pretrain && GenotypeReference.IsSearched(options.Pretrain.Genotype) && !genotypeInPatch)
        {
            options = options with { Pretrain = options.Pretrain with { Genotype = GenotypeReference.Standard } };
            notices.Add("pretrain.genotype: none given, so the framework's standard heads are pre-trained");
        }
        // A pipeline that pre-trains other heads than it searched spends its search on a genotype nobody trains: allowed, and said.
        if (options.Kind == RunKind.Pipeline && !GenotypeReference.IsSearched(options.Pretrain.Genotype))
            notices.Add($"pretrain.genotype: the pipeline pre-trains {(GenotypeReference.IsStandard(options.Pretrain.Genotype) ? "the framework's standard heads" : "the genotype given")}, " +
                        "not the one its search finds, so the search's genotype is only reported; to pre-train without a search use kind pretrain");

        // 5. A checkpoint's model identity cannot change; recipe changes are listed.
        if (checkpointOptions is not null)
        {
            var before = JsonSerializer.SerializeToNode(checkpointOptions with { Kind = options.Kind, Name = options.Name, Linear = checkpointOptions.Linear with { Checkpoint = options.Linear.Checkpoint } }, RunOptions.Json)!.AsObject();
            var after = JsonSerializer.SerializeToNode(options, RunOptions.Json)!.AsObject();
            foreach (var (path, was, now) in Differences(before, after, ""))
            {
                if (ModelIdentity.Any(m => path == m || path.StartsWith(m + ".", StringComparison.Ordinal)))
                    errors.Add(new(path, $"the checkpoint's model has {was}; a linear evaluation cannot change it to {now}"));
                else if (path is not ("device" or "threads" or "seed") && !path.StartsWith("search.", StringComparison.Ordinal) && !path.StartsWith("pretrain.", StringComparison.Ordinal))
                    notices.Add($"{path}: {was} (checkpoint) → {now} (request)");
            }
        }

        // A step cap the evaluation inherits from its checkpoint is said: its number otherwise reads as a full linear evaluation.
        if (checkpointOptions?.MaxStepsPerStage is { } inherited && options.MaxStepsPerStage == inherited)
            notices.Add($"maxStepsPerStage: {inherited} (from the checkpoint), so the linear evaluation stops after at most {inherited} steps, not its {options.Linear.Epochs} epochs; set maxStepsPerStage to null for the full recipe");

        // 6. Field checks, then the genotype reference itself.
        errors.AddRange(options.ValidateFields());
        // A data folder that is not there, does not list, or is too small for a batch: refused now, not a run that fails at its start.
        if (policy.CheckDataFolders && !errors.Any(e => e.Path is "dataPath" or "dataset"))
            errors.AddRange(RunDataCheck.Errors(options).Where(d => !errors.Any(e => e.Path == d.Path)));
        if (!string.IsNullOrWhiteSpace(options.Linear.Checkpoint) && !policy.MayRead(options.Linear.Checkpoint))
            errors.Add(new("linear.checkpoint", Guid.TryParse(options.Linear.Checkpoint.Trim(), out _)
                ? "a run id goes in the request's checkpoint (top level, {\"checkpoint\": \"RUN-ID\"}), not in linear.checkpoint, which takes a file path on the command line only"
                : ServerPathsRefused));
        bool pretrains = options.Kind is RunKind.Pretrain or RunKind.Pipeline;
        if (pretrains && !GenotypeReference.IsSearched(options.Pretrain.Genotype) && !errors.Any(e => e.Path == "pretrain.genotype"))
        {
            try
            {
                var g = GenotypeReference.Resolve(options.Pretrain.Genotype, options.Framework, policy.AllowServerFiles, policy.GenotypeById, policy.GenotypeByName, out var stored);
                notices.AddRange(GenotypeReference.Notices(options.Pretrain.Genotype, policy.AllowServerFiles, stored).Select(n => $"pretrain.genotype: {n}"));
                // A stored genotype's id or name becomes its text: the run keeps what it trains, whatever later happens to the entry.
                if (g is not null && stored is not null)
                    options = options with { Pretrain = options.Pretrain with { Genotype = GenotypeText.Write(g) } };
            }
            catch (Exception e) when (e is ArgumentException or FormatException or IOException or UnauthorizedAccessException)
            {
                errors.Add(new("pretrain.genotype", e.Message));
            }
        }
        if (errors.Count == 0) notices.AddRange(RunDataCheck.Notices(options, policy.CheckDataFolders));
        // A run that cannot fit this host's memory is said before it is queued, not found killed hours in.
        if (errors.Count == 0 && policy.HostMemoryBytes is { } host && RunMemoryEstimate.Notice(options, host, policy.CheckDataFolders ? RunDataCheck.ListedTrainCount(options) : null) is { } memory)
            notices.Add(memory);
        // A linear evaluation of nothing is the random-init baseline: legitimate, and said, so its number is not read as a run's.
        if (errors.Count == 0 && options.Kind == RunKind.LinCls && string.IsNullOrWhiteSpace(options.Linear.Checkpoint))
            notices.Add($"checkpoint: none given, so {UntrainedBackbone}");
        // A field the run does not read was stored without a word (heads.queueSize on SimCLR, pretrain.* on a search).
        if (errors.Count == 0 && UnusedNotice(changed, options.Framework, [options.Kind]) is { } unused)
            notices.Add(unused);
        return errors.Count > 0 ? new(null, errors, notices) : new(options, [], notices) { ChangedFields = changed };

        RunResolution Fail(string path, string message) => new(null, [.. errors, new FieldError(path, message)], notices);
    }

    /// <summary>Start of the notice that names changed options a run does not read (<see cref="UnusedNotice"/>).</summary>
    public const string UnusedNoticePrefix = "not used: ";

    /// <summary>
    /// The notice naming each of <paramref name="changedPaths"/> (options document paths) that no run of
    /// <paramref name="kinds"/> under <paramref name="framework"/> reads (<see cref="OptionEntry.UsedBy(RunKind, Framework)"/>:
    /// pretrain.* on a search, heads.queueSize on SimCLR, a MoCo compat switch on SimSiam), with why; null when every
    /// one is read. A notice, not an error: a stored setup copied to another kind carries such fields harmlessly,
    /// but a value a user set and the run ignores must not pass for one that took effect.
    /// </summary>
    public static string? UnusedNotice(IEnumerable<string> changedPaths, Framework framework, IReadOnlyCollection<RunKind> kinds)
    {
        var unused = changedPaths.Select(OptionCatalog.Find).OfType<OptionEntry>()
            .Where(e => !kinds.Any(k => e.UsedBy(k, framework))).ToList();
        if (unused.Count == 0) return null;
        var fw = framework.DisplayName();
        string runs = kinds.Count == 1 ? $"a {fw} {RunKindStages.Words(kinds.First())}" : $"this {fw} comparison's runs ({string.Join(", ", kinds.Select(RunKindStages.Words))})";
        string one = unused.Count == 1 ? "it" : "them";
        return $"{UnusedNoticePrefix}{string.Join(", ", unused.Select(e => $"{e.Path} ({Why(e)})"))}: {runs} {(kinds.Count == 1 ? "does" : "do")} not read {one}, "
            + $"so the value{(unused.Count == 1 ? "" : "s")} given change{(unused.Count == 1 ? "s" : "")} nothing";

        string Why(OptionEntry e) => e.Frameworks is { } only && !only.Contains(framework)
            ? string.Join(" and ", only.Select(f => f.DisplayName())) + " only"
            : "read by " + string.Join(", ", e.Kinds.Select(RunKindStages.Words));
    }

    /// <summary>What a linear evaluation without a checkpoint measures (method doc 7), in the resolver's notice and the run's warning.</summary>
    public const string UntrainedBackbone = "this evaluates an untrained (randomly initialised) backbone: the baseline a trained one must beat, not any run's result; " +
        "to evaluate a run's backbone give its id as the checkpoint (on the command line: --checkpoint with its folder or checkpoint file)";

    /// <summary>Which of a run folder's checkpoints <see cref="StageEnvironment.FinalBackboneCheckpointIn"/> picked, in words.</summary>
    static string WhichBackbone(string relative, CheckpointState state) => state.Stage == "search"
        ? $"the run's search backbone ({relative}; it has no pre-training checkpoint)"
        : relative.EndsWith("-best.ckpt", StringComparison.Ordinal)
            ? $"the run's kNN-best pre-training backbone ({relative}, after epoch {state.Epoch}), the one a pipeline's linear evaluation reads"
            : $"the run's last pre-training backbone ({relative}, after epoch {state.Epoch}), the one a pipeline's linear evaluation reads";

    /// <summary>Why a checkpoint given to a run of another kind than lincls is refused.</summary>
    internal static string CheckpointNotRead(RunKind kind) =>
        $"only a linear evaluation (kind lincls) reads a checkpoint; a {kind.ToString().ToLowerInvariant()} run trains from scratch and would ignore it: leave the checkpoint out, or use kind lincls";

    /// <summary>
    /// Puts a request's top-level <paramref name="name"/> (null: not given) into the overrides; an error
    /// when the overrides already hold that field with another value (compared as text, case-insensitively).
    /// </summary>
    static JsonObject? LiftMember(JsonObject? patch, string name, string? value, List<FieldError> errors)
    {
        if (string.IsNullOrWhiteSpace(value)) return patch;
        patch ??= new JsonObject();
        if (FindKey(patch, name) is { } key)
        {
            var given = patch[key] is JsonValue v && v.TryGetValue<string>(out var t) ? t : patch[key]?.ToJsonString();
            if (!string.Equals(given?.Trim(), value.Trim(), StringComparison.OrdinalIgnoreCase))
                errors.Add(new(name, $"the request says '{value}' and its options say '{given}'"));
            patch.Remove(key);
        }
        patch[name] = value;
        return patch;
    }

    /// <summary>
    /// RFC 7396 merge of <paramref name="patch"/> into <paramref name="target"/>, matching member
    /// names case-insensitively against the target's; a member the target lacks is an error (the
    /// target is a complete options document, so an unknown name is a typo, never a new field).
    /// </summary>
    static void MergePatch(JsonObject target, JsonObject patch, string prefix, List<FieldError> errors)
    {
        foreach (var (name, value) in patch.ToArray())
        {
            var key = FindKey(target, name);
            var path = prefix + name;
            if (key is null)
            {
                errors.Add(new(path, $"unknown field; valid here: {string.Join(", ", target.Select(p => p.Key))}"));
                continue;
            }
            if (target[key] is JsonObject inner)
            {
                if (value is JsonObject innerPatch) MergePatch(inner, innerPatch, path + ".", errors);
                // RFC 7396 would delete the member, and the record's C# defaults (SimSiam's recipe) would then
                // fill it, whatever the preset: a silent change of a whole section. Refused, naming the way out.
                else if (value is null) errors.Add(new(path, "null is not a value for a whole section; leave it out to keep the preset's values, or give the fields to change"));
                else errors.Add(new(path, "must be an object"));
                continue;
            }
            if (value is JsonObject or JsonArray) { errors.Add(new(path, "must be a single value, not an object or array")); continue; }
            target[key] = value?.DeepClone();
        }
    }

    internal static string? FindKey(JsonObject o, string name) =>
        o.Select(p => p.Key).FirstOrDefault(k => string.Equals(k, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>Leaf paths whose values differ between two options documents, with both values as JSON text.</summary>
    public static IEnumerable<(string Path, string Was, string Now)> Differences(JsonObject a, JsonObject b, string prefix)
    {
        foreach (var key in a.Select(p => p.Key).Union(b.Select(p => p.Key)))
        {
            var (x, y) = (a[key], b[key]);
            if (x is JsonObject xo && y is JsonObject yo)
            {
                foreach (var d in Differences(xo, yo, prefix + key + ".")) yield return d;
            }
            else if (!JsonNode.DeepEquals(x, y))
                yield return (prefix + key, x?.ToJsonString() ?? "null", y?.ToJsonString() ?? "null");
        }
    }

    /// <summary>
    /// Parses overrides text (a file or a request body): a JSON object, a UTF-8 byte-order mark
    /// allowed. Errors name <paramref name="field"/>.
    /// </summary>
    public static (JsonObject? Overrides, FieldError? Error) ParseOverrides(string text, string field)
    {
        text = text.TrimStart('\uFEFF');
        try
        {
            return JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip }) is JsonObject o
                ? (o, null) : (null, new FieldError(field, "must be a JSON object"));
        }
        catch (JsonException e)
        {
            return (null, new FieldError(field, $"malformed JSON: {e.Message}"));
        }
    }

    /// <summary>
    /// For a whole number too large for its integer option (<c>"epochs": 99999999999</c>), the option's own
    /// range message, as a value inside the type but out of range gets it ("must be between 1 and 100000"),
    /// found by validating the options with the value clamped to the type's limit; null when the value is
    /// not such a number or the clamped value passes (the caller then says which whole numbers fit).
    /// The clamped options are only validated, never used.
    /// </summary>
    static string? OutOfRangeMessage(JsonObject document, string path)
    {
        if (JsonValueErrors.TypeAt(typeof(RunOptions), path) is not { } type || !JsonValueErrors.IsInteger(type)) return null;
        if (JsonValueErrors.ValueAt(document, path) is not JsonValue value || !value.TryGetValue<double>(out var number) || number != Math.Floor(number)) return null;
        bool isLong = (Nullable.GetUnderlyingType(type) ?? type) == typeof(long);
        if (isLong ? number is >= long.MinValue and <= long.MaxValue : number is >= int.MinValue and <= int.MaxValue) return null;
        var cut = path.LastIndexOf('.');
        var copy = document.DeepClone().AsObject();
        if (JsonValueErrors.ValueAt(copy, cut < 0 ? "" : path[..cut]) is not JsonObject parent) return null;
        if (FindKey(parent, path[(cut + 1)..]) is not { } key) return null;
        parent[key] = number < 0 ? (isLong ? JsonValue.Create(long.MinValue) : JsonValue.Create(int.MinValue))
                                 : (isLong ? JsonValue.Create(long.MaxValue) : JsonValue.Create(int.MaxValue));
        // Validated as a pipeline, which checks every stage's fields: a stage this kind does not run has a range too.
        copy[FindKey(copy, "kind") ?? "kind"] = EnumNames.Name(RunKind.Pipeline);
        try
        {
            var clamped = copy.Deserialize<RunOptions>(RunOptions.Json);
            var error = clamped?.ValidateFields().FirstOrDefault(f => string.Equals(f.Path, path, StringComparison.OrdinalIgnoreCase));
            return error is null ? null : $"{error.Message}; got {value.ToJsonString()}";
        }
        catch (JsonException) { return null; }
    }
}

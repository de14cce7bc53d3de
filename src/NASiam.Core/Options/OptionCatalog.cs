using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace NASiam.Core.Options;

/// <summary>Where an option is shown: the sections of the CLI help, the New-run form and docs/options.md.</summary>
public enum OptionGroup
{
    /// <summary>What runs, where, and how often it reports.</summary>
    General,
    /// <summary>The data set and its location.</summary>
    Data,
    /// <summary>Projector/predictor heads and loss hyper-parameters (method doc 4).</summary>
    Heads,
    /// <summary>The search stage (method doc 5).</summary>
    Search,
    /// <summary>Pre-training of a fixed architecture (method doc 6).</summary>
    Pretrain,
    /// <summary>Linear evaluation (method doc 7).</summary>
    Linear,
    /// <summary>Switches that reproduce a defect of the reference code (method doc 9).</summary>
    Compat,
}

/// <summary>The kind of value an option holds.</summary>
public enum OptionValueType
{
    /// <summary>Free text (a name, a path, a genotype reference).</summary>
    Text,
    /// <summary>A whole number (<see cref="OptionEntry.ClrType"/> says int or long).</summary>
    Integer,
    /// <summary>A real number.</summary>
    Number,
    /// <summary>true or false.</summary>
    Boolean,
    /// <summary>One of <see cref="OptionEntry.Choices"/> (case-insensitive on input).</summary>
    Choice,
}

/// <summary>
/// One leaf of the <see cref="RunOptions"/> document, described for people: the CLI help and flags,
/// the New-run form and docs/options.md all read it from here.
/// </summary>
/// <param name="Path">JSON path in the options document, camelCase and dot-separated (<c>search.epochs</c>).</param>
/// <param name="Group">Section it is shown in.</param>
/// <param name="Label">Short human label ("Search epochs").</param>
/// <param name="Unit">Unit of the value (epochs, images, steps...), or null.</param>
/// <param name="Help">One line of help, citing the method-doc section it comes from.</param>
/// <param name="Type">Kind of value.</param>
/// <param name="ClrType">The property's .NET type, without nullability (int, long, double, bool, string or an enum).</param>
/// <param name="Nullable">Whether null is a meaningful value (e.g. "framework default").</param>
/// <param name="Choices">The valid values of a <see cref="OptionValueType.Choice"/>; empty otherwise.</param>
/// <param name="Kinds">Run kinds whose stages read it (a pipeline reads everything its stages read).</param>
public sealed record OptionEntry(
    string Path, OptionGroup Group, string Label, string? Unit, string Help, OptionValueType Type, Type ClrType,
    bool Nullable, IReadOnlyList<string> Choices, IReadOnlyList<RunKind> Kinds)
{
    /// <summary>The CLI flag derived from the path: <c>search.epochs</c> → <c>--search-epochs</c>, <c>heads.predDim</c> → <c>--heads-pred-dim</c>.</summary>
    public string Flag => "--" + OptionCatalog.Kebab(Path);

    /// <summary>True when a run of <paramref name="kind"/> reads this option.</summary>
    public bool UsedBy(RunKind kind) => Kinds.Contains(kind);

    /// <summary>The frameworks whose models or recipes read this option (MoCo's queue, SimCLR's one alpha step per epoch…); null: every framework.</summary>
    public IReadOnlyList<Framework>? Frameworks { get; init; }

    /// <summary><see cref="Help"/>, and which frameworks read the option where not every one does ("Read by MoCo only."): the form, the CLI's help and docs/options.md show this.</summary>
    public string FullHelp => Frameworks is { } only ? $"{Help} Read by {string.Join(" and ", only.Select(f => f.DisplayName()))} only." : Help;

    /// <summary>True when a <paramref name="framework"/> run of <paramref name="kind"/> reads this option.</summary>
    public bool UsedBy(RunKind kind, Framework framework) => UsedBy(kind) && (Frameworks is null || Frameworks.Contains(framework));

    /// <summary>
    /// True when the option belongs to a framework's recipe (<see cref="RunPresets.ForFramework"/>: the framework,
    /// backbone, heads, every stage's optimiser, LR, schedule, epochs and batch size, the compat switches, the
    /// genotype); false for what the user sets up around any recipe (name, kind, data, device, threads, seed, step
    /// cap, log and checkpoint intervals). Another framework re-applies the recipe options and keeps the others.
    /// </summary>
    public bool FrameworkRecipe => Path is "framework" or "backbone"
        || Group is OptionGroup.Heads or OptionGroup.Search or OptionGroup.Pretrain or OptionGroup.Linear or OptionGroup.Compat;

    /// <summary>The value in <paramref name="options"/> as text (invariant culture, enum canonical names); null when unset.</summary>
    public string? ReadText(RunOptions options) => OptionCatalog.FormatValue(OptionCatalog.ReadValue(options, Path));

    /// <summary>
    /// The default of this option for a preset (<see cref="RunPresets"/> name), or for the
    /// framework's recipe when <paramref name="preset"/> is null, as text.
    /// </summary>
    /// <exception cref="ArgumentException">Unknown preset, or a framework that contradicts it.</exception>
    public string? DefaultText(string? preset, Framework? framework = null) => ReadText(OptionCatalog.Defaults(preset, framework));

    /// <summary>
    /// Turns user text into the JSON value of this option for a merge patch (invariant culture;
    /// enum names case-insensitive and written in their canonical spelling; "null" clears a nullable
    /// option). Returns false with a one-line reason when the text does not fit the type.
    /// </summary>
    public bool TryParseText(string? text, out JsonNode? value, out string error)
    {
        value = null;
        error = "";
        var t = text?.Trim() ?? "";
        if (Nullable && (t.Length == 0 || t.Equals("null", StringComparison.OrdinalIgnoreCase))) return true;
        var c = CultureInfo.InvariantCulture;
        switch (Type)
        {
            case OptionValueType.Integer when t.Length == 0:
                error = "is required: a whole number";
                return false;
            case OptionValueType.Number when t.Length == 0:
                error = "is required: a number such as 0.05 or 1e-3";
                return false;
            case OptionValueType.Integer when ClrType == typeof(long):
                if (long.TryParse(t, NumberStyles.Integer, c, out var l)) { value = JsonValue.Create(l); return true; }
                return BeyondTheType(t, c, out value, out error);
            case OptionValueType.Integer:
                if (int.TryParse(t, NumberStyles.Integer, c, out var i)) { value = JsonValue.Create(i); return true; }
                return BeyondTheType(t, c, out value, out error);
            case OptionValueType.Number:
                if (double.TryParse(t, NumberStyles.Float, c, out var d) && double.IsFinite(d)) { value = JsonValue.Create(d); return true; }
                error = $"must be a number such as 0.05 or 1e-3 (got '{t}')";
                return false;
            case OptionValueType.Boolean:
                if (t.Equals("true", StringComparison.OrdinalIgnoreCase)) { value = JsonValue.Create(true); return true; }
                if (t.Equals("false", StringComparison.OrdinalIgnoreCase)) { value = JsonValue.Create(false); return true; }
                error = $"must be true or false (got '{t}')";
                return false;
            case OptionValueType.Choice:
                var match = Choices.FirstOrDefault(ch => string.Equals(ch, t, StringComparison.OrdinalIgnoreCase));
                if (match is null && ClrType.IsEnum && EnumNames.TryParse(ClrType, t) is { } e) match = EnumNames.NameOf(ClrType, e);
                if (match is not null) { value = JsonValue.Create(match); return true; }
                error = $"'{t}' is not one of {string.Join(", ", Choices)}";
                return false;
            default:
                if (t.Length == 0 && !Nullable) { error = "must not be empty"; return false; }
                value = JsonValue.Create(t);
                return true;
        }
    }

    /// <summary>
    /// A whole number too large for the option's type ("9999999999" epochs) is passed on as a number, so the
    /// resolver answers with the option's own range ("must be between 1 and 100000; got 9999999999"), as the
    /// API does for the same value; it read "must be a whole number", which it is. Anything else is not one.
    /// </summary>
    static bool BeyondTheType(string t, CultureInfo c, out JsonNode? value, out string error)
    {
        value = null;
        error = "";
        // As a JSON number read from text, the form the API's body has, so the resolver reads it the same way.
        if (decimal.TryParse(t, NumberStyles.AllowLeadingSign, c, out var whole)) { value = JsonNode.Parse(whole.ToString(c)); return true; }
        error = $"must be a whole number (got '{t}')";
        return false;
    }
}

/// <summary>
/// Every option of a run (<see cref="RunOptions"/>), one <see cref="OptionEntry"/> per leaf, with
/// labels and help written by people (never made by splitting identifiers). The CLI derives its
/// flags and help from it, the New-run form its fields, and docs/options.md is generated from it.
/// A test checks that every <see cref="RunOptions"/> leaf has exactly one entry.
/// </summary>
public static class OptionCatalog
{
    static readonly RunKind[] All = [RunKind.Search, RunKind.Pretrain, RunKind.LinCls, RunKind.Pipeline];
    static readonly RunKind[] Searches = [RunKind.Search, RunKind.Pipeline];
    static readonly RunKind[] Pretrains = [RunKind.Pretrain, RunKind.Pipeline];
    static readonly RunKind[] Evaluates = [RunKind.LinCls, RunKind.Pipeline];
    static readonly RunKind[] Trains = [RunKind.Search, RunKind.Pretrain, RunKind.Pipeline];

    // Declared before Entries: static fields initialise in textual order and Build reads it.
    /// <summary>The leaf paths of <see cref="RunOptions"/> found by reflection, with the property chain to each.</summary>
    static readonly Dictionary<string, PropertyInfo[]> Accessors = LeafAccessors();

    /// <summary>Every entry, in display order (by group, then as listed).</summary>
    public static IReadOnlyList<OptionEntry> Entries { get; } = Build();

    static readonly Dictionary<string, OptionEntry> ByPath =
        Entries.ToDictionary(e => e.Path, StringComparer.OrdinalIgnoreCase);

    /// <summary>The entry of a JSON path (case-insensitive), or null.</summary>
    public static OptionEntry? Find(string path) => ByPath.GetValueOrDefault(path.Trim());

    /// <summary>The entry of a JSON path.</summary>
    /// <exception cref="KeyNotFoundException">No option has that path.</exception>
    public static OptionEntry Get(string path) =>
        Find(path) ?? throw new KeyNotFoundException($"No run option has the path '{path}'.");

    /// <summary>The entries of one group, in display order.</summary>
    public static IEnumerable<OptionEntry> InGroup(OptionGroup group) => Entries.Where(e => e.Group == group);

    /// <summary>
    /// The options a request of <paramref name="preset"/> starts from (<see cref="RunPresets.Get"/>),
    /// or the framework's recipe (<see cref="RunPresets.ForFramework"/>) when the preset is null.
    /// </summary>
    public static RunOptions Defaults(string? preset, Framework? framework = null) =>
        string.IsNullOrWhiteSpace(preset) ? RunPresets.ForFramework(framework ?? Framework.SimSiam) : RunPresets.Get(preset, framework);

    /// <summary>The value at <paramref name="path"/> in <paramref name="options"/> (boxed; null when unset).</summary>
    /// <exception cref="KeyNotFoundException">No option has that path.</exception>
    public static object? ReadValue(RunOptions options, string path)
    {
        ArgumentNullException.ThrowIfNull(options);
        object? current = options;
        foreach (var property in Accessors.GetValueOrDefault(path) ?? throw new KeyNotFoundException($"No run option has the path '{path}'."))
        {
            if (current is null) return null;
            current = property.GetValue(current);
        }
        return current;
    }

    /// <summary>A value as text: invariant culture, enum canonical names, booleans as true/false; null stays null.</summary>
    public static string? FormatValue(object? value) => value switch
    {
        null => null,
        Enum e => EnumNames.NameOf(e.GetType(), e),
        bool b => b ? "true" : "false",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString(),
    };

    /// <summary>The kebab-case form of a JSON path: <c>compat.mocoReferenceBatchNorm</c> → <c>compat-moco-reference-batch-norm</c>.</summary>
    public static string Kebab(string path)
    {
        var sb = new StringBuilder();
        foreach (var segment in path.Split('.'))
        {
            if (sb.Length > 0) sb.Append('-');
            // Brand names stay one word: simclr, resnet50, imagenet.
            var s = segment.Replace("SimClr", "Simclr", StringComparison.Ordinal).Replace("simClr", "simclr", StringComparison.Ordinal)
                .Replace("ResNet", "Resnet", StringComparison.Ordinal).Replace("resNet", "resnet", StringComparison.Ordinal)
                .Replace("ImageNet", "Imagenet", StringComparison.Ordinal).Replace("imageNet", "imagenet", StringComparison.Ordinal);
            for (int i = 0; i < s.Length; i++)
            {
                if (char.IsUpper(s[i]) && i > 0) sb.Append('-');
                sb.Append(char.ToLowerInvariant(s[i]));
            }
        }
        return sb.ToString();
    }

    static Dictionary<string, PropertyInfo[]> LeafAccessors()
    {
        var d = new Dictionary<string, PropertyInfo[]>(StringComparer.OrdinalIgnoreCase);
        void Walk(Type t, string prefix, PropertyInfo[] chain)
        {
            foreach (var p in t.GetProperties(BindingFlags.Public | BindingFlags.Instance))
            {
                var path = prefix + JsonNamingPolicy.CamelCase.ConvertName(p.Name);
                PropertyInfo[] next = [.. chain, p];
                if (p.PropertyType.Namespace == typeof(RunOptions).Namespace && p.PropertyType.IsClass && p.PropertyType != typeof(string))
                    Walk(p.PropertyType, path + ".", next);
                else d[path] = next;
            }
        }
        Walk(typeof(RunOptions), "", []);
        return d;
    }

    static List<OptionEntry> Build()
    {
        var list = new List<OptionEntry>();
        void Add(string path, OptionGroup group, string label, string? unit, string help, IReadOnlyList<RunKind> kinds, IReadOnlyList<string>? choices = null)
        {
            if (!Accessors.TryGetValue(path, out var chain))
                throw new InvalidOperationException($"Option catalog: '{path}' is not a RunOptions field.");
            var clr = chain[^1].PropertyType;
            var underlying = System.Nullable.GetUnderlyingType(clr);
            bool nullable = underlying is not null
                || new NullabilityInfoContext().Create(chain[^1]).WriteState == NullabilityState.Nullable;
            clr = underlying ?? clr;
            var type = clr == typeof(bool) ? OptionValueType.Boolean
                : clr == typeof(int) || clr == typeof(long) ? OptionValueType.Integer
                : clr == typeof(double) ? OptionValueType.Number
                : clr.IsEnum || choices is not null ? OptionValueType.Choice
                : OptionValueType.Text;
            var validChoices = clr.IsEnum ? EnumNames.All(clr) : choices ?? [];
            list.Add(new OptionEntry(path, group, label, unit, help, type, clr, nullable, validChoices, kinds));
        }

        // General
        Add("name", OptionGroup.General, "Run name", null, "Free display name of the run.", All);
        Add("kind", OptionGroup.General, "Run kind", null, "What runs: one stage or the whole pipeline (doc 1); the CLI verb sets it.", All);
        Add("framework", OptionGroup.General, "Framework", null, "Self-supervised framework whose heads are searched and trained (doc 4).", All);
        Add("backbone", OptionGroup.General, "Backbone", null, "Backbone network; CIFAR data use the CIFAR stem (doc 3).", All, RunOptionsValidator.Backbones);
        Add("seed", OptionGroup.General, "Random seed", null, "Seed for weights, data order and augmentation.", All);
        Add("device", OptionGroup.General, "Device", null, "auto (CUDA when available, else CPU), cpu, cuda or cuda:N.", All);
        Add("backbonePrecision", OptionGroup.General, "Backbone precision", null, "fp32, or bf16: the backbone's training forward runs under bfloat16 autocast (CPU or CUDA); heads, losses and evaluation stay fp32. Off by default.", Trains);
        Add("threads", OptionGroup.General, "CPU threads", "threads", "Torch CPU threads, the most a run uses: fewer while other processes keep the cores busy (the thread governor, unless OMP_WAIT_POLICY or GOMP_SPINCOUNT is set); 0 lets the host choose (all cores for the CLI).", All);
        Add("maxStepsPerStage", OptionGroup.General, "Step cap per stage", "steps", "Stop each stage after this many weight steps (demos, tests, benchmarks); empty = full epochs.", All);
        Add("logEverySteps", OptionGroup.General, "Log interval", "steps", "Report loss and learning rate every N steps (1 = every step).", All);
        Add("alphaLogEverySteps", OptionGroup.General, "Alpha log interval", "steps", "Report the architecture weights every N steps during the search.", Searches);
        Add("checkpointEveryEpochs", OptionGroup.General, "Checkpoint interval", "epochs", "Save a resumable checkpoint every N epochs; the last epoch always saves (doc 5.6).", All);

        // Data
        Add("dataset", OptionGroup.Data, "Data set", null, "Training and test data: the built-in synthetic set, CIFAR-10/100 or an image folder.", All, RunOptionsValidator.Datasets);
        Add("dataPath", OptionGroup.Data, "Data folder", null, "Folder holding the data set (CIFAR root or image folder); not needed for synthetic.", All);
        Add("coarseLabels", OptionGroup.Data, "CIFAR-100 coarse labels", null, "Use the 20 CIFAR-100 superclasses instead of the 100 fine classes.", All);
        Add("syntheticTrainSize", OptionGroup.Data, "Synthetic set size", "images", "Training images of the synthetic set; its test split is a fifth of it.", All);
        Add("data.imageSize", OptionGroup.Data, "Image size", "px", "Side of the images the model sees, 32-1024; empty = the data set's own (CIFAR and synthetic 32, image folders 224: RandomResizedCrop 224 on the original image, Resize 256 + CenterCrop 224 for evaluation) (doc 6.2). Image folders are streamed from disk; CIFAR and synthetic are held in memory.", All);
        Add("data.workers", OptionGroup.Data, "Decode workers", "threads", "Image folders: threads decoding each batch from disk (read ahead by 2 batches); 0 = one per core.", All);

        // Heads
        Add("heads.dim", OptionGroup.Heads, "Output width", "features", "Projector output width: 2048 for SimSiam, 128 for MoCo and SimCLR (doc 5.2, 6.1).", Trains);
        Add("heads.predDim", OptionGroup.Heads, "Hidden width", "features", "Hidden width of the SimSiam predictor and of the SimCLR head: 512 (doc 4.1, 4.3).", Trains);
        Add("heads.encoderLayers", OptionGroup.Heads, "Projector cell depth", "layers", "Layers of the searched projector cell; empty = the framework's (SimSiam 6, MoCo 4) (doc 2.7).", Searches);
        Add("heads.predictorLayers", OptionGroup.Heads, "Predictor cell depth", "layers", "Layers of the searched predictor (SimCLR: head) cell; empty = the framework's (SimSiam 4, SimCLR 6) (doc 2.7).", Searches);
        Add("heads.queueSize", OptionGroup.Heads, "MoCo queue length", "keys", "MoCo negative queue K: 4096; a multiple of 2 x batch size (doc 4.2).", Trains);
        Add("heads.searchMomentum", OptionGroup.Heads, "MoCo search momentum", null, "MoCo key-encoder momentum during the search: 0.999 (doc 5.2).", Searches);
        Add("heads.pretrainMomentum", OptionGroup.Heads, "MoCo pre-training momentum", null, "MoCo key-encoder momentum during pre-training: 0.99 (doc 6.1).", Pretrains);
        Add("heads.temperature", OptionGroup.Heads, "Temperature", null, "Softmax temperature of the loss and the kNN weights: MoCo 0.1, SimCLR 0.5; SimSiam has none (doc 4, 6.4).", Trains);

        // Search
        Add("search.epochs", OptionGroup.Search, "Search epochs", "epochs", "Length of the search: 100 in every framework (doc 5.2).", Searches);
        Add("search.batchSize", OptionGroup.Search, "Search batch size", "images", "Images per weight step and per architecture step: 512, SimCLR 256 (doc 5.2).", Searches);
        Add("search.trainPortion", OptionGroup.Search, "Weight share of the data", null, "Fraction of the training set that trains weights; the rest trains the architecture: 0.5 (doc 5.1).", Searches);
        Add("search.optimizer", OptionGroup.Search, "Search weight optimizer", null, "Optimizer of the network weights: SGD, SimCLR Adam (doc 5.2).", Searches);
        Add("search.lr", OptionGroup.Search, "Search learning rate", null, "Weight learning rate; per 256 images when the scaling is per256 (SimSiam 0.06 → 0.12 at batch 512) (doc 5.2).", Searches);
        Add("search.lrScaling", OptionGroup.Search, "Search LR scaling", null, "absolute, or per256: initial lr = lr x batch / 256 (SimSiam) (doc 5.2).", Searches);
        Add("search.momentum", OptionGroup.Search, "Search SGD momentum", null, "SGD momentum of the weights: 0.9 (doc 5.2).", Searches);
        Add("search.weightDecay", OptionGroup.Search, "Search weight decay", null, "Weight decay of the weights: 5e-4, SimCLR 1e-6 (doc 5.2).", Searches);
        Add("search.schedule", OptionGroup.Search, "Search LR schedule", null, "Learning-rate schedule, stepped per epoch: cosine, SimCLR constant (doc 5.3).", Searches);
        Add("search.fixPredictorLr", OptionGroup.Search, "Fixed predictor LR (search)", null, "Keep the SimSiam predictor at its initial learning rate (README: on) (doc 5.3).", Searches);
        Add("search.alphaOptimizer", OptionGroup.Search, "Architecture optimizer", null, "Optimizer of the architecture weights: SimSiam AdamW, MoCo and SimCLR Adam (doc 5.2).", Searches);
        Add("search.alphaLr", OptionGroup.Search, "Architecture learning rate", null, "Learning rate of the architecture weights: 1e-3, MoCo 3e-4 (doc 5.2).", Searches);
        Add("search.alphaBeta1", OptionGroup.Search, "Architecture Adam beta1", null, "First Adam beta of the architecture optimizer: 0.9 (doc 5.2).", Searches);
        Add("search.alphaBeta2", OptionGroup.Search, "Architecture Adam beta2", null, "Second Adam beta of the architecture optimizer: 0.999 (doc 5.2).", Searches);
        Add("search.alphaWeightDecay", OptionGroup.Search, "Architecture weight decay", null, "Weight decay of the architecture weights: 1e-3, SimCLR 0 (doc 5.2).", Searches);

        // Pretrain
        Add("pretrain.epochs", OptionGroup.Pretrain, "Pre-training epochs", "epochs", "Length of the pre-training: 800 on CIFAR (doc 6.1).", Pretrains);
        Add("pretrain.batchSize", OptionGroup.Pretrain, "Pre-training batch size", "images", "Images per pre-training step: 512 (doc 6.1).", Pretrains);
        Add("pretrain.optimizer", OptionGroup.Pretrain, "Pre-training optimizer", null, "Optimizer of the pre-training: SGD, SimCLR Adam (doc 6.1).", Pretrains);
        Add("pretrain.lr", OptionGroup.Pretrain, "Pre-training learning rate", null, "Learning rate; per 256 images when the scaling is per256 (SimSiam 0.06 → 0.12), MoCo 0.06, SimCLR 1e-3 (doc 6.1).", Pretrains);
        Add("pretrain.lrScaling", OptionGroup.Pretrain, "Pre-training LR scaling", null, "absolute, or per256: initial lr = lr x batch / 256 (SimSiam) (doc 6.1).", Pretrains);
        Add("pretrain.momentum", OptionGroup.Pretrain, "Pre-training SGD momentum", null, "SGD momentum: 0.9 (doc 6.1).", Pretrains);
        Add("pretrain.weightDecay", OptionGroup.Pretrain, "Pre-training weight decay", null, "Weight decay, BN and biases included: 5e-4, SimCLR 1e-6 (doc 6.1).", Pretrains);
        Add("pretrain.schedule", OptionGroup.Pretrain, "Pre-training LR schedule", null, "Learning-rate schedule, stepped per epoch: cosine, SimCLR constant (doc 5.3, 6.1).", Pretrains);
        Add("pretrain.fixPredictorLr", OptionGroup.Pretrain, "Fixed predictor LR (pre-training)", null, "Keep the SimSiam predictor at its initial learning rate (README: on) (doc 5.3).", Pretrains);
        Add("pretrain.genotype", OptionGroup.Pretrain, "Genotype", null, "Heads to pre-train: searched (a pipeline's default), standard, a genotype preset, genotype text or a file (doc 1, 5.7, 5.8).", Pretrains);
        Add("pretrain.knnEveryEpochs", OptionGroup.Pretrain, "kNN monitor interval", "epochs", "Run the kNN monitor every N epochs; its best top-1 selects pretrain-best; 0 = never (doc 6.4).", Pretrains);
        Add("pretrain.knnK", OptionGroup.Pretrain, "kNN neighbours", "neighbours", "Neighbours the kNN monitor votes with: 200 (doc 6.4).", Pretrains);

        // Linear
        Add("linear.epochs", OptionGroup.Linear, "Linear epochs", "epochs", "Length of the linear evaluation: SimSiam 90, MoCo and SimCLR 100 (doc 7).", Evaluates);
        Add("linear.batchSize", OptionGroup.Linear, "Linear batch size", "images", "Images per linear-evaluation step: 512, MoCo 256 (doc 7).", Evaluates);
        Add("linear.optimizer", OptionGroup.Linear, "Linear optimizer", null, "Optimizer of the classifier: SGD, SimCLR Adam (doc 7).", Evaluates);
        Add("linear.lr", OptionGroup.Linear, "Linear learning rate", null, "Learning rate of the classifier; per 256 images when the scaling is per256 (SimSiam 30 → 60 at batch 512), MoCo 30, SimCLR 1e-3 (doc 7).", Evaluates);
        Add("linear.lrScaling", OptionGroup.Linear, "Linear LR scaling", null, "absolute, or per256: initial lr = lr x batch / 256 (SimSiam) (doc 7).", Evaluates);
        Add("linear.momentum", OptionGroup.Linear, "Linear SGD momentum", null, "SGD momentum of the classifier: 0.9 (doc 7).", Evaluates);
        Add("linear.weightDecay", OptionGroup.Linear, "Linear weight decay", null, "Weight decay of the classifier: 0, SimCLR 1e-6 (doc 7).", Evaluates);
        Add("linear.schedule", OptionGroup.Linear, "Linear LR schedule", null, "Learning-rate schedule: SimSiam cosine, MoCo step (x0.1 at 60 and 80), SimCLR constant (doc 5.3, 7).", Evaluates);
        Add("linear.normalizeFeatures", OptionGroup.Linear, "Standardise features", null, "Standardise the frozen features with a non-affine batch norm before the classifier; off in the reference recipes (doc 7).", Evaluates);
        Add("linear.useBestCheckpoint", OptionGroup.Linear, "Evaluate the kNN-best checkpoint", null, "In a pipeline: true = the kNN-best pre-training checkpoint, false = the last; empty = the framework's choice (SimSiam/MoCo best, SimCLR last) (doc 6.4, 9 D21).", [RunKind.Pipeline]);
        Add("linear.checkpoint", OptionGroup.Linear, "Checkpoint to evaluate", null, "Pre-training (or search) checkpoint whose backbone is evaluated (a file, or a run folder: the pre-training checkpoint its pipeline evaluates, pretrain-best or pretrain by linear.useBestCheckpoint, else search.ckpt); empty in a pipeline or for an untrained backbone (doc 7).", Evaluates);

        // Compat
        Add("compat.mocoReferenceBatchNorm", OptionGroup.Compat, "D1: MoCo reference batch norm", null, "MoCo linear ops use Lin(b) → BN(in_dim, eps = out_dim) as the reference code does (doc 9 D1).", Trains);
        Add("compat.simClrAlphaStepPerEpoch", OptionGroup.Compat, "D7: SimCLR one architecture step per epoch", null, "SimCLR takes one architecture step per epoch instead of one per weight step (doc 9 D7).", Searches);
        Add("compat.mocoFrozenSharedCell", OptionGroup.Compat, "D2: MoCo frozen shared cell", null, "The final MoCo cell is shared by the query and key heads and stays at its initialisation (doc 9 D2).", Pretrains);
        Add("compat.mocoMomentumKeyCellInSearch", OptionGroup.Compat, "MoCo momentum key cell in the search", null, "NASiam.Web's earlier MoCo search: the key side holds a momentum copy of the search cell instead of the shared live cell (doc 4.2); not a reference defect.", Searches);
        Add("compat.mocoQueueOnArchStep", OptionGroup.Compat, "D22: MoCo queue on architecture steps", null, "MoCo's momentum update and enqueue also run on architecture-step batches (doc 5.4, 9 D22).", Searches);
        Add("compat.resNet50ImageNetStemOnCifar", OptionGroup.Compat, "D18: ResNet-50 ImageNet stem on CIFAR", null, "ResNet-50 on CIFAR keeps the ImageNet stem, as the released ResNet-50 genotypes were searched (doc 3, 9 D18).", All);
        Add("compat.imageNetSearchFirstQuarter", OptionGroup.Compat, "D20: ImageNet search on the first quarter by index", null, "An image-folder search uses the first quarter of the train split by index (the first quarter of the sorted classes, weight and alpha halves with disjoint classes) as the reference does; off, a random class-balanced quarter (doc 5.1, 9 D20).", Searches);


        // Options only some frameworks read (ModelFactory, KnnProtocol, SearchStage, ModelBuilder.CifarStem).
        Framework[] simSiam = [Framework.SimSiam], moco = [Framework.MoCo], simClr = [Framework.SimClr];
        var frameworks = new Dictionary<string, Framework[]>
        {
            ["heads.predDim"] = [Framework.SimSiam, Framework.SimClr],
            ["heads.encoderLayers"] = [Framework.SimSiam, Framework.MoCo],
            ["heads.predictorLayers"] = [Framework.SimSiam, Framework.SimClr],
            ["heads.queueSize"] = moco, ["heads.searchMomentum"] = moco, ["heads.pretrainMomentum"] = moco,
            ["heads.temperature"] = [Framework.MoCo, Framework.SimClr],
            ["search.fixPredictorLr"] = simSiam, ["pretrain.fixPredictorLr"] = simSiam,
            ["compat.mocoReferenceBatchNorm"] = moco, ["compat.mocoFrozenSharedCell"] = moco,
            ["compat.mocoMomentumKeyCellInSearch"] = moco, ["compat.mocoQueueOnArchStep"] = moco,
            ["compat.simClrAlphaStepPerEpoch"] = simClr,
            ["compat.resNet50ImageNetStemOnCifar"] = [Framework.SimSiam, Framework.MoCo],
        };
        for (int i = 0; i < list.Count; i++)
            if (frameworks.TryGetValue(list[i].Path, out var only)) list[i] = list[i] with { Frameworks = only };

        return list;
    }

    /// <summary>
    /// docs/options.md: every option by group, with its flag, unit, type and choices, and its
    /// default in the framework recipes and the quick demo. Generated; a test keeps the committed file equal to it.
    /// </summary>
    public static string Markdown()
    {
        var sb = new StringBuilder();
        sb.Append("# Run options\n\n");
        sb.Append("Generated from `src/NASiam.Core/Options/OptionCatalog.cs` by `nasiam options --markdown`; do not edit by hand.\n\n");
        sb.Append("Every field of the options document (`result.json` \"options\", the API's `overrides`, `nasiam ... --options FILE`) ");
        sb.Append("with its CLI flag. Paths are camelCase JSON paths; a request is a JSON merge patch on the preset's document, ");
        sb.Append("so `{\"search\": {\"epochs\": 2}}` changes one field and keeps the rest. Enum values have one spelling ");
        sb.Append("(case-insensitive on input). \"doc N\" cites the method reference.\n\n");
        sb.Append("Defaults shown: the framework recipes (`--framework` with no preset; the `<framework>-<dataset>` presets ");
        sb.Append("start from the same values) and `quick-demo` (SimCLR flavour). A field that a run's kind or framework does ");
        sb.Append("not read (the help says \"Read by MoCo only\" where a framework's) is stored with a notice, `not used: ...`, ");
        sb.Append("when a request changes it.\n");
        var frameworks = Enum.GetValues<Framework>();
        var recipes = frameworks.Select(f => RunPresets.ForFramework(f)).ToArray();
        var demo = RunPresets.Get(RunPresets.QuickDemo);
        foreach (var group in Enum.GetValues<OptionGroup>())
        {
            sb.Append($"\n## {group}\n\n");
            sb.Append("| path | flag | label | unit | type | ").Append(string.Join(" | ", frameworks.Select(f => f.ToName())))
              .Append(" | quick-demo | help |\n");
            sb.Append("|---|---|---|---|---|").Append(string.Concat(frameworks.Select(_ => "---|"))).Append("---|---|\n");
            foreach (var e in InGroup(group))
            {
                var type = e.Type switch
                {
                    OptionValueType.Choice => string.Join(" \\| ", e.Choices),
                    OptionValueType.Integer => "integer",
                    OptionValueType.Number => "number",
                    OptionValueType.Boolean => "true \\| false",
                    _ => "text",
                } + (e.Nullable ? " (optional)" : "");
                // The run kind is the CLI verb (nasiam search|pretrain|lincls|pipeline), not a flag.
                var flag = e.Path == "kind" ? "the verb" : $"`{e.Flag}`";
                sb.Append($"| `{e.Path}` | {flag} | {e.Label} | {e.Unit ?? ""} | {type} | ")
                  .Append(string.Join(" | ", recipes.Select(r => Cell(e.ReadText(r)))))
                  .Append($" | {Cell(e.ReadText(demo))} | {e.FullHelp.Replace("|", "\\|", StringComparison.Ordinal)} |\n");
            }
        }
        return sb.ToString();

        static string Cell(string? v) => v is null ? "–" : v.Length == 0 ? "\"\"" : $"`{v.Replace("|", "\\|", StringComparison.Ordinal)}`";
    }
}

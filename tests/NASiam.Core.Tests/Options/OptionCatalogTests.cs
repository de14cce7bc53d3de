using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using NASiam.Core.Options;

namespace NASiam.Core.Tests.Options;

public class OptionCatalogTests
{
    /// <summary>Leaf paths of RunOptions found by reflection over the records (independently of the catalog).</summary>
    static List<string> ReflectedLeaves()
    {
        var leaves = new List<string>();
        void Walk(Type t, string prefix)
        {
            foreach (var p in t.GetProperties(BindingFlags.Public | BindingFlags.Instance))
            {
                var path = prefix + JsonNamingPolicy.CamelCase.ConvertName(p.Name);
                if (p.PropertyType.IsClass && p.PropertyType != typeof(string) && p.PropertyType.Assembly == typeof(RunOptions).Assembly)
                    Walk(p.PropertyType, path + ".");
                else leaves.Add(path);
            }
        }
        Walk(typeof(RunOptions), "");
        return leaves;
    }

    /// <summary>Leaf paths of the options document as written to JSON (what overrides patch).</summary>
    static List<string> JsonLeaves()
    {
        var leaves = new List<string>();
        void Walk(JsonObject o, string prefix)
        {
            foreach (var (k, v) in o)
                if (v is JsonObject inner) Walk(inner, prefix + k + ".");
                else leaves.Add(prefix + k);
        }
        Walk(JsonSerializer.SerializeToNode(new RunOptions(), RunOptions.Json)!.AsObject(), "");
        return leaves;
    }

    [Fact]
    public void EveryRunOptionsLeaf_HasExactlyOneEntry_AndViceVersa()
    {
        var paths = OptionCatalog.Entries.Select(e => e.Path).ToList();
        var duplicates = paths.GroupBy(p => p).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.True(duplicates.Count == 0, "catalogued twice: " + string.Join(", ", duplicates));
        var reflected = ReflectedLeaves();
        var missing = reflected.Except(paths).ToList();
        var extra = paths.Except(reflected).ToList();
        Assert.True(missing.Count == 0, "RunOptions fields with no catalog entry (add them to OptionCatalog): " + string.Join(", ", missing));
        Assert.True(extra.Count == 0, "catalog entries that are no RunOptions field: " + string.Join(", ", extra));
        Assert.Equal(JsonLeaves().Order(), paths.Order());
    }

    [Fact]
    public void Entries_HaveUniqueHumanLabels_HelpAndFlags()
    {
        var e = OptionCatalog.Entries;
        Assert.Equal(e.Count, e.Select(x => x.Label).Distinct().Count());
        Assert.Equal(e.Count, e.Select(x => x.Flag).Distinct().Count());
        Assert.All(e, x =>
        {
            Assert.False(string.IsNullOrWhiteSpace(x.Help), x.Path);
            Assert.DoesNotContain('\n', x.Help);
            Assert.False(string.IsNullOrWhiteSpace(x.Label), x.Path);
            // Written by a person, not an identifier: never camelCase or PascalCase-joined like "batchSize"/"BatchSize".
            Assert.DoesNotMatch("^[A-Za-z][a-z0-9]+([A-Z][a-z0-9]+)+$", x.Label);
        });
    }

    [Theory]
    [InlineData("search.epochs", "--search-epochs")]
    [InlineData("heads.dim", "--heads-dim")]
    [InlineData("heads.predDim", "--heads-pred-dim")]
    [InlineData("compat.mocoReferenceBatchNorm", "--compat-moco-reference-batch-norm")]
    [InlineData("compat.simClrAlphaStepPerEpoch", "--compat-simclr-alpha-step-per-epoch")]
    [InlineData("compat.resNet50ImageNetStemOnCifar", "--compat-resnet50-imagenet-stem-on-cifar")]
    [InlineData("maxStepsPerStage", "--max-steps-per-stage")]
    public void Flag_IsDerivedFromThePath(string path, string flag) => Assert.Equal(flag, OptionCatalog.Get(path).Flag);

    [Fact]
    public void Choices_ComeFromEnumNamesAndTheValidatorsLists()
    {
        Assert.Equal(["simsiam", "moco", "simclr"], OptionCatalog.Get("framework").Choices);
        Assert.Equal(["sgd", "adam", "adamw"], OptionCatalog.Get("search.alphaOptimizer").Choices);
        Assert.Equal(EnumNames.All<LrScaling>(), OptionCatalog.Get("linear.lrScaling").Choices);
        Assert.Equal(RunOptionsValidator.Backbones, OptionCatalog.Get("backbone").Choices);
        Assert.Equal(RunOptionsValidator.Datasets, OptionCatalog.Get("dataset").Choices);
        Assert.Equal(OptionValueType.Choice, OptionCatalog.Get("dataset").Type);
        Assert.Equal(OptionValueType.Integer, OptionCatalog.Get("maxStepsPerStage").Type);
        Assert.Equal(typeof(long), OptionCatalog.Get("maxStepsPerStage").ClrType);
        Assert.True(OptionCatalog.Get("maxStepsPerStage").Nullable);
        Assert.True(OptionCatalog.Get("pretrain.genotype").Nullable);
        Assert.False(OptionCatalog.Get("search.epochs").Nullable);
        Assert.False(OptionCatalog.Get("backbone").Nullable);
    }

    [Fact]
    public void ReadText_UsesInvariantCultureAndCanonicalEnumNames()
    {
        var culture = System.Globalization.CultureInfo.CurrentCulture;
        try
        {
            System.Globalization.CultureInfo.CurrentCulture = new System.Globalization.CultureInfo("de-DE");
            var o = RunPresets.ForFramework(Framework.MoCo) with { Kind = RunKind.LinCls, MaxStepsPerStage = 3 };
            Assert.Equal("0.06", OptionCatalog.Get("search.lr").ReadText(o));
            Assert.Equal("0.0003", OptionCatalog.Get("search.alphaLr").ReadText(o));
            Assert.Equal("moco", OptionCatalog.Get("framework").ReadText(o));
            Assert.Equal("lincls", OptionCatalog.Get("kind").ReadText(o));
            Assert.Equal("absolute", OptionCatalog.Get("linear.lrScaling").ReadText(o));
            Assert.Equal("step", OptionCatalog.Get("linear.schedule").ReadText(o));
            Assert.Equal("false", OptionCatalog.Get("search.fixPredictorLr").ReadText(o));
            Assert.Equal("3", OptionCatalog.Get("maxStepsPerStage").ReadText(o));
            Assert.Null(OptionCatalog.Get("dataPath").ReadText(o));
            Assert.Null(OptionCatalog.Get("heads.encoderLayers").ReadText(o));
        }
        finally { System.Globalization.CultureInfo.CurrentCulture = culture; }
    }

    [Fact]
    public void DefaultText_FollowsThePreset()
    {
        var dim = OptionCatalog.Get("heads.dim");
        Assert.Equal("2048", dim.DefaultText(null));
        Assert.Equal("128", dim.DefaultText(null, Framework.MoCo));
        Assert.Equal("128", dim.DefaultText("moco-cifar10"));
        Assert.Equal("64", dim.DefaultText(RunPresets.QuickDemo));
        Assert.Equal("256", dim.DefaultText(RunPresets.QuickDemo, Framework.SimSiam));
        Assert.Equal("searched", OptionCatalog.Get("pretrain.genotype").DefaultText("simsiam-cifar10"));
        Assert.Equal("true", OptionCatalog.Get("compat.mocoFrozenSharedCell").DefaultText("moco-cifar10-reference"));
        Assert.Equal("false", OptionCatalog.Get("compat.mocoFrozenSharedCell").DefaultText("moco-cifar10"));
        Assert.Throws<ArgumentException>(() => dim.DefaultText("no-such-preset"));
    }

    [Fact]
    public void TryParseText_TurnsTextIntoPatchValues()
    {
        Assert.True(OptionCatalog.Get("search.alphaOptimizer").TryParseText("AdamW", out var v, out _));
        Assert.Equal("adamw", v!.GetValue<string>());
        Assert.True(OptionCatalog.Get("framework").TryParseText("MoCo", out v, out _));
        Assert.Equal("moco", v!.GetValue<string>());
        Assert.True(OptionCatalog.Get("search.lr").TryParseText("1e-3", out v, out _));
        Assert.Equal(0.001, v!.GetValue<double>());
        Assert.True(OptionCatalog.Get("maxStepsPerStage").TryParseText("5000000000", out v, out _));
        Assert.Equal(5_000_000_000L, v!.GetValue<long>());
        Assert.True(OptionCatalog.Get("maxStepsPerStage").TryParseText("null", out v, out _));
        Assert.Null(v);
        Assert.True(OptionCatalog.Get("compat.mocoQueueOnArchStep").TryParseText("TRUE", out v, out _));
        Assert.True(v!.GetValue<bool>());

        Assert.False(OptionCatalog.Get("search.epochs").TryParseText("2.5", out _, out var error));
        Assert.Contains("whole number", error);
        Assert.False(OptionCatalog.Get("search.epochs").TryParseText("null", out _, out _));
        Assert.False(OptionCatalog.Get("search.lr").TryParseText("0,06", out _, out _));
        Assert.False(OptionCatalog.Get("backbone").TryParseText("vgg", out _, out error));
        Assert.Contains("resnet18", error);

        // An empty field is missing, not malformed; a whole number beyond the type is one, and the resolver
        // gives the option's range for it (the form said "must be a whole number" to 9999999999).
        Assert.False(OptionCatalog.Get("search.epochs").TryParseText(" ", out _, out error));
        Assert.Equal("is required: a whole number", error);
        Assert.False(OptionCatalog.Get("search.lr").TryParseText("", out _, out error));
        Assert.Equal("is required: a number such as 0.05 or 1e-3", error);
        Assert.True(OptionCatalog.Get("search.epochs").TryParseText("9999999999", out v, out _));
        Assert.Equal("9999999999", v!.ToJsonString());
        var patch = new System.Text.Json.Nodes.JsonObject { ["search"] = new System.Text.Json.Nodes.JsonObject { ["epochs"] = v } };
        var r = RunRequestResolver.Resolve(new RunRequest { Preset = "quick-demo", Overrides = patch }, RunRequestPolicy.Cli);
        Assert.Equal("must be between 1 and 100000; got 9999999999", Assert.Single(r.Errors, e => e.Path == "search.epochs").Message);
        Assert.False(OptionCatalog.Get("search.epochs").TryParseText("1e3", out _, out error));
        Assert.Equal("must be a whole number (got '1e3')", error);
    }

    [Fact]
    public void Kinds_SayWhichStagesReadAnOption()
    {
        Assert.True(OptionCatalog.Get("search.epochs").UsedBy(RunKind.Search));
        Assert.True(OptionCatalog.Get("search.epochs").UsedBy(RunKind.Pipeline));
        Assert.False(OptionCatalog.Get("search.epochs").UsedBy(RunKind.LinCls));
        Assert.True(OptionCatalog.Get("linear.lr").UsedBy(RunKind.LinCls));
        Assert.False(OptionCatalog.Get("pretrain.genotype").UsedBy(RunKind.Search));
        Assert.All(OptionCatalog.Entries, e => Assert.Contains(RunKind.Pipeline, e.Kinds));
    }

    [Fact]
    public void DocsOptionsMd_IsTheGeneratedText()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "NASiam.Web.sln"))) dir = dir.Parent;
        Assert.NotNull(dir);
        var file = Path.Combine(dir!.FullName, "docs", "options.md");
        var expected = OptionCatalog.Markdown();
        Assert.True(File.Exists(file), "docs/options.md is missing: run `nasiam options --markdown > docs/options.md`");
        Assert.True(expected == File.ReadAllText(file).ReplaceLineEndings("\n"),
            "docs/options.md differs from the option catalog: run `nasiam options --markdown > docs/options.md`");
        foreach (var entry in OptionCatalog.Entries.Where(e => e.Path != "kind")) Assert.Contains($"`{entry.Flag}`", expected);
    }
}

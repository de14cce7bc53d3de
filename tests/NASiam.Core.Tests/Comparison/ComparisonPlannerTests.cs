using System.Text.Json.Nodes;
using NASiam.Core.Comparison;
using NASiam.Core.Genotypes;
using NASiam.Core.Options;

namespace NASiam.Core.Tests.Comparison;

public class ComparisonPlannerTests
{
    const string Genotype = "Genotype(predictor=[['linear_relu'], ['identity'], ['linear_silu'], ['linear_elu'], ['identity'], ['linear_relu']])";

    // Every error in one answer: a genotype of another framework was said only once the options' errors were fixed.
    [Fact]
    public void ABadGenotype_IsReportedWithTheOptionsErrors()
    {
        var r = ComparisonPlanner.Plan(new ComparisonRequest
        {
            Preset = "quick-demo", Framework = "simclr", Genotype = "moco/cifar10_resnet18", Seeds = [0, 1],
            Overrides = JsonNode.Parse("""{"pretrain":{"epochs":0}}""")!.AsObject(),
        }, RunRequestPolicy.Web);
        Assert.False(r.Ok);
        Assert.Contains(r.Errors, e => e.Path == "pretrain.epochs");
        Assert.Contains(r.Errors, e => e.Path == "genotype");
    }

    // A step cap ends every child's stages early, each "succeeded": the plan says the arms compare shortened training.
    [Fact]
    public void AStepCap_IsSaidInTheNotices()
    {
        var request = new ComparisonRequest { Preset = "quick-demo", Framework = "simclr", Genotype = Genotype, Seeds = [0, 1] };
        Assert.DoesNotContain(ComparisonPlanner.Plan(request, RunRequestPolicy.Web).Notices, n => n.StartsWith("maxStepsPerStage"));
        var capped = ComparisonPlanner.Plan(request with { Overrides = JsonNode.Parse("""{"maxStepsPerStage":40}""")!.AsObject() }, RunRequestPolicy.Web);
        Assert.True(capped.Ok, string.Join("; ", capped.Errors));
        Assert.Contains("maxStepsPerStage 40: every stage of every child stops after at most 40 steps, so the arms are compared on shortened training, " +
                        "not the recipe's epochs (each run's log says where its stages ended)", capped.Plan!.Notices);
    }

    [Fact]
    public void GivenGenotype_BothArmsResolveToTheSameRecipe_ButTheHeads()
    {
        var r = ComparisonPlanner.Plan(new ComparisonRequest
        {
            Preset = "quick-demo", Framework = "simclr", Genotype = Genotype, Seeds = [3, 4],
            Overrides = JsonNode.Parse("""{"pretrain":{"epochs":2}}""")!.AsObject(),
        }, RunRequestPolicy.Web);
        Assert.True(r.Ok, string.Join("; ", r.Errors));
        var plan = r.Plan!;
        Assert.Empty(plan.SearchSeeds);
        Assert.Equal([3, 4], plan.Seeds);
        var g = ComparisonPlanner.PretrainOptions(plan, 4, ComparisonArms.Genotype);
        var b = ComparisonPlanner.PretrainOptions(plan, 4, ComparisonArms.Standard);
        Assert.True(g.Ok && b.Ok);
        Assert.Equal(RunKind.Pretrain, g.Options!.Kind);
        Assert.Equal(4, g.Options.Seed);
        Assert.Equal(2, g.Options.Pretrain.Epochs);
        Assert.Equal(GenotypeReference.Standard, b.Options!.Pretrain.Genotype);
        Assert.True(GenotypeText.Parse(g.Options.Pretrain.Genotype!).SameAs(GenotypeText.Parse(Genotype)));
        // Identical apart from the heads and the display name.
        Assert.Equal(b.Options with { Name = null, Pretrain = b.Options.Pretrain with { Genotype = null } },
            g.Options with { Name = null, Pretrain = g.Options.Pretrain with { Genotype = null } });
    }

    [Fact]
    public void QuickCompare_HasTwoSeeds_AndAFreshSearch_WhenNoGenotype()
    {
        var r = ComparisonPlanner.Plan(new ComparisonRequest { Preset = ComparisonPresets.QuickCompare, Framework = "moco" }, RunRequestPolicy.Web);
        Assert.True(r.Ok, string.Join("; ", r.Errors));
        Assert.Equal([0, 1], r.Plan!.Seeds);
        Assert.Equal([0], r.Plan.SearchSeeds);
        Assert.Null(r.Plan.GenotypeText);
        Assert.Equal(Framework.MoCo, r.Plan.Framework);
        var s = ComparisonPlanner.SearchOptions(r.Plan, 0);
        Assert.Equal(RunKind.Search, s.Options!.Kind);
        Assert.Throws<InvalidOperationException>(() => ComparisonPlanner.PretrainOptions(r.Plan, 0, ComparisonArms.Genotype));
        Assert.Equal("resnet-tiny", r.Plan.Recipe.Backbone);
    }

    [Theory]
    [InlineData("seeds", """{"seeds":[]}""")]
    [InlineData("seeds", """{"seeds":[1,1]}""")]
    [InlineData("genotype", """{"genotype":"standard"}""")]
    [InlineData("genotype", """{"genotype":"Genotype(encoder=[['nope']])"}""")]
    [InlineData("searchSeeds", """{"genotype":"cifar10_resnet18","searchSeeds":[1]}""")]
    [InlineData("pretrain.epochs", """{"overrides":{"pretrain":{"epochs":0}}}""")]
    [InlineData("overrides.kind", """{"overrides":{"kind":"search"}}""")]
    public void BadRequests_NameTheField(string field, string json)
    {
        var o = JsonNode.Parse(json)!.AsObject();
        var request = new ComparisonRequest
        {
            Preset = "quick-demo", Framework = "simsiam",
            Seeds = o["seeds"] is JsonArray a ? a.Select(x => (int)x!).ToArray() : null,
            Genotype = (string?)o["genotype"], SearchSeeds = o["searchSeeds"] is JsonArray ss ? ss.Select(x => (int)x!).ToArray() : null,
            Overrides = o["overrides"]?.AsObject(),
        };
        var r = ComparisonPlanner.Plan(request, RunRequestPolicy.Web);
        Assert.False(r.Ok);
        Assert.Contains(r.Errors, e => e.Path == field);
    }

    [Fact]
    public void UnknownPreset_ListsTheComparisonPresetWithTheRunPresets()
    {
        var r = ComparisonPlanner.Plan(new ComparisonRequest { Preset = "nope" }, RunRequestPolicy.Web);
        var error = Assert.Single(r.Errors);
        Assert.Equal("preset", error.Path);
        Assert.Contains(ComparisonPresets.QuickCompare, error.Message);
        Assert.Contains("quick-demo", error.Message);
    }

    [Theory]
    [InlineData(new int[0])]
    [InlineData(new[] { -1 })]
    public void BadSeeds_AreOneError_NotAlsoOneOnTheSearchSeedsNobodyGave(int[] seeds)
    {
        var r = ComparisonPlanner.Plan(new ComparisonRequest { Preset = "quick-demo", Framework = "simsiam", Seeds = seeds }, RunRequestPolicy.Web);
        Assert.Equal(["seeds"], r.Errors.Select(e => e.Path).Distinct());
    }
}

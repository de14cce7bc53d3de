using NASiam.Core.Comparison;
using NASiam.Core.Options;

namespace NASiam.Core.Tests.Comparison;

/// <summary>The one comparison schedule both doors follow (web coordinator, CLI loop).</summary>
public class ComparisonScheduleTests
{
    const string Found = "Genotype(encoder=[['linear_relu'], ['identity']])";

    static ComparisonPlan QuickMoco()
    {
        var r = ComparisonPlanner.Plan(new ComparisonRequest { Preset = ComparisonPresets.QuickCompare, Framework = "moco" }, RunRequestPolicy.Web);
        Assert.True(r.Ok, string.Join("; ", r.Errors));
        return r.Plan!;
    }

    static ComparisonChildView Child(string role, string arm, int seed, ComparisonChildState state, ComparisonPlan? plan = null,
        Dictionary<string, double>? metrics = null, string? message = null) => new()
    {
        Key = new(role, arm, seed), State = state, Message = message, GenotypeText = role == ComparisonRoles.Search ? Found : null,
        Options = role == ComparisonRoles.Pretrain && plan is not null ? ComparisonPlanner.PretrainOptions(plan, seed, arm).Options : null,
        Directory = $"/runs/{role}-{arm}-{seed}",
        Artifacts = role == ComparisonRoles.Pretrain ? new Dictionary<string, string> { ["pretrain"] = "pretrain/last.pt", ["pretrain-best"] = "pretrain/best.pt" } : new(),
        Metrics = metrics ?? [],
        Measures = () => new([new KnnPoint(1, 40), new KnnPoint(2, 50 + seed)], 100, 10),
    };

    [Fact]
    public void FreshSearch_ThenModalGenotype_ThenBothArms_ThenEachEvaluation()
    {
        var plan = QuickMoco();
        var s1 = ComparisonSchedule.Next(plan, []);
        Assert.Equal([new ComparisonChildKey("search", "", 0)], s1.Create.Select(c => c.Key));
        Assert.Equal(RunKind.Search, s1.Create[0].Options.Options!.Kind);
        Assert.False(s1.Done);

        var running = ComparisonSchedule.Next(plan, [Child("search", "", 0, ComparisonChildState.Active)]);
        Assert.Empty(running.Create);
        Assert.False(running.Done || running.PlanChanged || running.Stopped is not null);

        var s2 = ComparisonSchedule.Next(plan, [Child("search", "", 0, ComparisonChildState.Succeeded)]);
        Assert.True(s2.PlanChanged);
        Assert.Equal(Found, s2.Plan.GenotypeText);
        Assert.NotNull(s2.Stability);
        Assert.Equal(["pretrain genotype seed 0", "pretrain standard seed 0", "pretrain genotype seed 1", "pretrain standard seed 1"],
            s2.Create.Select(c => c.Key.ToString()));
        Assert.All(s2.Create, c => Assert.Equal(new ComparisonChildKey("search", "", 0), c.Parent));
        Assert.All(s2.Create, c => Assert.Equal(c.Key.Seed, c.Options.Options!.Seed));

        plan = s2.Plan;
        var children = new List<ComparisonChildView>
        {
            Child("search", "", 0, ComparisonChildState.Succeeded),
            Child("pretrain", "genotype", 0, ComparisonChildState.Succeeded, plan),
            Child("pretrain", "standard", 0, ComparisonChildState.Active, plan),
        };
        var s3 = ComparisonSchedule.Next(plan, children);
        Assert.False(s3.PlanChanged);
        // The evaluation of the finished pre-training comes first (a sequential door runs Create[0]).
        Assert.Equal(new ComparisonChildKey("lincls", "genotype", 0), s3.Create[0].Key);
        Assert.Equal(new ComparisonChildKey("pretrain", "genotype", 0), s3.Create[0].Parent);
        var evaluated = ComparisonPlanner.EvaluatedCheckpoint(children[1].Options!, children[1].Artifacts);
        // The resolver reads the checkpoint named here (a fake folder in this test, so it answers that it does not exist).
        Assert.Contains(s3.Create[0].Options.Errors, e => e.Path == "checkpoint" && e.Message.Contains(Path.Combine("/runs/pretrain-genotype-0", evaluated)));
        Assert.Equal(["lincls genotype seed 0", "pretrain genotype seed 1", "pretrain standard seed 1"], s3.Create.Select(c => c.Key.ToString()));
    }

    [Fact]
    public void AFailedOrCancelledChild_StopsTheComparison_NamingIt()
    {
        var plan = QuickMoco() with { GenotypeText = Found };
        var step = ComparisonSchedule.Next(plan,
            [Child("search", "", 0, ComparisonChildState.Succeeded), Child("pretrain", "standard", 1, ComparisonChildState.Cancelled, plan, message: "stopped by user")]);
        Assert.Equal(ComparisonChildState.Cancelled, step.Stopped!.Value.State);
        Assert.Contains("pretrain standard seed 1 cancelled: stopped by user", step.Stopped.Value.Message);
        Assert.Empty(step.Create);
    }

    [Fact]
    public void EveryChildSucceeded_IsDone_AndTheReportHasEverySeedAndArm()
    {
        var plan = QuickMoco() with { GenotypeText = Found };
        var children = new List<ComparisonChildView> { Child("search", "", 0, ComparisonChildState.Succeeded) };
        foreach (var seed in plan.Seeds)
            foreach (var arm in ComparisonArms.All)
            {
                children.Add(Child("pretrain", arm, seed, ComparisonChildState.Succeeded, plan,
                    new() { ["knn_top1"] = 30 + seed, ["head_parameters"] = arm == ComparisonArms.Genotype ? 1234 : 5678 }));
                // A non-finite accuracy is reported as missing, never as a number.
                double top1 = arm == ComparisonArms.Standard && seed == 1 ? double.NaN : 60 + seed + (arm == ComparisonArms.Genotype ? 2 : 0);
                children.Add(Child("lincls", arm, seed, ComparisonChildState.Succeeded, plan, new() { ["lincls_top1"] = top1 }));
            }
        var step = ComparisonSchedule.Next(plan, children);
        Assert.True(step.Done);
        Assert.Empty(step.Create);

        var report = ComparisonSchedule.Report(Guid.NewGuid(), plan, "succeeded", children);
        Assert.Equal(4, report.Results.Count);
        var g0 = report.Results.Single(r => r.Seed == 0 && r.Arm == ComparisonArms.Genotype);
        Assert.Equal(62, g0.LinclsTop1);
        Assert.Equal(30, g0.KnnTop1);
        Assert.Equal(10, g0.PretrainSeconds);
        Assert.Equal(2, g0.KnnCurve.Count);
        Assert.Equal(1234, g0.HeadParameters);
        Assert.Equal(5678, report.Results.Single(r => r.Seed == 0 && r.Arm == ComparisonArms.Standard).HeadParameters);
        Assert.Contains(",1234,", report.ToCsv());
        Assert.Null(report.Results.Single(r => r.Seed == 1 && r.Arm == ComparisonArms.Standard).LinclsTop1);
        Assert.False(report.Complete);
        Assert.NotNull(report.Stability);
    }

    [Fact]
    public void Report_OfARunningComparison_ShowsLiveKnn_ButNoTimeOrAccuracy()
    {
        var plan = QuickMoco() with { GenotypeText = Found };
        var report = ComparisonSchedule.Report(Guid.NewGuid(), plan, "running", [Child("pretrain", "genotype", 0, ComparisonChildState.Active, plan)]);
        var g0 = report.Results.Single(r => r.Seed == 0 && r.Arm == ComparisonArms.Genotype);
        Assert.Equal(2, g0.KnnCurve.Count);
        Assert.Null(g0.HeadParameters);
        Assert.Null(g0.KnnTop1);
        Assert.Null(g0.PretrainSeconds);
        Assert.Null(g0.LinclsTop1);
    }

    // A finished comparison that has no value of a metric for both arms of any seed did not measure it:
    // its words say so, where a running one says "yet".
    [Fact]
    public void Report_AMetricWithNoPairedValue_IsNotMeasuredOnceFinished_NotYetWhileRunning()
    {
        var plan = QuickMoco() with { GenotypeText = Found };
        var children = new List<ComparisonChildView>();
        foreach (var seed in plan.Seeds)
            foreach (var arm in ComparisonArms.All)
                children.Add(Child("pretrain", arm, seed, ComparisonChildState.Succeeded, plan, new() { ["knn_top1"] = 30 }));
        string Words(string status) => ComparisonSchedule.Report(Guid.NewGuid(), plan, status, children).Metrics.Single(m => m.Name == "lincls_top1").Words;
        Assert.Equal("no paired result (not measured for both arms of any seed)", Words("succeeded"));
        Assert.Equal("no paired result yet", Words("running"));
    }
}


using Bunit;
using Microsoft.Extensions.DependencyInjection;
using NASiam.Core.Reporting;
using NASiam.Web.Components.Pages;
using NASiam.Web.Runs;
using NASiam.Web.Tests.Fakes;

namespace NASiam.Web.Tests.Components;

/// <summary>What a run's page says of repeated warnings, and of a failure its events do not record.</summary>
public sealed class RunDetailWarningsAndLogTests() : ScriptedAppTests("warnings", () => new ScriptedRunEngine(totalSteps: 4, stepMilliseconds: 1))
{
    RunStore Store => App.Services.GetRequiredService<RunStore>();

    /// <summary>A copy of a finished quick demo's record with <paramref name="status"/>, holding only <paramref name="events"/>.</summary>
    async Task<Guid> StoredRun(RunStatus status, string? message, Func<Guid, IReadOnlyList<TrainingEvent>> events)
    {
        using var c = App.Api();
        var template = Store.Get(await SucceededQuickDemo(c))!;
        var id = Guid.NewGuid();
        Store.Insert(template with { Id = id, Name = "stored", Status = RunStatus.Queued, ParentId = null, GenotypeText = null, ArtifactsJson = null });
        Store.MarkStarted(id);
        Store.Append(id, events(id));
        if (status != RunStatus.Running) Store.Finish(id, status, message, null, null, null);
        return id;
    }

    static WarningRaised Warning(Guid run, long seq, string stage, string kind, long step, string message) =>
        new() { RunId = run, Sequence = seq, At = DateTimeOffset.UtcNow, Stage = stage, Kind = kind, Step = step, Message = message };

    // A 50-epoch search showed seven nearly identical "[architecture] … dominated by identity/pooling" banners.
    [Fact]
    public async Task RepeatedWarnings_ShowOneBannerPerKindAndStage_WithTheNewestMessageAndHowOften_AndTheLogKeepsEach()
    {
        var id = await StoredRun(RunStatus.Running, null, run =>
        {
            var events = new List<TrainingEvent> { new RunStarted { RunId = run, Sequence = 0, At = DateTimeOffset.UtcNow, Stage = "run", Kind = "search" } };
            events.Add(Warning(run, events.Count, "run", "data", 0, "2 files left out"));
            for (int i = 1; i <= 7; i++)
            {
                events.Add(Warning(run, events.Count, "search", "architecture", 10 * i, $"encoder dominated by identity/pooling: {2 + i % 2} of 6 layers (at step {10 * i})"));
                events.Add(Warning(run, events.Count, "search", "collapse", 10 * i, $"std ratio {0.1 * i:0.0}"));
            }
            return events;
        });
        await using var ctx = PageContext();
        var page = ctx.Render<RunDetail>(p => p.Add(x => x.Id, id));

        page.WaitForAssertion(() => Assert.Equal(2, page.FindAll(".run-warning").Count));
        var banners = page.FindAll(".run-warning").Select(b => b.TextContent.Trim()).ToList();
        Assert.Equal("[data] 2 files left out", banners[0]);
        Assert.Equal("[architecture] search: encoder dominated by identity/pooling: 3 of 6 layers (at step 70) (7 times since step 10); each is in the log", banners[1]);
        var collapse = Assert.Single(page.FindAll(".collapse-warning")).TextContent.Trim();
        Assert.Equal("[collapse] search, step 70: std ratio 0.7 (7 times since step 10)", collapse);
        Assert.Equal(7, page.FindAll("#run-log .mud-typography").Count(l => l.TextContent.Contains("warning (architecture)")));
    }

    // A run that failed before its first stage showed only run_started in its log; the error was in the banner alone.
    [Fact]
    public async Task ARunThatFailedBeforeItsFirstStage_ShowsItsFailureAsTheLogsNewestLine()
    {
        const string error = "Data folder '/nowhere' does not exist.";
        var id = await StoredRun(RunStatus.Failed, error, run => [new RunStarted { RunId = run, Sequence = 0, At = DateTimeOffset.UtcNow, Stage = "run", Kind = "search" }]);
        await using var ctx = PageContext();
        var page = ctx.Render<RunDetail>(p => p.Add(x => x.Id, id));

        page.WaitForAssertion(() => Assert.Contains("run_started", page.Find("#run-log").TextContent));
        var lines = page.FindAll("#run-log .mud-typography-caption").Select(l => l.TextContent).ToList();
        Assert.EndsWith($"[run] run failed: {error}", lines[0]); // newest first
        Assert.EndsWith("run_started", lines[^1]);

        // A stage's failure is already in the log (its stage_finished): not said twice.
        var staged = await StoredRun(RunStatus.Failed, "boom", run =>
        [
            new RunStarted { RunId = run, Sequence = 0, At = DateTimeOffset.UtcNow, Stage = "run", Kind = "search" },
            new StageFinished { RunId = run, Sequence = 1, At = DateTimeOffset.UtcNow, Stage = "search", Outcome = RunOutcome.Failed, Message = "boom" },
        ]);
        page = ctx.Render<RunDetail>(p => p.Add(x => x.Id, staged));
        page.WaitForAssertion(() => Assert.Contains("stage finished: Failed boom", page.Find("#run-log").TextContent));
        Assert.Empty(page.FindAll(".log-failure"));
    }
}

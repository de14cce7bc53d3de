using System.Net.Http.Json;
using System.Text.Json;
using Bunit;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using NASiam.Core;
using NASiam.Core.Genotypes;
using NASiam.Core.Reporting;
using NASiam.Web.Components.Pages;
using NASiam.Web.Runs;
using NASiam.Web.Tests.Fakes;

namespace NASiam.Web.Tests.Components;

/// <summary>
/// Cancel, Resume/Start, Retry and Delete on the runs list and on a run's page (asked first, answered with
/// a snackbar), and what a run's page says of a search that stopped before its end.
/// </summary>
public sealed class RunActionsTests() : ScriptedAppTests("actions", () => new ScriptedRunEngine(totalSteps: 4, stepMilliseconds: 1))
{
    RunStore Store => App.Services.GetRequiredService<RunStore>();

    /// <summary>A copy of a finished quick demo's record, stored as given (no engine runs it).</summary>
    RunRecord Stored(RunRecord template, string name, RunStatus status, bool started)
    {
        var id = Guid.NewGuid();
        Store.Insert(template with { Id = id, Name = name, Status = started ? RunStatus.Queued : status, ParentId = null });
        if (started)
        {
            Store.MarkStarted(id); // the start time is the status store's to write, as a job does
            if (status != RunStatus.Running) Store.Finish(id, status, null, null, null, null);
        }
        return Store.Get(id)!;
    }

    /// <summary>Clicks a button that asks first, answers yes (or Keep), checking the yes button says <paramref name="yes"/>, and waits for the action.</summary>
    static async Task ClickAndAnswer(IRenderedComponent<MudDialogProvider> dialogs, AngleSharp.Dom.IElement button, string yes, bool confirm = true)
    {
        var clicked = button.ClickAsync(new MouseEventArgs());
        dialogs.WaitForAssertion(() => Assert.Equal(yes, dialogs.Find(".mud-message-box__yes-button").TextContent.Trim()));
        Assert.Equal(yes == "Cancel run" ? "Keep running" : "Keep", dialogs.Find(".mud-message-box__cancel-button").TextContent.Trim());
        await dialogs.Find(confirm ? ".mud-message-box__yes-button" : ".mud-message-box__cancel-button").ClickAsync(new MouseEventArgs());
        await clicked;
        dialogs.WaitForAssertion(() => Assert.Empty(dialogs.FindAll(".mud-message-box__yes-button")));
    }

    static IReadOnlyList<string> Said(BunitContext ctx, Severity severity) =>
        ctx.Services.GetRequiredService<ISnackbar>().ShownSnackbars.Where(s => s.Severity == severity).Select(s => s.Message ?? "").ToList();

    // Before, Cancel, Resume and Delete said nothing when they worked (only a refusal or a retry did), and a run
    // cancelled while queued offered "Resume" though it had nothing to resume.
    [Fact]
    public async Task RunsList_CancelStartResumeAndDelete_SayWhenDone_AndARunThatNeverStartedOffersStart()
    {
        using var c = App.Api();
        await using var ctx = PageContext();
        var dialogs = ctx.Render<MudDialogProvider>();
        var template = Store.Get(await SucceededQuickDemo(c))!;
        var waiting = Stored(template, "waiting run", RunStatus.Queued, started: false);
        Stored(template, "stopped run", RunStatus.Cancelled, started: true);
        var list = ctx.Render<NASiam.Web.Components.Pages.Runs>();
        AngleSharp.Dom.IElement? Button(string run, string title) =>
            list.FindAll("#runs-table tbody tr").Single(r => r.TextContent.Contains(run)).QuerySelector($"[title={title}]");

        await ClickAndAnswer(dialogs, Button("waiting run", "Cancel")!, "Cancel run");
        list.WaitForAssertion(() => Assert.Contains("Cancelled \"waiting run\" before it started", Said(ctx, Severity.Success)));
        Assert.Equal(RunStatus.Cancelled, Store.Get(waiting.Id)!.Status);

        // Cancelled before it started: its button says Start (it queues the run, as Resume does).
        list.WaitForAssertion(() => Assert.NotNull(Button("waiting run", "Start")));
        Assert.Null(Button("waiting run", "Resume"));
        Assert.NotNull(Button("stopped run", "Resume"));
        Assert.Null(Button("stopped run", "Start"));
        await ClickAndAnswer(dialogs, Button("waiting run", "Start")!, "Start run");
        list.WaitForAssertion(() => Assert.Contains("Queued \"waiting run\"", Said(ctx, Severity.Success)));

        await ClickAndAnswer(dialogs, Button("stopped run", "Resume")!, "Resume run");
        list.WaitForAssertion(() => Assert.Contains("Queued \"stopped run\" to resume from its newest checkpoint", Said(ctx, Severity.Success)));

        await ClickAndAnswer(dialogs, Button(template.Name, "Delete")!, "Delete run");
        list.WaitForAssertion(() => Assert.Contains($"Deleted \"{template.Name}\"", Said(ctx, Severity.Success)));
        Assert.Null(Store.Get(template.Id));
        Assert.Empty(Said(ctx, Severity.Warning));
    }

    // The run page cancelled without asking and offered an ended run only Resume.
    [Fact]
    public async Task RunPage_OfAnEndedRun_OffersRetryAndDelete_WhichAskFirst_DeleteGoesToTheList()
    {
        using var c = App.Api();
        await using var ctx = PageContext();
        var dialogs = ctx.Render<MudDialogProvider>();
        var nav = ctx.Services.GetRequiredService<NavigationManager>();
        var template = Store.Get(await SucceededQuickDemo(c))!;

        var never = Stored(template, "never started", RunStatus.Cancelled, started: false);
        var page = ctx.Render<RunDetail>(p => p.Add(x => x.Id, never.Id));
        Assert.Equal("Start", page.Find("#resume-run").TextContent.Trim());

        var stopped = Stored(template, "stopped", RunStatus.Failed, started: true);
        page = ctx.Render<RunDetail>(p => p.Add(x => x.Id, stopped.Id));
        Assert.Equal("Resume", page.Find("#resume-run").TextContent.Trim());
        await ClickAndAnswer(dialogs, page.Find("#retry-run"), "Retry run");
        var copy = Assert.Single(Store.List(stopped.Id));
        page.WaitForAssertion(() => Assert.EndsWith($"/runs/{copy.Id}", nav.Uri));
        Assert.Contains(Said(ctx, Severity.Success), m => m.Contains("a fresh copy of \"stopped\""));

        // Deleting a run another descends from asks with it named (its lineage loses the run), then deletes.
        page = ctx.Render<RunDetail>(p => p.Add(x => x.Id, stopped.Id));
        var asked = page.Find("#delete-run").ClickAsync(new MouseEventArgs());
        dialogs.WaitForAssertion(() => Assert.Contains($"1 refers to it and will no longer link to it: run {copy.Id} ('{copy.Name}').", dialogs.Find(".mud-message-box").TextContent));
        await dialogs.Find(".mud-message-box__yes-button").ClickAsync(new MouseEventArgs());
        await asked;
        page.WaitForAssertion(() => Assert.Null(Store.Get(stopped.Id)));
        Assert.Null(Store.Get(copy.Id)!.ParentId);

        page = ctx.Render<RunDetail>(p => p.Add(x => x.Id, template.Id));
        Assert.Empty(page.FindAll("#resume-run")); // succeeded: nothing to resume
        Assert.Empty(page.FindAll("#cancel-run"));
        var before = nav.Uri;
        await ClickAndAnswer(dialogs, page.Find("#delete-run"), "Delete run", confirm: false); // "Keep"
        Assert.NotNull(Store.Get(template.Id));
        Assert.Equal(before, nav.Uri);
        await ClickAndAnswer(dialogs, page.Find("#delete-run"), "Delete run");
        Assert.Null(Store.Get(template.Id));
        page.WaitForAssertion(() => Assert.EndsWith("/runs", nav.Uri));
    }

    // A run that ended while the Cancel question was open: the page said 'Cancelling "NAME": it stops within a step'
    // beside a Succeeded chip, where the API answered 409 "The run is not active". It now says what the store reads
    // and shows it. Snackbars sit at the bottom: at the top right they covered these buttons.
    [Fact]
    public async Task RunPage_CancelOfARunThatEndedMeanwhile_SaysItHadEndedWithItsStatus_AndShowsIt()
    {
        using var c = App.Api();
        await using var ctx = PageContext();
        var dialogs = ctx.Render<MudDialogProvider>();
        var template = Store.Get(await SucceededQuickDemo(c))!;
        var running = Stored(template, "ending run", RunStatus.Running, started: true);
        var page = ctx.Render<RunDetail>(p => p.Add(x => x.Id, running.Id));

        var asked = page.Find("#cancel-run").ClickAsync(new MouseEventArgs());
        dialogs.WaitForAssertion(() => Assert.NotEmpty(dialogs.FindAll(".mud-message-box__yes-button")));
        Store.Finish(running.Id, RunStatus.Succeeded, null, null, null, null); // ends while the question is open
        await dialogs.Find(".mud-message-box__yes-button").ClickAsync(new MouseEventArgs());
        await asked;

        page.WaitForAssertion(() => Assert.Contains("\"ending run\" had already ended (Succeeded): nothing to cancel", Said(ctx, Severity.Info)));
        Assert.Empty(Said(ctx, Severity.Success));
        page.WaitForAssertion(() => Assert.Equal("Succeeded", page.Find("#run-status").TextContent.Trim()));
        Assert.Empty(page.FindAll("#cancel-run"));
        Assert.Equal(System.Net.HttpStatusCode.Conflict, (await c.PostAsync($"/api/runs/{running.Id}/cancel", null)).StatusCode);

        Assert.Equal(Defaults.Classes.Position.BottomRight,
            App.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<SnackbarConfiguration>>().Value.PositionClass);
    }

    // The run page's status chip was grey for Succeeded and Failed alike; the runs list's is green and red.
    [Fact]
    public async Task StatusChips_OnTheRunPage_AreColouredAsOnTheRunsList()
    {
        using var c = App.Api();
        await using var ctx = PageContext();
        var template = Store.Get(await SucceededQuickDemo(c))!;
        var failed = Stored(template, "failed run", RunStatus.Failed, started: true);
        var list = ctx.Render<NASiam.Web.Components.Pages.Runs>();
        string Listed(string name) => list.FindAll("#runs-table tbody tr").Single(r => r.TextContent.Contains(name)).QuerySelector(".run-status")!.ClassName!;
        foreach (var (run, color) in new[] { (template, "mud-chip-color-success"), (failed, "mud-chip-color-error") })
        {
            var chip = ctx.Render<RunDetail>(p => p.Add(x => x.Id, run.Id)).Find("#run-status");
            Assert.Contains(color, chip.ClassList);
            Assert.Contains(color, Listed(run.Name));
        }
    }

    // A search that stopped before its end showed the alphas' argmax as if it were the final genotype.
    [Fact]
    public async Task AStoppedSearch_LabelsItsGenotypeProvisional_TheCollapsePanelNamesTheStage_AndAnEmptyLineageSaysWhatComes()
    {
        using var c = App.Api();
        await using var ctx = PageContext();
        var template = Store.Get(await SucceededQuickDemo(c))!;
        var page = ctx.Render<RunDetail>(p => p.Add(x => x.Id, template.Id));
        page.WaitForAssertion(() => Assert.NotEmpty(page.FindAll("#download-genotype-txt")));
        Assert.Empty(page.FindAll("#provisional-genotype")); // the search derived its genotype: final
        Assert.DoesNotContain("provisional", page.Find("#download-genotype-txt").TextContent);
        Assert.Empty(page.FindAll("#lineage-empty")); // it has artefacts

        var stopped = Stored(template, "stopped search", RunStatus.Cancelled, started: true);
        var genotype = GenotypeText.Write(GenotypePresets.All.First(p => p.Framework == template.Framework && p.Genotype is not null).Genotype!);
        var at = DateTimeOffset.UtcNow;
        Store.Append(stopped.Id, [
            new RunStarted { RunId = stopped.Id, Sequence = 0, At = at, Stage = "run", Kind = "search" },
            new StageStarted { RunId = stopped.Id, Sequence = 1, At = at, Stage = "search", TotalEpochs = 10, TotalSteps = 100, StepsPerEpoch = 10 },
            new AlphasLogged { RunId = stopped.Id, Sequence = 2, At = at, Stage = "search", Epoch = 2, Step = 28, Cells = [], GenotypeText = genotype },
            new WarningRaised { RunId = stopped.Id, Sequence = 3, At = at, Stage = "search", Kind = "collapse", Message = "possible collapse", Step = 20 },
            new StageFinished { RunId = stopped.Id, Sequence = 4, At = at, Stage = "search", Outcome = RunOutcome.Cancelled },
        ]);
        page = ctx.Render<RunDetail>(p => p.Add(x => x.Id, stopped.Id));
        page.WaitForAssertion(() => Assert.Equal("Provisional genotype: argmax of the alphas at step 28 (epoch 3 of 10); the search stopped before its end (cancelled), so it never derived a final genotype.",
            page.Find("#provisional-genotype").TextContent.Trim()));
        Assert.NotEmpty(page.FindAll(".genotype-cell")); // still drawn, labelled
        Assert.EndsWith("(provisional)", page.Find("#download-genotype-txt").TextContent.Trim());
        Assert.EndsWith("(provisional)", page.Find("#download-genotype-json").TextContent.Trim());
        Assert.Contains("[collapse] search, step 20: possible collapse", page.Find("#collapse-panel").TextContent);
        Assert.Contains("Nothing yet", page.Find("#lineage-empty").TextContent);
        // Its genotype as it stands can be pre-trained (the form then shows the same provisional notice).
        Assert.Equal($"/runs/new?from={stopped.Id}", page.Find("#pretrain-genotype").GetAttribute("href"));
        Assert.Empty(page.FindAll("#compare-genotype"));

        // The API says what the page says: on the run, on its genotype download, and to a pre-training of its id,
        // which was queued without a word before.
        const string said = "Provisional genotype: argmax of the alphas at step 28 (epoch 3 of 10)";
        var detail = await c.GetFromJsonAsync<JsonElement>($"/api/runs/{stopped.Id}");
        Assert.StartsWith(said, detail.GetProperty("genotypeNotice").GetString());
        var download = await c.GetAsync($"/api/runs/{stopped.Id}/genotype?format=json");
        download.EnsureSuccessStatusCode();
        Assert.StartsWith(said, Assert.Single(download.Headers.GetValues(NASiam.Web.Api.RunsApi.GenotypeNoticeHeader)));
        var preview = await c.PostAsJsonAsync("/api/runs/preview", new { preset = "quick-demo", framework = template.Framework.ToName(), kind = "pretrain", genotype = stopped.Id.ToString() });
        Assert.True(preview.IsSuccessStatusCode, await preview.Content.ReadAsStringAsync());
        var notices = (await preview.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("notices").EnumerateArray().Select(n => n.GetString()!).ToList();
        Assert.Contains(notices, n => n.StartsWith("pretrain.genotype: " + said, StringComparison.Ordinal));
        // Queued, the run keeps the notice: its GET and its page say it for as long as it exists (it was in the 201 only).
        var queued = await c.PostAsJsonAsync("/api/runs", new { preset = "quick-demo", framework = template.Framework.ToName(), kind = "pretrain", genotype = stopped.Id.ToString() });
        Assert.True(queued.IsSuccessStatusCode, await queued.Content.ReadAsStringAsync());
        var pretrainId = (await queued.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        var kept = (await c.GetFromJsonAsync<JsonElement>($"/api/runs/{pretrainId}")).GetProperty("run").GetProperty("notices").EnumerateArray().Select(n => n.GetString()!).ToList();
        Assert.Contains(kept, n => n.StartsWith("pretrain.genotype: " + said, StringComparison.Ordinal));
        Assert.All((await c.GetFromJsonAsync<JsonElement>("/api/runs")).EnumerateArray(), r => Assert.False(r.TryGetProperty("notices", out _)));
        var pretrainPage = ctx.Render<RunDetail>(p => p.Add(x => x.Id, pretrainId));
        Assert.Contains(pretrainPage.FindAll("#run-notices .run-notice"), e => e.TextContent.StartsWith("pretrain.genotype: " + said, StringComparison.Ordinal));
        var compared = await c.PostAsJsonAsync("/api/comparisons", new { preset = "quick-demo", sourceRunId = stopped.Id, seeds = new[] { 0 } });
        Assert.True(compared.IsSuccessStatusCode, await compared.Content.ReadAsStringAsync());
        Assert.Contains((await compared.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("notices").EnumerateArray(),
            n => n.GetString()!.StartsWith("sourceRunId: " + said, StringComparison.Ordinal));

        // A finished search's genotype is final through the API as on the page.
        var finished = Stored(template, "finished search", RunStatus.Succeeded, started: true);
        Store.Append(finished.Id, [
            new RunStarted { RunId = finished.Id, Sequence = 0, At = at, Stage = "run", Kind = "search" },
            new StageStarted { RunId = finished.Id, Sequence = 1, At = at, Stage = "search", TotalEpochs = 10, TotalSteps = 100, StepsPerEpoch = 10 },
            new AlphasLogged { RunId = finished.Id, Sequence = 2, At = at, Stage = "search", Epoch = 9, Step = 100, Cells = [], GenotypeText = genotype },
            new GenotypeDerived { RunId = finished.Id, Sequence = 3, At = at, Stage = "search", GenotypeText = genotype },
            new StageFinished { RunId = finished.Id, Sequence = 4, At = at, Stage = "search", Outcome = RunOutcome.Succeeded },
        ]);
        detail = await c.GetFromJsonAsync<JsonElement>($"/api/runs/{finished.Id}");
        Assert.False(detail.TryGetProperty("genotypeNotice", out var none) && none.ValueKind != JsonValueKind.Null);
        Assert.Equal(genotype, detail.GetProperty("genotypeText").GetString());
        download = await c.GetAsync($"/api/runs/{finished.Id}/genotype?format=txt");
        download.EnsureSuccessStatusCode();
        Assert.False(download.Headers.Contains(NASiam.Web.Api.RunsApi.GenotypeNoticeHeader));
        preview = await c.PostAsJsonAsync("/api/runs/preview", new { preset = "quick-demo", framework = template.Framework.ToName(), kind = "pretrain", genotype = finished.Id.ToString() });
        Assert.True(preview.IsSuccessStatusCode, await preview.Content.ReadAsStringAsync());
        notices = (await preview.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("notices").EnumerateArray().Select(n => n.GetString()!).ToList();
        Assert.DoesNotContain(notices, n => n.Contains("argmax", StringComparison.Ordinal));
    }
}

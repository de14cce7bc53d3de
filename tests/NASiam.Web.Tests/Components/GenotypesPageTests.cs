using System.Net.Http.Json;
using Bunit;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using NASiam.Core.Genotypes;
using NASiam.Web.Components.Pages;
using NASiam.Web.Tests.Fakes;

namespace NASiam.Web.Tests.Components;

/// <summary>The Genotypes page on the real app's services.</summary>
public sealed class GenotypesPageTests() : ScriptedAppTests("genotypes", () => new ScriptedRunEngine())
{
    // The new row lands somewhere in a long table, off-screen: the page says the import worked.
    [Fact]
    public async Task Import_PastedText_SaysItWasImported_AndListsIt()
    {
        await using var ctx = Bunit.Context();
        ctx.Services.AddFallbackServiceProvider(App.Services);
        var page = ctx.Render<Genotypes>();
        var text = GenotypeText.Write(GenotypePresets.Find("simsiam/cifar10_resnet18")!.Genotype!);
        await page.Find("textarea").ChangeAsync(new ChangeEventArgs { Value = text });
        await page.Find("#genotype-import").ClickAsync(new MouseEventArgs());
        var snackbar = ctx.Services.GetRequiredService<ISnackbar>();
        page.WaitForAssertion(() => Assert.Contains(snackbar.ShownSnackbars, s => s.Message != null && s.Message.Contains("Imported") && s.Message.Contains("simsiam")));
        Assert.Contains(App.Services.GetRequiredService<NASiam.Web.Runs.RunStore>().Genotypes(), g => g.Text == text);
        // Its "Compare vs standard" hands the comparison form the genotype itself, not the entry's bare id.
        page.WaitForAssertion(() => Assert.Contains(page.FindAll("a.compare-genotype"), a => a.GetAttribute("href")!.Contains(Uri.EscapeDataString(text))));
    }

    // A discovered entry says when and by which run it was found (two runs finding one genotype were two identical rows).
    [Fact]
    public async Task ADiscoveredGenotype_SaysWhenAndByWhichRun()
    {
        using var c = App.Api();
        var run = await SucceededQuickDemo(c);
        var name = App.Services.GetRequiredService<NASiam.Web.Runs.RunStore>().Get(run)!.Name;
        var listed = (await c.GetFromJsonAsync<System.Text.Json.JsonElement>("/api/genotypes")).EnumerateArray()
            .Single(g => g.GetProperty("runId").ValueKind == System.Text.Json.JsonValueKind.String && g.GetProperty("runId").GetGuid() == run);
        var at = listed.GetProperty("createdAt").GetDateTimeOffset();
        Assert.True(Math.Abs((DateTimeOffset.UtcNow - at).TotalMinutes) < 5, at.ToString("O"));

        await using var ctx = Bunit.Context();
        ctx.Services.AddFallbackServiceProvider(App.Services);
        var page = ctx.Render<Genotypes>();
        var link = page.FindAll("a.genotype-run").Single(a => a.GetAttribute("href") == $"/runs/{run}");
        Assert.Equal(name, link.TextContent.Trim());
        var provenance = link.Closest(".genotype-provenance")!.TextContent;
        Assert.Contains($"found {at.UtcDateTime:yyyy-MM-dd HH:mm} UTC", provenance);
        // Presets have no date or run.
        Assert.Equal(page.FindAll("tbody tr").Count - page.FindAll(".genotype-provenance").Count, NASiam.Core.Genotypes.GenotypePresets.All.Count);
    }

    [Fact]
    public async Task PickingAAndB_MarksTheirRows_AndTheirButtons()
    {
        await using var ctx = Bunit.Context();
        ctx.Services.AddFallbackServiceProvider(App.Services);
        var page = ctx.Render<Genotypes>();
        var rows = page.FindAll("tbody tr");
        Assert.True(rows.Count >= 3, $"{rows.Count} genotype rows");
        Assert.Empty(page.FindAll("tr.chosen-a, tr.chosen-b"));

        await page.FindAll("tbody tr")[2].QuerySelector("button.pick-a")!.ClickAsync(new MouseEventArgs());
        await page.FindAll("tbody tr")[0].QuerySelector("button.pick-b")!.ClickAsync(new MouseEventArgs());
        page.WaitForAssertion(() =>
        {
            var now = page.FindAll("tbody tr");
            Assert.Contains("chosen-a", now[2].ClassList);
            Assert.Contains("chosen-b", now[0].ClassList);
            Assert.Equal(2, page.FindAll("tr.chosen-a, tr.chosen-b").Count);
            Assert.Equal("true", now[2].QuerySelector("button.pick-a")!.GetAttribute("aria-pressed"));
            Assert.Equal("false", now[0].QuerySelector("button.pick-a")!.GetAttribute("aria-pressed"));
        });
        // Picking another A moves the mark.
        await page.FindAll("tbody tr")[1].QuerySelector("button.pick-a")!.ClickAsync(new MouseEventArgs());
        page.WaitForAssertion(() =>
        {
            var now = page.FindAll("tbody tr");
            Assert.Contains("chosen-a", now[1].ClassList);
            Assert.DoesNotContain("chosen-a", now[2].ClassList);
        });
    }

    // Entries imported by mistake could not be removed (no delete on the page or in the API).
    [Fact]
    public async Task Delete_AsksFirst_ThenRemovesTheEntry_AndPresetsHaveNoDelete()
    {
        await using var ctx = Bunit.Context();
        ctx.Services.AddFallbackServiceProvider(App.Services);
        var library = App.Services.GetRequiredService<NASiam.Web.Api.GenotypeLibrary>();
        var text = GenotypeText.Write(GenotypePresets.Find("simsiam/cifar10_resnet18")!.Genotype!);
        var (entry, error) = library.Import("to delete", text, null);
        Assert.Null(error);
        var dialogs = ctx.Render<MudDialogProvider>();
        var page = ctx.Render<Genotypes>();
        var row = page.FindAll("tbody tr").Single(r => r.TextContent.Contains("to delete"));
        Assert.Contains($"id {entry!.Id}", row.TextContent);
        // One Delete per library entry; none on the published presets.
        Assert.Single(page.FindAll("button.delete-genotype"));

        // "Keep" leaves it. The click's handler waits for the answer, so it is awaited after answering.
        var clicked = row.QuerySelector("button.delete-genotype")!.ClickAsync(new MouseEventArgs());
        dialogs.WaitForAssertion(() => Assert.Contains("Delete \"to delete\" from the library?", dialogs.Markup));
        await dialogs.Find(".mud-message-box__cancel-button").ClickAsync(new MouseEventArgs());
        await clicked;
        Assert.Contains(App.Services.GetRequiredService<NASiam.Web.Runs.RunStore>().Genotypes(), g => g.Id == entry.Id);

        clicked = page.FindAll("button.delete-genotype").Single().ClickAsync(new MouseEventArgs());
        dialogs.WaitForAssertion(() => Assert.Equal("Delete", dialogs.Find(".mud-message-box__yes-button").TextContent.Trim()));
        await dialogs.Find(".mud-message-box__yes-button").ClickAsync(new MouseEventArgs());
        await clicked;
        page.WaitForAssertion(() => Assert.DoesNotContain(page.FindAll("tbody tr"), r => r.TextContent.Contains("to delete")));
        Assert.DoesNotContain(App.Services.GetRequiredService<NASiam.Web.Runs.RunStore>().Genotypes(), g => g.Id == entry.Id);
        Assert.Contains(ctx.Services.GetRequiredService<ISnackbar>().ShownSnackbars, s => s.Message == "Deleted 'to delete' from the library");
    }
    // At 400 px the table broke names mid-word (overflow-wrap: anywhere): names and genotype texts now wrap only at
    // the <wbr> after '_', '/', '.', ',', '=' or '[' (and at '-' or spaces), and the text reads unchanged.
    [Fact]
    public async Task NamesAndGenotypeTexts_BreakAtSeparators_NotMidWord()
    {
        await using var ctx = Bunit.Context();
        ctx.Services.AddFallbackServiceProvider(App.Services);
        var page = ctx.Render<Genotypes>();
        Assert.DoesNotContain("overflow-wrap:anywhere", page.Markup.Replace(" ", ""));
        var preset = GenotypePresets.Find("simsiam/cifar10_resnet18")!;
        var row = page.FindAll("tbody tr").First(r => r.QuerySelector(".genotype-name")!.TextContent == preset.Name);
        var name = row.QuerySelector(".genotype-name .breakable-text")!;
        Assert.Equal(preset.Name, name.TextContent);
        Assert.Equal(["simsiam/", "cifar10_", "resnet18"], name.ChildNodes.OfType<AngleSharp.Dom.IText>().Select(t => t.Data));
        Assert.Equal(2, name.QuerySelectorAll("wbr").Length);
        Assert.Equal(preset.Description, row.QuerySelector(".genotype-text .breakable-text")!.TextContent);
        // Each row is a card of labelled cells below MudBlazor's sm breakpoint.
        Assert.Equal(["Name", "Framework", "Source"], row.QuerySelectorAll("td").Take(3).Select(td => td.GetAttribute("data-label")));
    }

    [Theory]
    [InlineData("moco/cifar10_resnet18", new[] { "moco/", "cifar10_", "resnet18" })]
    [InlineData("plain", new[] { "plain" })]
    [InlineData("ends_", new[] { "ends_" })]
    [InlineData("", new string[0])]
    public void BreakableText_CutsAfterSeparators(string text, string[] parts) =>
        Assert.Equal(parts, NASiam.Web.Components.Shared.BreakableText.Parts(text));
}

using Bunit;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor.Extensions;
using MudBlazor.Services;
using NASiam.Web.Components.Layout;

namespace NASiam.Web.Tests.Components;

public class MainLayoutTests
{
    // The layout brings its own MudPopoverProvider, so the context must not render one (Bunit.Context does).
    static BunitContext Context()
    {
        var ctx = new BunitContext();
        ctx.JSInterop.Mode = JSRuntimeMode.Loose;
        ctx.Services.AddMudServices();
        return ctx;
    }

    static bool IsActive(IRenderedComponent<MainLayout> layout, string id) =>
        layout.Find($"#{id}").ClassList.Contains("active");

    [Theory]
    [InlineData("/runs", true, false)]
    [InlineData("/runs/3f2a9c", true, false)]
    [InlineData("/runs/new", false, true)]
    [InlineData("/runs/new?preset=quick-demo", false, true)]
    public async Task NavMenu_LightsOnlyTheLinkOfThePageShown(string path, bool runsLit, bool newRunLit)
    {
        await using var ctx = Context();
        ctx.Services.GetRequiredService<NavigationManager>().NavigateTo(path);
        var layout = ctx.Render<MainLayout>(p => p.Add(x => x.Body, (RenderFragment)(b => b.AddContent(0, "page"))));

        layout.WaitForAssertion(() =>
        {
            Assert.Equal(runsLit, IsActive(layout, "nav-runs"));
            Assert.Equal(newRunLit, IsActive(layout, "nav-new-run"));
        });
    }

    [Fact]
    public async Task NavMenu_FollowsNavigation_FromTheNewRunFormToARun()
    {
        await using var ctx = Context();
        var nav = ctx.Services.GetRequiredService<NavigationManager>();
        nav.NavigateTo("/runs/new");
        var layout = ctx.Render<MainLayout>(p => p.Add(x => x.Body, (RenderFragment)(b => b.AddContent(0, "form"))));
        layout.WaitForAssertion(() => Assert.False(IsActive(layout, "nav-runs")));

        nav.NavigateTo("/runs/3f2a9c");
        // A router re-renders the layout with the next page as its Body.
        layout.Render(p => p.Add(x => x.Body, (RenderFragment)(b => b.AddContent(0, "run"))));
        layout.WaitForAssertion(() =>
        {
            Assert.True(IsActive(layout, "nav-runs"));
            Assert.False(IsActive(layout, "nav-new-run"));
        });
    }

    static IRenderedComponent<MainLayout> Layout(BunitContext ctx, bool systemDark, string? stored)
    {
        ctx.JSInterop.Setup<bool>("mudThemeProvider.isDarkMode", _ => true).SetResult(systemDark);
        ctx.JSInterop.Setup<string?>("localStorage.getItem", "nasiam-theme").SetResult(stored);
        return ctx.Render<MainLayout>(p => p.Add(x => x.Body, (RenderFragment)(b => b.AddContent(0, "page"))));
    }

    static bool Dark(IRenderedComponent<MainLayout> layout) => layout.FindComponent<MudBlazor.MudThemeProvider>().Instance.GetState(x => x.IsDarkMode);

    // Dark mode was light on every load, whatever the system said, and forgot the user's toggle.
    [Fact]
    public async Task DarkMode_FollowsTheSystemByDefault_AndTheUsersToggleIsRemembered()
    {
        await using (var ctx = Context())
        {
            var layout = Layout(ctx, systemDark: true, stored: null);
            layout.WaitForAssertion(() => Assert.True(Dark(layout)));
            await layout.Find("#toggle-theme").ClickAsync(new Microsoft.AspNetCore.Components.Web.MouseEventArgs());
            layout.WaitForAssertion(() => Assert.False(Dark(layout)));
            var saved = Assert.Single(ctx.JSInterop.Invocations, i => i.Identifier == "localStorage.setItem");
            Assert.Equal(["nasiam-theme", "light"], saved.Arguments);
        }
        // The next load: the stored choice wins over the system's preference, either way.
        await using (var ctx = Context())
        {
            var layout = Layout(ctx, systemDark: true, stored: "light");
            layout.WaitForAssertion(() => Assert.Contains(ctx.JSInterop.Invocations, i => i.Identifier == "localStorage.getItem"));
            layout.WaitForAssertion(() => Assert.False(Dark(layout)));
        }
        await using (var ctx = Context())
        {
            var layout = Layout(ctx, systemDark: false, stored: "dark");
            layout.WaitForAssertion(() => Assert.True(Dark(layout)));
        }
    }
}

using Bunit;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;
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
}

using Bunit;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.Extensions.DependencyInjection;
using NASiam.Web.Components.Pages;
using NASiam.Web.Components.Shared;
using NASiam.Web.Runs;
using NASiam.Web.Tests.Fakes;

namespace NASiam.Web.Tests.Components;

/// <summary>The New run page on the real app's services (its scheduler's own checks, not only the resolver's).</summary>
public sealed class NewRunPageTests() : ScriptedAppTests("newrun", () => new ScriptedRunEngine())
{
    static async Task Type(IRenderedComponent<RunForm> form, string path, string value)
    {
        await form.Find($"[data-field='{path}'] input").ChangeAsync(new ChangeEventArgs { Value = value });
        form.WaitForAssertion(() => Assert.Equal(value, form.Instance.Model.Values[path]));
    }

    // A data folder the server cannot find was queued and failed at its start. Now it is the field's error, from
    // the resolver under the scheduler's policy (this node executes runs), and it stays shown while other fields are edited until the folder is mended
    // (the form's re-check after a refused submit ran the resolver only and dropped it at the next keystroke).
    [Fact]
    public async Task AMissingDataFolder_IsTheFieldsError_UntilMended_AndNothingIsQueued()
    {
        await using var ctx = Bunit.Context();
        ctx.Services.AddFallbackServiceProvider(App.Services);
        var page = ctx.Render<NewRun>();
        var form = page.FindComponent<RunForm>();
        await form.InvokeAsync(() => form.Instance.ApplyPreset("simsiam-cifar10", NASiam.Core.Framework.SimSiam));
        var missing = Path.Combine(Path.GetTempPath(), $"nasiam-no-cifar-{Guid.NewGuid():N}");
        await Type(form, "dataPath", missing);
        await form.Find("#submit-run").ClickAsync(new MouseEventArgs());
        form.WaitForAssertion(() => Assert.Contains($"CIFAR data folder '{missing}' does not exist.", form.Find("[data-field='dataPath']").TextContent));
        Assert.Empty(App.Services.GetRequiredService<RunStore>().List());

        await Type(form, "search.epochs", "3");
        form.WaitForAssertion(() => Assert.Equal("true", form.Find("[data-field='dataPath']").GetAttribute("data-error")));
        Assert.Contains("does not exist", form.Find("[data-field='dataPath']").TextContent);

        var cifar = Directory.CreateTempSubdirectory("nasiam-cifar-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(cifar, "cifar-10-batches-py"));
            await Type(form, "dataPath", cifar);
            form.WaitForAssertion(() => Assert.Null(form.Find("[data-field='dataPath']").GetAttribute("data-error")));
        }
        finally { Directory.Delete(cifar, true); }
        Assert.Empty(App.Services.GetRequiredService<RunStore>().List());
    }
}

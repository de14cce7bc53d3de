using MudBlazor;
using NASiam.Web.Runs;

namespace NASiam.Web.Components.Shared;

/// <summary>
/// The status chip's colour, one mapping for every page (the runs list's): the run and comparison pages drew
/// their chips grey, so Succeeded and Failed looked alike there while the list showed green and red.
/// </summary>
public static class StatusColors
{
    public static Color Of(RunStatus s) => s switch
    {
        RunStatus.Succeeded => Color.Success, RunStatus.Running => Color.Info, RunStatus.Failed => Color.Error,
        RunStatus.Cancelled => Color.Default, RunStatus.Interrupted => Color.Warning, _ => Color.Secondary,
    };

    /// <summary>A status given by name (a comparison's view carries <see cref="RunStatus"/> as text).</summary>
    public static Color Of(string? status) => Enum.TryParse<RunStatus>(status, ignoreCase: true, out var s) ? Of(s) : Color.Default;
}

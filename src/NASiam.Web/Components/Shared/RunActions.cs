using MudBlazor;
using NASiam.Web.Jobs;
using NASiam.Web.Runs;

namespace NASiam.Web.Components.Shared;

/// <summary>
/// The run actions (Cancel, Resume/Start, Retry, Delete) as the runs list and a run's page offer them:
/// the same names, the same question first, and a snackbar for what happened, done or refused.
/// Each returns true when the action was done.
/// </summary>
public sealed class RunActions(IDialogService dialogs, ISnackbar snackbar, RunScheduler scheduler, RunStore store)
{
    /// <summary>"Start" for a run stopped before it ever started (nothing to resume: it is queued again), otherwise "Resume".</summary>
    public static string ResumeLabel(RunRecord r) => r.StartedAt is null ? "Start" : "Resume";

    /// <summary>The Resume/Start button's tooltip.</summary>
    public static string ResumeTitle(RunRecord r) => r.StartedAt is null
        ? "Start: it was stopped before it started, so it is queued from the beginning"
        : "Resume from its newest checkpoint";

    /// <summary>
    /// Cancel, said as the store then reads: a run that ended while the question was open (or that no engine
    /// executed) is not "stopping within a step". Before, the message came from the status the page showed when
    /// the button was pressed: "Cancelling…" beside a Succeeded chip, where the API answered 409 "not active".
    /// True when the run was cancelled or is stopping; either way the caller should read the record again.
    /// </summary>
    public async Task<bool> Cancel(RunRecord r)
    {
        if (!await Ask(r, "Cancel")) return false;
        bool accepted = scheduler.Cancel(r.Id);
        var now = store.Get(r.Id);
        if (now is null)
        {
            snackbar.Add($"Cancel \"{r.Name}\": not done, it no longer exists", Severity.Warning);
            return false;
        }
        if (accepted && now.IsActive)
        {
            snackbar.Add($"Cancelling \"{r.Name}\": it stops within a step", Severity.Success);
            return true;
        }
        if (accepted && now.Status == RunStatus.Cancelled)
        {
            snackbar.Add(now.StartedAt is null ? $"Cancelled \"{r.Name}\" before it started" : $"Cancelled \"{r.Name}\"", Severity.Success);
            return true;
        }
        snackbar.Add($"\"{r.Name}\" had already ended ({now.Status}): nothing to cancel", Severity.Info);
        return false;
    }

    public Task<bool> Resume(RunRecord r)
    {
        var action = ResumeLabel(r);
        return Confirm(r, action,
            () => scheduler.Resume(r.Id) ? null : $"only a cancelled, failed or interrupted run can be {(r.StartedAt is null ? "started" : "resumed")}",
            () => r.StartedAt is null ? $"Queued \"{r.Name}\"" : $"Queued \"{r.Name}\" to resume from its newest checkpoint");
    }

    /// <summary>Retry: a fresh copy of an ended run (<paramref name="queued"/> gets the new run).</summary>
    public Task<bool> Retry(RunRecord r, Action<RunRecord>? queued = null)
    {
        RunRecord? copy = null;
        return Confirm(r, "Retry", () =>
        {
            var result = scheduler.Retry(r.Id);
            if (!result.Ok) return string.Join("; ", result.Errors.Select(e => e.Message));
            copy = result.Run!;
            queued?.Invoke(copy);
            return null;
        }, () => $"Queued {copy!.Name} (a fresh copy of \"{r.Name}\")");
    }

    /// <summary>Delete, asking first; the question names what refers to the run (<see cref="RunStore.Dependants"/>), which loses it from its lineage.</summary>
    public Task<bool> Delete(RunRecord r)
    {
        var dependants = store.Dependants(r.Id);
        var also = dependants.Count == 0 ? null
            : $" {dependants.Count} {(dependants.Count == 1 ? "refers" : "refer")} to it and will no longer link to it: {string.Join(", ", dependants.Take(5))}{(dependants.Count > 5 ? $" and {dependants.Count - 5} more" : "")}.";
        return Confirm(r, "Delete", () => scheduler.Delete(r.Id) ? null : "it no longer exists", () => $"Deleted \"{r.Name}\"", also);
    }

    /// <summary>Asks, acts, and says what happened (<paramref name="act"/> returns why it was refused, null when done).</summary>
    async Task<bool> Confirm(RunRecord r, string action, Func<string?> act, Func<string> done, string? also = null)
    {
        if (!await Ask(r, action, also)) return false;
        if (act() is { } refused)
        {
            snackbar.Add($"{action} \"{r.Name}\": not done, {refused}", Severity.Warning);
            return false;
        }
        snackbar.Add(done(), Severity.Success);
        return true;
    }

    /// <summary>The question before an action; true when the user said yes.</summary>
    async Task<bool> Ask(RunRecord r, string action, string? also = null)
    {
        // "Cancel" alone on the confirming button read as "dismiss" beside "Keep": both buttons name what they do.
        var ok = await dialogs.ShowMessageBoxAsync($"{action} run", $"{action} \"{r.Name}\"?{also}", yesText: $"{action} run",
            cancelText: action == "Cancel" ? "Keep running" : "Keep");
        return ok == true;
    }
}

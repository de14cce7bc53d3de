using NASiam.Core.Reporting;

namespace NASiam.Web.Runs;

/// <summary>
/// Whether a run's genotype is its search's final one, in words for every door (the run page, the API's
/// genotype download and run detail, and a pre-training that names the run's id). A search derives its
/// genotype at its end (method doc 5.7); before that, and when it stopped early, the genotype a run shows is
/// the argmax of its alphas at the last snapshot, which the next epochs may still change.
/// </summary>
public static class GenotypeProvenance
{
    /// <summary>
    /// Null when the genotype is final (the search derived it, the run succeeded, or the run has no search
    /// alphas: a given genotype); otherwise which alphas it comes from and why it is not final.
    /// </summary>
    /// <param name="status">The run's status.</param>
    /// <param name="derived">Whether the search stage emitted its <see cref="GenotypeDerived"/>.</param>
    /// <param name="latestAlphas">The newest alpha snapshot (any stage; only a search's counts).</param>
    /// <param name="totalEpochs">The search's planned epochs, when known.</param>
    public static string? Describe(RunStatus status, bool derived, AlphasLogged? latestAlphas, int? totalEpochs)
    {
        if (derived || status == RunStatus.Succeeded || latestAlphas is not { Stage: "search" } a) return null;
        var at = $"step {a.Step} (epoch {a.Epoch + 1}{(totalEpochs is { } m ? $" of {m}" : "")})";
        return status is RunStatus.Running or RunStatus.Queued
            ? $"Current genotype: argmax of the alphas at {at}; the search is running and derives its final genotype at its end."
            : $"Provisional genotype: argmax of the alphas at {at}; the search stopped before its end ({status.ToString().ToLowerInvariant()}), so it never derived a final genotype.";
    }
}

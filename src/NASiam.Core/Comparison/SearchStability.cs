using NASiam.Core.Genotypes;
using NASiam.Core.Reporting;

namespace NASiam.Core.Comparison;

/// <summary>One finished search: its seed, its derived genotype and its last logged softmax alphas (null if none were logged).</summary>
public sealed record SearchOutcome(int Seed, string GenotypeText, IReadOnlyList<CellAlphas>? FinalAlphas);

/// <summary>
/// One layer of one cell over N searches: how often each operation won (was the layer's op in
/// the derived genotype), the modal operation, and the mean and sample std of each operation's
/// final softmax weight over the searches that logged alphas.
/// </summary>
public sealed record LayerStability(
    string Cell, int Layer, IReadOnlyDictionary<string, int> Wins, string ModalOperation, int ModalWins,
    IReadOnlyList<string> Operations, IReadOnlyList<double> MeanWeights, IReadOnlyList<double?> StdWeights);

/// <summary>
/// Seed-to-seed stability of a differentiable search (DARTS-style searches are known to vary with
/// the seed): per cell and layer the operation wins and the spread of final alphas, and the modal
/// genotype offered for comparison. <see cref="ModalIsWhole"/> says whether the modal genotype was
/// found whole by at least two searches; otherwise it is assembled layer by layer from the
/// per-layer modal operations (ties go to the lowest seed's choice).
/// </summary>
public sealed record SearchStabilityReport(
    int Runs, IReadOnlyList<int> Seeds, IReadOnlyList<LayerStability> Layers, string ModalGenotypeText, int ModalCount, bool ModalIsWhole,
    IReadOnlyList<string> Notices)
{
    /// <summary>
    /// Analyses <paramref name="searches"/> of one <paramref name="framework"/>.
    /// </summary>
    /// <exception cref="ArgumentException">No searches, or a genotype that does not parse for the framework.</exception>
    public static SearchStabilityReport Analyze(IReadOnlyList<SearchOutcome> searches, Framework framework)
    {
        ArgumentNullException.ThrowIfNull(searches);
        if (searches.Count == 0) throw new ArgumentException("At least one search is needed.", nameof(searches));
        var ordered = searches.OrderBy(s => s.Seed).ToArray();
        var notices = new List<string>();
        Genotype[] genotypes;
        try { genotypes = ordered.Select(s => GenotypeRules.ParseAnyDepth(s.GenotypeText, framework)).ToArray(); }
        catch (GenotypeFormatException e) { throw new ArgumentException($"a search's genotype does not parse: {e.Message}", e); }

        // Whole-genotype mode: the first genotype with the highest count (seed order breaks ties).
        var counts = genotypes.Select(g => genotypes.Count(o => o.SameAs(g))).ToArray();
        int best = Array.IndexOf(counts, counts.Max());

        var layers = new List<LayerStability>();
        var modalGenes = new Dictionary<string, List<IReadOnlyList<string>>>();
        bool depthsAgree = true;
        foreach (var cell in new[] { "encoder", "predictor" })
        {
            var perRun = genotypes.Select(g => cell == "encoder" ? g.Encoder : g.Predictor).ToArray();
            if (perRun.All(x => x is null)) continue;
            if (perRun.Any(x => x is null) || perRun.Select(x => x!.Count).Distinct().Count() > 1)
            {
                depthsAgree = false;
                notices.Add($"{cell}: the searches' cells have different depths; per-layer statistics cover the layers all of them have");
            }
            int depth = perRun.Where(x => x is not null).Min(x => x!.Count);
            modalGenes[cell] = [];
            for (int layer = 0; layer < depth; layer++)
            {
                var ops = perRun.Where(x => x is not null).Select(x => x![layer][0]).ToArray();
                var wins = ops.GroupBy(o => o).ToDictionary(g => g.Key, g => g.Count());
                int top = wins.Values.Max();
                string modal = ops.First(o => wins[o] == top); // lowest seed among the tied
                modalGenes[cell].Add(perRun.First(x => x is not null && x[layer][0] == modal)![layer]);

                var rows = ordered.Select(s => s.FinalAlphas?.FirstOrDefault(c => c.Cell == cell))
                    .Where(c => c is not null && c.Layers.Count > layer).Select(c => (c!.Operations, c.Layers[layer].Weights)).ToArray();
                IReadOnlyList<string> names = rows.Length > 0 ? rows[0].Operations : [];
                var means = new List<double>();
                var stds = new List<double?>();
                for (int k = 0; k < names.Count; k++)
                {
                    var w = rows.Where(r => r.Weights.Count > k).Select(r => r.Weights[k]).ToArray();
                    var s = PairedStatistics.Summarize(w);
                    means.Add(s.Mean);
                    stds.Add(s.Std);
                }
                layers.Add(new LayerStability(cell, layer, wins, modal, top, names, means, stds));
            }
            int withAlphas = ordered.Count(s => s.FinalAlphas?.Any(c => c.Cell == cell) == true);
            if (withAlphas < ordered.Length)
                notices.Add($"{cell}: {ordered.Length - withAlphas} of {ordered.Length} searches logged no alphas; the alpha spread covers {withAlphas}");
        }

        bool whole = counts[best] >= 2 || genotypes.Length == 1;
        string modalText;
        if (whole || !depthsAgree)
        {
            modalText = GenotypeText.Write(genotypes[best]);
            if (!whole) notices.Add("every search found a different genotype and their depths differ; the lowest seed's genotype is offered");
        }
        else
        {
            modalText = GenotypeText.Write(new Genotype(
                modalGenes.TryGetValue("encoder", out var e) ? e : null,
                modalGenes.TryGetValue("predictor", out var p) ? p : null));
            notices.Add("every search found a different genotype; the offered one takes each layer's most frequent operation");
        }
        if (genotypes.Length == 1) notices.Add("one search: no spread to measure; run searches with 2 or more seeds");
        return new SearchStabilityReport(genotypes.Length, ordered.Select(s => s.Seed).ToArray(), layers, modalText, whole ? counts[best] : 0, whole, notices);
    }
}

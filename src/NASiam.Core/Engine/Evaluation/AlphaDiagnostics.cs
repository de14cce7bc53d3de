using NASiam.Core.Genotypes;
using NASiam.Core.Reporting;
using NASiam.Core.Search;

namespace NASiam.Core.Engine.Evaluation;

/// <summary>
/// Turns raw alpha matrices into what a user watches during search: per-layer softmax weights,
/// winner, entropy (nats) and top-1/top-2 margin, the current argmax genotype, and the
/// architecture warning (a cell whose argmax is mostly identity or pooling layers).
/// </summary>
public static class AlphaDiagnostics
{
    /// <summary>Fraction of parameter-free winners (identity/pooling) at or above which a cell counts as dominated.</summary>
    public const double DominatedFraction = 0.5;

    /// <summary>Row-wise softmax of a [layers][ops] matrix of raw alphas.</summary>
    public static double[][] Softmax(double[][] raw) => raw.Select(row =>
    {
        var max = row.Max();
        var e = row.Select(v => Math.Exp(v - max)).ToArray();
        var s = e.Sum();
        return e.Select(v => v / s).ToArray();
    }).ToArray();

    /// <summary>Summary of one cell from its raw alphas, in the framework's column order.</summary>
    public static CellAlphas Summarise(string cellName, double[][] rawAlphas, Framework framework)
    {
        var order = OperationNames.For(framework);
        var soft = Softmax(rawAlphas);
        var layers = soft.Select((row, i) =>
        {
            var sorted = row.OrderByDescending(v => v).ToArray();
            var entropy = -row.Where(p => p > 0).Sum(p => p * Math.Log(p));
            var winner = order[GenotypeDerivation.ArgmaxLastTie(row)];
            return new AlphaLayer(i, row, winner, entropy, sorted[0] - (sorted.Length > 1 ? sorted[1] : 0));
        }).ToList();
        return new CellAlphas(cellName, order, layers);
    }

    /// <summary>The argmax ("sparse") genotype of a framework from its cells' raw alphas keyed "encoder"/"predictor".</summary>
    public static Genotype Derive(Framework framework, IReadOnlyDictionary<string, double[][]> rawAlphasByCell)
    {
        rawAlphasByCell.TryGetValue("encoder", out var enc);
        rawAlphasByCell.TryGetValue("predictor", out var pred);
        return GenotypeDerivation.Derive(framework, enc is null ? null : Softmax(enc), pred is null ? null : Softmax(pred));
    }

    /// <summary>
    /// One warning message per cell whose argmax genotype has at least <see cref="DominatedFraction"/>
    /// of its layers as identity or pooling (no learned map of their own), else none.
    /// </summary>
    public static IReadOnlyList<string> ArchitectureWarnings(IEnumerable<CellAlphas> cells)
    {
        var warnings = new List<string>();
        foreach (var cell in cells)
        {
            if (cell.Layers.Count == 0) continue;
            int free = cell.Layers.Count(l => OperationNames.IsParameterFreeKind(l.Winner));
            if (free >= DominatedFraction * cell.Layers.Count)
                warnings.Add($"The {cell.Cell} cell's argmax genotype is dominated by identity/pooling: {free} of {cell.Layers.Count} layers " +
                             $"({string.Join(", ", cell.Layers.Select(l => l.Winner))}).");
        }
        return warnings;
    }
}

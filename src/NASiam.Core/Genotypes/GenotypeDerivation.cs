namespace NASiam.Core.Genotypes;

/// <summary>Derives a genotype from (softmax) alphas: per layer, the op with the largest weight (method doc 5.7, "sparse").</summary>
public static class GenotypeDerivation
{
    /// <summary>
    /// Argmax per row of a [layers, 7] matrix, in the framework's column order. Ties go to the
    /// highest index, as the reference's stable ascending sort followed by taking the last element.
    /// </summary>
    public static IReadOnlyList<IReadOnlyList<string>> DeriveCell(double[][] weights, IReadOnlyList<string> columnOrder)
    {
        var genes = new List<IReadOnlyList<string>>();
        for (int layer = 0; layer < weights.Length; layer++)
        {
            var row = weights[layer];
            if (row.Length != columnOrder.Count)
                throw new ArgumentException($"Alpha row {layer} has {row.Length} columns; the search space has {columnOrder.Count}.");
            genes.Add([columnOrder[ArgmaxLastTie(row)]]);
        }
        return genes;
    }

    /// <summary>Index of the largest value; among equal maxima, the highest index.</summary>
    public static int ArgmaxLastTie(IReadOnlyList<double> row)
    {
        int best = 0;
        for (int i = 1; i < row.Count; i++)
            if (row[i] >= row[best]) best = i;
        return best;
    }

    /// <summary>Builds a framework's genotype from its cells' alpha matrices (null for a cell the framework lacks).</summary>
    public static Genotype Derive(Framework framework, double[][]? encoderAlphas, double[][]? predictorAlphas)
    {
        var order = Search.OperationNames.For(framework);
        return new Genotype(
            encoderAlphas is null ? null : DeriveCell(encoderAlphas, order),
            predictorAlphas is null ? null : DeriveCell(predictorAlphas, order));
    }
}

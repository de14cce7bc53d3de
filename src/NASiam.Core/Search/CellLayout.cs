namespace NASiam.Core.Search;

/// <summary>
/// Layer widths of a cell (method doc 2.5): layer 0 maps in→hidden, the last layer hidden→out,
/// middle layers hidden→hidden. With one layer only the in→hidden rule applies (reference), so
/// a one-layer cell needs hidden == out.
/// </summary>
public static class CellLayout
{
    /// <summary>(in, out) widths of every layer.</summary>
    public static IReadOnlyList<(int In, int Out)> Widths(int inDim, int layers, int hiddenDim, int outDim)
    {
        if (layers < 1) throw new ArgumentException($"A cell needs at least one layer, got {layers}.");
        if (inDim < 1 || hiddenDim < 1 || outDim < 1)
            throw new ArgumentException($"Cell widths must be positive, got in {inDim}, hidden {hiddenDim}, out {outDim}.");
        if (layers == 1 && hiddenDim != outDim)
            throw new ArgumentException(
                $"A one-layer cell maps in→hidden (reference rule), so hidden ({hiddenDim}) must equal out ({outDim}).");
        var widths = new (int, int)[layers];
        for (int i = 0; i < layers; i++)
            widths[i] = i == 0 ? (inDim, hiddenDim) : i == layers - 1 ? (hiddenDim, outDim) : (hiddenDim, hiddenDim);
        return widths;
    }
}

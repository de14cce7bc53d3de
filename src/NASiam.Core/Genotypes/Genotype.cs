namespace NASiam.Core.Genotypes;

/// <summary>
/// A discovered (or published) head architecture: one gene per layer, each gene a list of op
/// names (the reference's "sparse" form has one name per gene; the "edge" form two).
/// SimSiam uses both fields, MoCo only <see cref="Encoder"/>, SimCLR only <see cref="Predictor"/>
/// (the reference names SimCLR's projection head "predictor"). An absent field is null.
/// </summary>
public sealed record Genotype(
    IReadOnlyList<IReadOnlyList<string>>? Encoder,
    IReadOnlyList<IReadOnlyList<string>>? Predictor)
{
    /// <summary>The op each layer of a derived cell instantiates: the first name of each gene (method doc 2.6).</summary>
    public static IReadOnlyList<string> LayerOps(IReadOnlyList<IReadOnlyList<string>> genes) =>
        genes.Select(g => g[0]).ToArray();

    /// <summary>Structural equality (records compare lists by reference otherwise).</summary>
    public bool SameAs(Genotype? other) =>
        other is not null && SameGenes(Encoder, other.Encoder) && SameGenes(Predictor, other.Predictor);

    static bool SameGenes(IReadOnlyList<IReadOnlyList<string>>? a, IReadOnlyList<IReadOnlyList<string>>? b) =>
        (a is null && b is null) ||
        (a is not null && b is not null && a.Count == b.Count && a.Zip(b).All(p => p.First.SequenceEqual(p.Second)));
}

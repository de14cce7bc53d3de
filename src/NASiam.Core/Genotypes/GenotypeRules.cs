using NASiam.Core.Search;

namespace NASiam.Core.Genotypes;

/// <summary>Which genotype fields each framework has, and the layer counts of its search cells (method doc 2.7).</summary>
public static class GenotypeRules
{
    /// <summary>Default search-cell depths: (encoder, predictor); null = the framework has no such cell.</summary>
    public static (int? Encoder, int? Predictor) DefaultLayers(Framework f) => f switch
    {
        Framework.SimSiam => (6, 4),
        Framework.MoCo => (4, null),
        Framework.SimClr => (null, 6),
        _ => throw new ArgumentOutOfRangeException(nameof(f)),
    };

    /// <summary>
    /// Checks that the genotype has exactly the framework's fields and the expected layer counts
    /// (null = the framework's default depth). Throws <see cref="GenotypeFormatException"/> naming the field.
    /// Strict on depth; the engine builds a genotype at its own depth (<see cref="ValidateFields"/>,
    /// <see cref="ParseAnyDepth"/>).
    /// </summary>
    public static void Validate(Genotype g, Framework f, int? encoderLayers = null, int? predictorLayers = null)
    {
        var (enc, pred) = DefaultLayers(f);
        Presence("encoder", g.Encoder, enc is not null, f);
        Presence("predictor", g.Predictor, pred is not null, f);
        Field("encoder", g.Encoder, enc is not null, encoderLayers ?? enc, f);
        Field("predictor", g.Predictor, pred is not null, predictorLayers ?? pred, f);
    }

    static void Presence(string name, IReadOnlyList<IReadOnlyList<string>>? genes, bool expected, Framework f)
    {
        var fields = f switch { Framework.SimSiam => "encoder and predictor", Framework.MoCo => "encoder only", _ => "predictor only" };
        if (expected && genes is null)
            throw new GenotypeFormatException($"A {f.ToName()} genotype needs the '{name}' field ({f.ToName()} has {fields}).");
        if (!expected && genes is not null)
            throw new GenotypeFormatException($"A {f.ToName()} genotype has no '{name}' field ({f.ToName()} has {fields}).");
    }

    /// <summary>Like <see cref="Validate"/> but accepts any layer count ≥ 1 (custom-depth cells, the 3-layer MoCo history genotype).</summary>
    public static void ValidateFields(Genotype g, Framework f)
    {
        var (enc, pred) = DefaultLayers(f);
        Presence("encoder", g.Encoder, enc is not null, f);
        Presence("predictor", g.Predictor, pred is not null, f);
        Field("encoder", g.Encoder, enc is not null, null, f);
        Field("predictor", g.Predictor, pred is not null, null, f);
    }

    /// <summary>
    /// Parses reference text (method doc 5.7) and checks its fields and op names against
    /// <paramref name="f"/> at the genotype's own depth (any layer count ≥ 1; method doc 2.6: a
    /// derived cell has as many layers as genes). For genotypes that already ran or were searched
    /// with custom depths: checkpoints, search results, genotype files written by a run.
    /// Throws <see cref="GenotypeFormatException"/> naming the field.
    /// </summary>
    public static Genotype ParseAnyDepth(string text, Framework f)
    {
        var g = GenotypeText.Parse(text, null);
        ValidateFields(g, f);
        return g;
    }

    static void Field(string name, IReadOnlyList<IReadOnlyList<string>>? genes, bool expected, int? layers, Framework f)
    {
        if (!expected || genes is null) return;
        if (layers is { } n && genes.Count != n)
            throw new GenotypeFormatException($"The {name} of a {f.ToName()} genotype must have {n} layers, found {genes.Count}.");
        for (int i = 0; i < genes.Count; i++)
        {
            if (genes[i].Count is < 1 or > 2)
                throw new GenotypeFormatException($"{name} layer {i}: a gene holds 1 or 2 operation names, found {genes[i].Count}.");
            foreach (var op in genes[i])
                if (!OperationNames.IsValid(op))
                    throw new GenotypeFormatException($"Unknown operation '{op}' in {name} layer {i}. Valid operations: {string.Join(", ", OperationNames.SimSiamMoCoOrder)}.");
        }
    }

    /// <summary>Guesses the framework from the fields present (both: SimSiam; encoder: MoCo; predictor: SimCLR).</summary>
    public static Framework InferFramework(Genotype g) => (g.Encoder, g.Predictor) switch
    {
        ({ }, { }) => Framework.SimSiam,
        ({ }, null) => Framework.MoCo,
        (null, { }) => Framework.SimClr,
        _ => throw new GenotypeFormatException("A genotype needs an encoder or a predictor field."),
    };
}

namespace NASiam.Core.Genotypes;

/// <summary>
/// The one resolver of genotype references (the value of <c>pretrain.genotype</c>, the CLI's
/// <c>--genotype</c> and the API's <c>genotype</c>): <c>searched</c> (a pipeline's default: the
/// genotype its search stage found), <c>standard</c> (the framework's baseline heads), a preset
/// name (<c>cifar10_resnet18</c> or <c>simsiam/cifar10_resnet18</c>, method doc 5.8), genotype
/// text in the reference format (<c>Genotype(encoder=[...], predictor=[...])</c>, doc 5.7) or
/// JSON, or a path to a file holding either, where the host allows paths.
/// </summary>
public static class GenotypeReference
{
    public const string Searched = "searched";
    public const string Standard = "standard";

    /// <summary>True for "searched" and for null (stored before the keyword existed).</summary>
    public static bool IsSearched(string? reference) =>
        reference is null || reference.Trim().Equals(Searched, StringComparison.OrdinalIgnoreCase);

    /// <summary>True for "standard" (case-insensitive).</summary>
    public static bool IsStandard(string? reference) =>
        reference is not null && reference.Trim().Equals(Standard, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Resolves a concrete reference into a genotype checked against <paramref name="framework"/>
    /// (field names and operations; depth is the genotype's own, doc 2.5); null = standard heads.
    /// </summary>
    /// <exception cref="ArgumentException">"searched" (only a pipeline can resolve it), an unknown
    /// reference, a preset of another framework, a file path when <paramref name="allowFiles"/> is
    /// false, or genotype text that does not parse or fit the framework.</exception>
    public static Genotype? Resolve(string? reference, Framework framework, bool allowFiles = true)
    {
        if (IsSearched(reference))
            throw new ArgumentException($"'searched' names the genotype a pipeline's search finds; outside a pipeline give 'standard', a preset, genotype text{(allowFiles ? " or a file" : "")}.");
        var text = reference!.Trim();
        if (IsStandard(text)) return null;
        var preset = GenotypePresets.Find(text, framework);
        if (preset is not null)
        {
            if (preset.Framework != framework)
                throw new ArgumentException($"genotype preset '{preset.Name}' is for {preset.Framework.ToName()}, not {framework.ToName()}.");
            return preset.Genotype;
        }
        bool inline = text.StartsWith("Genotype", StringComparison.Ordinal) || text.StartsWith('{');
        if (!inline)
        {
            if (!allowFiles)
                throw new ArgumentException($"'{Shorten(text)}' is not 'standard', a genotype preset of {framework.ToName()} or genotype text (file paths are not accepted here: import the file into the genotype library, or paste its text).");
            if (!File.Exists(text))
                throw new ArgumentException($"'{Shorten(text)}' is not 'standard', a genotype preset of {framework.ToName()}, genotype text or an existing file.");
            text = File.ReadAllText(text).Trim();
        }
        var genotype = text.StartsWith('{') ? GenotypeJson.Parse(text, null) : GenotypeText.Parse(text, null);
        GenotypeRules.ValidateFields(genotype, framework);
        return genotype;
    }

    static string Shorten(string s) => s.Length <= 80 ? s : s[..77] + "...";
}

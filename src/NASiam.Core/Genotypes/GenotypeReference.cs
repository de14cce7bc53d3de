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
    public static Genotype? Resolve(string? reference, Framework framework, bool allowFiles = true) => Resolve(reference, framework, allowFiles, null);

    /// <summary>
    /// As <see cref="Resolve(string?, Framework, bool)"/>, where a door also takes the id of a stored
    /// genotype (the web: a genotype library entry or a run), which <paramref name="byId"/> looks up, or the
    /// name of one (the web: a library entry's, unique in any case), which <paramref name="byName"/> looks up.
    /// </summary>
    /// <exception cref="ArgumentException">Also for an id nothing stored has, and for a stored genotype of another framework.</exception>
    public static Genotype? Resolve(string? reference, Framework framework, bool allowFiles, Func<Guid, StoredGenotype?>? byId,
        Func<string, StoredGenotype?>? byName = null) => Resolve(reference, framework, allowFiles, byId, byName, out _);

    /// <summary>
    /// As <see cref="Resolve(string?, Framework, bool, Func{Guid, StoredGenotype?}, Func{string, StoredGenotype?})"/>;
    /// <paramref name="stored"/> is the stored genotype the reference named (by id or name), null for any other form,
    /// so a door reads its notice without looking it up again (<see cref="Notices"/>).
    /// </summary>
    public static Genotype? Resolve(string? reference, Framework framework, bool allowFiles, Func<Guid, StoredGenotype?>? byId,
        Func<string, StoredGenotype?>? byName, out StoredGenotype? stored)
    {
        stored = null;
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
        if (byId is not null && Guid.TryParse(text, out var id))
        {
            stored = byId(id) ?? throw new ArgumentException($"no genotype library entry or run with a genotype has id {id}.");
            if (stored.Framework != framework)
                throw new ArgumentException($"{stored.Description} holds a {stored.Framework.ToName()} genotype, not a {framework.ToName()} one.");
            text = stored.Text.Trim();
        }
        bool inline = text.StartsWith("Genotype", StringComparison.Ordinal) || text.StartsWith('{');
        if (!inline && byName?.Invoke(text) is { } named)
        {
            if (named.Framework != framework)
                throw new ArgumentException($"{named.Description} holds a {named.Framework.ToName()} genotype, not a {framework.ToName()} one.");
            text = named.Text.Trim();
            inline = true;
            stored = named;
        }
        if (!inline)
        {
            if (!allowFiles)
                throw new ArgumentException($"'{Shorten(text)}' is not 'standard', a genotype preset of {framework.ToName()}, genotype text" +
                    (byId is null ? "" : ", a genotype library entry's id or name, or a run id") +
                    " (file paths are not accepted here: import the file into the genotype library, or paste its text).");
            if (!File.Exists(text) && !Directory.Exists(text))
                throw new ArgumentException($"'{Shorten(text)}' is not 'standard', a genotype preset of {framework.ToName()}, genotype text, an existing file or a run folder holding genotype.txt.");
            text = GenotypeFile.ReadText(text); // a run folder's genotype.txt; a checkpoint refused with what to do
        }
        var genotype = text.StartsWith('{') ? GenotypeJson.Parse(text, null) : GenotypeText.Parse(text, null);
        GenotypeRules.ValidateFields(genotype, framework);
        return genotype;
    }

    /// <summary>
    /// What a run resolved from <paramref name="reference"/> must be told, without its field's name: the genotype.txt a
    /// run folder stood for (where paths are allowed), and a stored genotype's <see cref="StoredGenotype.Notice"/> (a
    /// stopped search's provisional genotype). <paramref name="stored"/> is what Resolve gave.
    /// </summary>
    public static IEnumerable<string> Notices(string? reference, bool allowFiles, StoredGenotype? stored)
    {
        if (allowFiles && GenotypeFile.InRunFolder(reference) is { } runGenotype)
            yield return $"'{reference!.Trim()}' is a run folder; its genotype is read from {runGenotype}";
        if (stored?.Notice is { } notice) yield return notice;
    }

    static string Shorten(string s) => s.Length <= 80 ? s : s[..77] + "...";
}

/// <summary>A genotype a door stores under an id or a name (the web's genotype library entries and runs), for <see cref="GenotypeReference.Resolve(string?, Framework, bool, Func{Guid, StoredGenotype?}, Func{string, StoredGenotype?})"/>.</summary>
/// <param name="Text">The genotype in the reference text format (or JSON).</param>
/// <param name="Framework">The framework it was found for or imported as.</param>
/// <param name="Description">What holds it, for messages: "run 1b2c… (my search)", "genotype library entry 'mine'".</param>
public sealed record StoredGenotype(string Text, Framework Framework, string Description)
{
    /// <summary>
    /// What a run that uses it must be told, when anything: a stopped or running search's genotype is the argmax
    /// of its alphas at the last snapshot, not a derived one (method doc 5.7). The resolver passes it on as a notice.
    /// </summary>
    public string? Notice { get; init; }
}

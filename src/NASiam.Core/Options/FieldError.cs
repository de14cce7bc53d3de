namespace NASiam.Core.Options;

/// <summary>
/// One problem with a run request, attached to the field it concerns. <see cref="Path"/> is the
/// field's JSON path in the options document, camelCase and dot-separated (<c>search.epochs</c>,
/// <c>pretrain.genotype</c>); request-level fields use their own names (<c>preset</c>,
/// <c>framework</c>, <c>checkpoint</c>); "" means the request as a whole.
/// </summary>
public sealed record FieldError(string Path, string Message)
{
    public override string ToString() => Path.Length == 0 ? Message : $"{Path}: {Message}";

    /// <summary>Groups errors by path, as ProblemDetails' <c>errors</c> and the form expect.</summary>
    public static Dictionary<string, string[]> ToDictionary(IEnumerable<FieldError> errors, string prefix = "") =>
        errors.GroupBy(e => e.Path.Length == 0 ? prefix.TrimEnd('.') : prefix + e.Path)
            .ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray());
}

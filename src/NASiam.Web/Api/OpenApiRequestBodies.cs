using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace NASiam.Web.Api;

/// <summary>
/// The request bodies' optional members are nullable in C# (left out = the default), but an explicit <c>null</c>
/// is a 400 naming the member (<see cref="BodyErrors"/>). The generated document said <c>"type": ["string", "null"]</c>
/// (and <c>oneOf: [null, $ref]</c> for an object), so a client generated from it would send nulls the server
/// refuses: here a member is optional, never null.
/// </summary>
public static class OpenApiRequestBodies
{
    static readonly string[] Bodies = [nameof(CreateRunRequest), nameof(CreateComparisonRequest)];

    /// <summary>A document transformer (the object members' null alternative is added after the schema transformers run).</summary>
    public static Task OptionalNotNull(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken _)
    {
        foreach (var name in Bodies)
            if (document.Components?.Schemas is { } schemas && schemas.TryGetValue(name, out var body) && body.Properties is { } members)
                StripNull(members);
        return Task.CompletedTask;
    }

    /// <summary>
    /// POST /api/genotypes reads its body itself (any content type but JSON is the reference text), so no Accepts()
    /// describes it: this operation transformer documents both forms.
    /// </summary>
    public static async Task DocumentImportBody(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancel)
    {
        var json = await context.GetOrCreateSchemaAsync(typeof(ImportGenotypeRequest), cancellationToken: cancel);
        if (json.Properties is { } members) StripNull(members);
        // Text is the genotype; a name (else "imported <time>") and a framework (else inferred) are optional.
        json.Required = new HashSet<string> { "text" };
        operation.RequestBody = new OpenApiRequestBody
        {
            Required = true,
            Description = "JSON {name, text, framework} (each optional but text), or the genotype's reference text as text/plain.",
            Content = new Dictionary<string, OpenApiMediaType>
            {
                ["application/json"] = new() { Schema = json },
                ["text/plain"] = new() { Schema = new OpenApiSchema { Type = JsonSchemaType.String } },
            },
        };
    }

    static void StripNull(IDictionary<string, IOpenApiSchema> members)
    {
        foreach (var (member, schema) in members.ToArray().Select(kv => (kv.Key, kv.Value)))
        {
            if (schema is not OpenApiSchema s) continue;
            if (s.Type is { } type) s.Type = type & ~JsonSchemaType.Null;
            if (s.OneOf is { } oneOf)
            {
                var rest = oneOf.Where(a => a is OpenApiSchemaReference || a.Type != JsonSchemaType.Null).ToList();
                // oneOf [null, X] is X.
                if (rest.Count == 1) members[member] = rest[0];
                else s.OneOf = rest;
            }
        }
    }
}

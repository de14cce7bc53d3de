using System.Text.Json;
using System.Text.Json.Nodes;

namespace NASiam.Core.Genotypes;

/// <summary>
/// JSON form of a genotype: <c>{"framework":"simsiam","encoder":[["linear_relu"],...],"predictor":[...]}</c>.
/// Absent fields are omitted. "framework" is informative on write and optional on read.
/// </summary>
public static class GenotypeJson
{
    // A file to read and to paste, never embedded in HTML: quotes stay quotes ("'linear_relu'", not "\u0027linear_relu\u0027").
    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    static readonly JsonSerializerOptions Compact = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string Write(Genotype g, Framework? framework = null, bool indented = true)
    {
        var o = new JsonObject();
        var f = framework ?? TryInfer(g);
        if (f is { } fw) o["framework"] = fw.ToName();
        if (g.Encoder is not null) o["encoder"] = Genes(g.Encoder);
        if (g.Predictor is not null) o["predictor"] = Genes(g.Predictor);
        o["text"] = GenotypeText.Write(g);
        return o.ToJsonString(indented ? Indented : Compact);
    }

    static JsonArray Genes(IReadOnlyList<IReadOnlyList<string>> genes) =>
        new(genes.Select(gene => (JsonNode)new JsonArray(gene.Select(n => (JsonNode)JsonValue.Create(n)!).ToArray())).ToArray());

    static Framework? TryInfer(Genotype g)
    {
        try { return GenotypeRules.InferFramework(g); } catch (GenotypeFormatException) { return null; }
    }

    /// <summary>Parses the JSON form; bad JSON or names give <see cref="GenotypeFormatException"/>.</summary>
    public static Genotype Parse(string json, Framework? framework = null)
    {
        JsonNode? root;
        try { root = JsonNode.Parse(json); }
        catch (JsonException e) { throw new GenotypeFormatException($"Malformed genotype JSON: {e.Message}"); }
        if (root is not JsonObject o) throw new GenotypeFormatException("Genotype JSON must be an object with 'encoder' and/or 'predictor' arrays.");
        foreach (var key in o.Select(p => p.Key))
            if (key is not ("encoder" or "predictor" or "framework" or "text"))
                throw new GenotypeFormatException($"Unknown genotype JSON field '{key}'; valid: framework, encoder, predictor, text.");
        var g = new Genotype(ReadGenes(o, "encoder"), ReadGenes(o, "predictor"));
        if (g.Encoder is null && g.Predictor is null)
            throw new GenotypeFormatException("Genotype JSON needs an 'encoder' or a 'predictor' array.");
        Framework? declared = null;
        if (o["framework"] is JsonValue fv)
            declared = FrameworkNames.TryParse(fv.GetValue<string>(), out var df) ? df
                : throw new GenotypeFormatException($"Unknown framework '{fv}' in genotype JSON; valid: simsiam, moco, simclr.");
        var check = framework ?? declared;
        // Any depth: a genotype.json a run wrote for a custom-depth genotype must read back (method doc 2.6).
        GenotypeRules.ValidateFields(g, check ?? GenotypeRules.InferFramework(g));
        return g;
    }

    static IReadOnlyList<IReadOnlyList<string>>? ReadGenes(JsonObject o, string field)
    {
        if (!o.TryGetPropertyValue(field, out var node) || node is null) return null;
        if (node is not JsonArray layers) throw new GenotypeFormatException($"'{field}' must be an array of layers.");
        var genes = new List<IReadOnlyList<string>>();
        for (int i = 0; i < layers.Count; i++)
        {
            var names = layers[i] switch
            {
                JsonArray a => a.Select(n => n is JsonValue v && v.TryGetValue<string>(out var s) ? s
                    : throw new GenotypeFormatException($"{field} layer {i}: operation names must be strings.")).ToList(),
                JsonValue v when v.TryGetValue<string>(out var s) => [s],
                _ => throw new GenotypeFormatException($"{field} layer {i}: expected a list of operation names."),
            };
            genes.Add(names);
        }
        return genes;
    }
}

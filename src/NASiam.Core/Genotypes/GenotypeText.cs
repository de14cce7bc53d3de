using System.Text;
using NASiam.Core.Search;

namespace NASiam.Core.Genotypes;

/// <summary>
/// The reference's one-line genotype format (method doc 5.7), read by a strict parser (never
/// evaluated as code, unlike the reference, D11):
/// <c>Genotype(encoder=[['linear_relu'], ['identity']], predictor=[['avgpool_3x3'], ...])</c>.
/// Single or double quotes are accepted; whitespace is free; genes hold one (sparse) or two (edge) names.
/// </summary>
public static class GenotypeText
{
    /// <summary>Writes the reference text: fields in declaration order, single quotes, ", " separators, no newline.</summary>
    public static string Write(Genotype g)
    {
        var sb = new StringBuilder("Genotype(");
        bool first = true;
        void Field(string name, IReadOnlyList<IReadOnlyList<string>>? genes)
        {
            if (genes is null) return;
            if (!first) sb.Append(", ");
            first = false;
            sb.Append(name).Append("=[");
            sb.Append(string.Join(", ", genes.Select(gene => "[" + string.Join(", ", gene.Select(n => $"'{n}'")) + "]")));
            sb.Append(']');
        }
        Field("encoder", g.Encoder);
        Field("predictor", g.Predictor);
        return sb.Append(')').ToString();
    }

    /// <summary>
    /// Parses the text format. Op names are checked against the search space; if
    /// <paramref name="framework"/> is given, fields and layer counts are checked against it too
    /// (see <see cref="GenotypeRules"/>).
    /// </summary>
    public static Genotype Parse(string text, Framework? framework = null)
    {
        var g = new Parser(text ?? throw new ArgumentNullException(nameof(text))).ParseGenotype();
        if (framework is { } f) GenotypeRules.Validate(g, f);
        return g;
    }

    sealed class Parser(string s)
    {
        int _pos;

        public Genotype ParseGenotype()
        {
            SkipWs();
            Expect("Genotype");
            SkipWs();
            Expect("(");
            List<IReadOnlyList<string>>? encoder = null, predictor = null;
            SkipWs();
            if (Peek() == ')') throw Error("a genotype needs at least one field (encoder=[...] or predictor=[...])");
            while (true)
            {
                SkipWs();
                int fieldAt = _pos;
                var name = Identifier();
                if (name is not ("encoder" or "predictor"))
                    throw Error($"unknown field '{name}'; valid fields: encoder, predictor", fieldAt);
                if ((name == "encoder" ? encoder : predictor) is not null)
                    throw Error($"field '{name}' given twice", fieldAt);
                SkipWs();
                Expect("=");
                var genes = Genes(name);
                if (name == "encoder") encoder = genes; else predictor = genes;
                SkipWs();
                if (Peek() == ',') { _pos++; continue; }
                Expect(")");
                break;
            }
            SkipWs();
            if (_pos != s.Length) throw Error("unexpected text after the closing ')'");
            return new Genotype(encoder, predictor);
        }

        List<IReadOnlyList<string>> Genes(string field)
        {
            SkipWs();
            Expect("[");
            var genes = new List<IReadOnlyList<string>>();
            SkipWs();
            if (Peek() == ']') throw Error($"field '{field}' has no layers");
            while (true)
            {
                SkipWs();
                genes.Add(Gene(field, genes.Count));
                SkipWs();
                if (Peek() == ',') { _pos++; continue; }
                Expect("]");
                return genes;
            }
        }

        IReadOnlyList<string> Gene(string field, int layer)
        {
            Expect("[");
            var names = new List<string>();
            while (true)
            {
                SkipWs();
                int at = _pos;
                var name = Quoted();
                if (!OperationNames.IsValid(name))
                    throw new GenotypeFormatException(
                        $"Unknown operation '{name}' in {field} layer {layer} (character {at + 1}). " +
                        $"Valid operations: {string.Join(", ", OperationNames.SimSiamMoCoOrder)}.");
                names.Add(name);
                SkipWs();
                if (Peek() == ',') { _pos++; continue; }
                Expect("]");
                break;
            }
            if (names.Count > 2) throw Error($"{field} layer {layer} has {names.Count} names; a gene holds 1 (sparse) or 2 (edge)");
            return names;
        }

        string Quoted()
        {
            char q = Peek();
            if (q is not ('\'' or '"')) throw Error("expected a quoted operation name");
            int start = ++_pos;
            while (_pos < s.Length && s[_pos] != q) _pos++;
            if (_pos >= s.Length) throw Error("unterminated quoted name", start - 1);
            return s[start..(_pos++)];
        }

        string Identifier()
        {
            int start = _pos;
            while (_pos < s.Length && (char.IsLetterOrDigit(s[_pos]) || s[_pos] == '_')) _pos++;
            if (_pos == start) throw Error("expected a field name (encoder or predictor)");
            return s[start.._pos];
        }

        void Expect(string token)
        {
            if (string.CompareOrdinal(s, _pos, token, 0, token.Length) != 0)
                throw Error($"expected '{token}'");
            _pos += token.Length;
        }

        char Peek() => _pos < s.Length ? s[_pos] : '\0';
        void SkipWs() { while (_pos < s.Length && char.IsWhiteSpace(s[_pos])) _pos++; }

        GenotypeFormatException Error(string what, int? at = null)
        {
            int p = at ?? _pos;
            var found = p < s.Length ? $"'{s[p]}'" : "end of text";
            return new GenotypeFormatException(
                $"Malformed genotype at character {p + 1} (found {found}): {what}. " +
                $"Expected form: Genotype(encoder=[['op'], ...], predictor=[['op'], ...]); " +
                $"valid operations: {string.Join(", ", OperationNames.SimSiamMoCoOrder)}.");
        }
    }
}

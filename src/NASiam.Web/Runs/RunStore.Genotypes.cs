using NASiam.Core;

namespace NASiam.Web.Runs;

/// <summary>The genotype library: presets the user saved and genotypes runs discovered.</summary>
public sealed partial class RunStore
{
    public void AddGenotype(GenotypeEntry g)
    {
        using var c = Open();
        Exec(c, "INSERT OR REPLACE INTO genotypes (id, name, framework, text, source, run_id, created_at) VALUES ($id, $n, $f, $t, $s, $r, $at)",
            ("$id", g.Id.ToString()), ("$n", g.Name), ("$f", g.Framework.ToString()), ("$t", g.Text), ("$s", g.Source),
            ("$r", g.RunId?.ToString()), ("$at", Iso(g.CreatedAt)));
    }

    public IReadOnlyList<GenotypeEntry> Genotypes()
    {
        using var c = Open();
        using var cmd = Command(c, "SELECT id, name, framework, text, source, run_id, created_at FROM genotypes ORDER BY created_at DESC");
        using var r = cmd.ExecuteReader();
        var list = new List<GenotypeEntry>();
        while (r.Read())
            list.Add(new GenotypeEntry(Guid.Parse(r.GetString(0)), r.GetString(1), Enum.Parse<Framework>(r.GetString(2)), r.GetString(3),
                r.GetString(4), r.IsDBNull(5) ? null : Guid.Parse(r.GetString(5)), ReadTime(r, 6)!.Value));
        return list;
    }

    /// <summary>
    /// The genotype a web request means by an id: a library entry's text, else the genotype of the run
    /// with that id; null when neither exists (the form, the API and comparisons accept such ids).
    /// </summary>
    public string? GenotypeTextById(Guid id) => Genotypes().FirstOrDefault(g => g.Id == id)?.Text ?? Get(id)?.GenotypeText;

    public void DeleteGenotype(Guid id)
    {
        using var c = Open();
        Exec(c, "DELETE FROM genotypes WHERE id = $id", ("$id", id.ToString()));
    }
}

namespace NASiam.Core.Options;

/// <summary>
/// The names people give runs, comparisons and library genotypes: labels in lists, page titles, file names of
/// downloads and log lines, so one line of visible text.
/// </summary>
public static class DisplayNames
{
    /// <summary>
    /// What is wrong with <paramref name="name"/> as a label, or null: longer than <paramref name="maxLength"/>
    /// characters; a control character (a line break, a tab, an escape), which splits or garbles the lines that
    /// show it; or a bidirectional override, embedding or isolate (U+202A-U+202E, U+2066-U+2069), which makes a
    /// list show other text than the name holds ("Trojan Source", CVE-2021-42574).
    /// </summary>
    public static string? Problem(string name, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length > maxLength) return $"must be at most {maxLength} characters (got {name.Length})";
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            if (char.IsControl(c))
                return $"must be one line of visible text: character {i + 1} is a control character (U+{(int)c:X4}{(c is '\n' or '\r' ? ", a line break" : c == '\t' ? ", a tab" : "")})";
            if (c is >= '\u202A' and <= '\u202E' or >= '\u2066' and <= '\u2069')
                return $"must not hold bidirectional control characters: character {i + 1} (U+{(int)c:X4}) would make lists show other text than the name holds";
        }
        return null;
    }
}

using System.CommandLine;

namespace NASiam.Cli;

// Legacy verbs: the pre-System.CommandLine verb style, kept only so a verb written that way (the
// `doctor` verb, added in parallel) still mounts as one line in NasiamCli.Verbs:
//     LegacyVerb.Mount(new DoctorCommand(), context),
// Port such a verb to a `static Command Create(CliContext)` (see Commands/ExportCommand.cs), then
// delete this folder: nothing else uses it.

/// <summary>One verb in the pre-System.CommandLine style: it parses its own arguments with <see cref="CliArgs"/>.</summary>
public interface ICliCommand
{
    /// <summary>The verb, e.g. "doctor".</summary>
    string Name { get; }
    /// <summary>One line for the top-level help.</summary>
    string Summary { get; }
    /// <summary>Full help text for <c>nasiam VERB --help</c>.</summary>
    string Help { get; }
    /// <summary>Runs the verb; returns the exit code. Throws <see cref="CliException"/> for bad input.</summary>
    int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken);
}

/// <summary>Mounts an <see cref="ICliCommand"/> under the System.CommandLine root: its arguments reach it untouched and in order.</summary>
public static class LegacyVerb
{
    /// <summary>A <see cref="Command"/> that hands every token after the verb to <paramref name="verb"/>.</summary>
    public static Command Mount(ICliCommand verb, CliContext context)
    {
        ArgumentNullException.ThrowIfNull(verb);
        var rest = new Argument<string[]>("arguments") { Arity = ArgumentArity.ZeroOrMore, Description = "See the usage above." };
        var command = new Command(verb.Name, verb.Summary + "\n" + verb.Help.Trim()) { rest };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(parse =>
        {
            var tokens = parse.Tokens.Select(t => t.Value).ToList();
            var args = tokens.Skip(tokens.IndexOf(verb.Name) + 1).ToList();
            return verb.Run(args, context.Stdout, context.Stderr, context.CancellationToken);
        });
        return command;
    }
}

/// <summary>
/// Minimal POSIX-style argument reader: positionals, <c>--name value</c>, <c>--name=value</c> and
/// boolean <c>--flag</c>. Unknown options are reported by <see cref="EnsureAllUsed"/>, so a typo
/// fails loudly instead of being ignored.
/// </summary>
public sealed class CliArgs
{
    readonly Dictionary<string, string?> _options = new(StringComparer.Ordinal);
    readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public IReadOnlyList<string> Positionals { get; }

    public CliArgs(IEnumerable<string> args, IReadOnlySet<string>? flags = null)
    {
        var positionals = new List<string>();
        var list = args.ToList();
        for (int i = 0; i < list.Count; i++)
        {
            var a = list[i];
            if (a == "--") { positionals.AddRange(list.Skip(i + 1)); break; }
            if (a.StartsWith("--", StringComparison.Ordinal) && a.Length > 2)
            {
                var body = a[2..];
                var eq = body.IndexOf('=');
                if (eq >= 0) { _options[body[..eq]] = body[(eq + 1)..]; continue; }
                if (flags?.Contains(body) == true || i + 1 >= list.Count || list[i + 1].StartsWith("--", StringComparison.Ordinal))
                    _options[body] = null;
                else
                    _options[body] = list[++i];
                continue;
            }
            positionals.Add(a);
        }
        Positionals = positionals;
    }

    public bool Has(string name) { _used.Add(name); return _options.ContainsKey(name); }

    public bool Flag(string name)
    {
        _used.Add(name);
        if (!_options.TryGetValue(name, out var v)) return false;
        return v is null || v is "true" or "1" or "yes"
            ? true
            : v is "false" or "0" or "no" ? false : throw new CliException($"--{name} takes no value (got '{v}').");
    }

    public string? String(string name)
    {
        _used.Add(name);
        if (!_options.TryGetValue(name, out var v)) return null;
        return v ?? throw new CliException($"--{name} needs a value.");
    }

    public int? Int(string name) => Parse(name, s => int.TryParse(s, out var v) ? v : (int?)null, "an integer");
    public long? Long(string name) => Parse(name, s => long.TryParse(s, out var v) ? v : (long?)null, "an integer");
    public double? Double(string name) => Parse(name, s =>
        double.TryParse(s, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : (double?)null, "a number");

    T? Parse<T>(string name, Func<string, T?> parse, string what) where T : struct
    {
        var s = String(name);
        if (s is null) return null;
        return parse(s) ?? throw new CliException($"--{name} must be {what} (got '{s}').");
    }

    /// <summary>Throws for any option that no command read.</summary>
    public void EnsureAllUsed()
    {
        var unknown = _options.Keys.Where(k => !_used.Contains(k)).ToList();
        if (unknown.Count > 0) throw new CliException($"Unknown option{(unknown.Count > 1 ? "s" : "")}: {string.Join(", ", unknown.Select(u => "--" + u))}. See --help.");
    }
}


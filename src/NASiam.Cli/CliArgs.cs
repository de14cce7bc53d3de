namespace NASiam.Cli;

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

/// <summary>A user error: printed as one line, exit code <see cref="ExitCode"/>.</summary>
public sealed class CliException(string message, int exitCode = ExitCodes.BadInput) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>Process exit codes of the nasiam command.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>The run failed (NaN loss, I/O error during training).</summary>
    public const int RunFailed = 1;
    /// <summary>Bad arguments, options or input files.</summary>
    public const int BadInput = 2;
    /// <summary>Cancelled (Ctrl-C); a resumable checkpoint was left.</summary>
    public const int Cancelled = 130;
}

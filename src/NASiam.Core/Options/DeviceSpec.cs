namespace NASiam.Core.Options;

/// <summary>A parsed device request: auto, cpu, cuda or cuda:N.</summary>
public sealed record DeviceSpec(string Kind, int? Index)
{
    public static bool TryParse(string? text, out DeviceSpec spec)
    {
        spec = new DeviceSpec("auto", null);
        var t = text?.Trim().ToLowerInvariant();
        switch (t)
        {
            case "auto" or "" or null: return true;
            case "cpu": spec = new DeviceSpec("cpu", null); return true;
            case "cuda": spec = new DeviceSpec("cuda", null); return true;
        }
        if (t.StartsWith("cuda:") && int.TryParse(t.AsSpan(5), out var i) && i >= 0)
        {
            spec = new DeviceSpec("cuda", i);
            return true;
        }
        return false;
    }

    public override string ToString() => Index is { } i ? $"{Kind}:{i}" : Kind;
}

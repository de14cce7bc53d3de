using Microsoft.Extensions.Options;
using NASiam.Core.Engine;
using NASiam.Core.Options;

namespace NASiam.Web.Options;

/// <summary>
/// Start-up check that a node which executes runs has the devices it lists: a worker configured for
/// cuda:0 on a host without CUDA started and then failed every cuda run it took. A failure is an options
/// validation error (one line naming the setting, exit code 2), like the other Nasiam:Devices errors. A web
/// node executes nothing and lists the devices its workers serve, so it is not checked. Torch is asked only
/// when a CUDA device is listed (a CPU-only node never loads it here).
/// </summary>
public sealed class DeviceAvailability(Func<int> cudaDeviceCount) : IValidateOptions<NasiamWebOptions>
{
    public DeviceAvailability() : this(TorchRuntime.CudaDeviceCount) { }

    public ValidateOptionsResult Validate(string? name, NasiamWebOptions o)
    {
        if (!o.ExecutesRuns) return ValidateOptionsResult.Skip;
        var cuda = (o.Devices ?? []).Where(d => DeviceSpec.TryParse(d, out var s) && s.Kind == "cuda").ToList();
        if (cuda.Count == 0) return ValidateOptionsResult.Skip;
        int count;
        try { count = cudaDeviceCount(); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return ValidateOptionsResult.Fail($"Nasiam:Devices lists {string.Join(", ", cuda)}, but CUDA could not be probed on this host: {e.Message}");
        }
        var errors = new List<string>();
        foreach (var d in cuda)
        {
            DeviceSpec.TryParse(d, out var spec);
            var index = spec.Index ?? 0;
            if (count == 0)
                errors.Add($"Nasiam:Devices entry '{d}': CUDA is not available on this host (CPU build of TorchSharp or no GPU); a node that executes runs lists only devices it has.");
            else if (index >= count)
                errors.Add($"Nasiam:Devices entry '{d}': this host has {count} CUDA device(s) (cuda:0 to cuda:{count - 1}).");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

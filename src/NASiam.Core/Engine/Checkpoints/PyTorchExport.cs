using System.Collections;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace NASiam.Core.Engine.Checkpoints;

/// <summary>
/// Writes a state dict that PyTorch's <c>torch.load</c> reads (the zip/pickle format of
/// <c>torch.save(state_dict)</c>, via TorchSharp.PyBridge). Keys are taken as given, so callers pass
/// the model's reference-named dict (e.g. <c>encoder.fc.weight</c>, <c>cell_predictor...</c>).
/// </summary>
public static class PyTorchExport
{
    /// <summary>
    /// Saves <paramref name="stateDict"/> (any device; copied to CPU, contiguous) to <paramref name="path"/>
    /// atomically (temp file, then rename).
    /// </summary>
    public static void SaveStateDict(string path, IEnumerable<KeyValuePair<string, Tensor>> stateDict)
    {
        var copies = new List<Tensor>();
        try
        {
            IDictionary dict = new Dictionary<string, Tensor>();
            foreach (var (key, value) in stateDict)
            {
                if (dict.Contains(key)) throw new ArgumentException($"State dict key '{key}' appears twice.");
                var cpu = value.detach().cpu().contiguous();
                copies.Add(cpu);
                dict[key] = cpu;
            }
            NASiam.Core.IO.AtomicFile.Write(path, stream => PyTorchPickler.PickleStateDict(stream, dict, leaveOpen: true));
        }
        finally
        {
            foreach (var c in copies) c.Dispose();
        }
    }
}

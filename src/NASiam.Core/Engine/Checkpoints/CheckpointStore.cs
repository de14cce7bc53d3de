using System.Text;
using System.Text.Json;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NASiam.Core.Engine.Checkpoints;

/// <summary>What a checkpoint holds besides <see cref="CheckpointState"/>. Null members are skipped on save and on load.</summary>
public sealed class CheckpointContent
{
    /// <summary>The model; its state dict (parameters and buffers) is saved.</summary>
    public nn.Module? Model { get; init; }
    /// <summary>Architecture parameters, saved explicitly and restored in place (method doc D3).</summary>
    public IReadOnlyList<Parameter>? Alphas { get; init; }
    /// <summary>When <see cref="Alphas"/> is null: receives the saved alpha tensors (CPU; the caller disposes them).</summary>
    public IList<Tensor>? AlphasOut { get; init; }
    public OptimizerHelper? WeightOptimizer { get; init; }
    public OptimizerHelper? AlphaOptimizer { get; init; }
    /// <summary>Other tensors by name (RNG states, probe head...). On load, existing targets are overwritten in place.</summary>
    public IDictionary<string, Tensor>? Extra { get; init; }
}

/// <summary>
/// Writes and reads checkpoint files atomically: the bytes go to a temporary file in the same
/// folder, are flushed to disk, and only then renamed over the target, so a crash or I/O error
/// mid-write never damages the last good checkpoint. Layout: magic, version, state JSON, then named
/// length-prefixed sections (model, alphas, weight_optimizer, alpha_optimizer, extra), so a reader
/// can check a file without loading it into a model.
/// </summary>
public static class CheckpointStore
{
    public const int FormatVersion = 1;
    static readonly byte[] Magic = "NASIAMCK"u8.ToArray();

    /// <summary>
    /// Test hook: wraps the temporary file's stream (e.g. to fail mid-write) for the saves of the setting test's own
    /// flow only (async-local), so a test running beside it in the same process never writes through it.
    /// </summary>
    internal static Func<Stream, Stream>? WrapStreamForTests
    {
        get => s_wrapStreamForTests.Value;
        set => s_wrapStreamForTests.Value = value;
    }
    static readonly AsyncLocal<Func<Stream, Stream>?> s_wrapStreamForTests = new();

    /// <summary>
    /// Saves atomically to <paramref name="path"/> (folders are created; <see cref="IO.AtomicFile"/>).
    /// <paramref name="beforeCommit"/> runs when the bytes are on disk, just before the rename.
    /// </summary>
    public static void Save(string path, CheckpointState state, CheckpointContent content, Action? beforeCommit = null) =>
        IO.AtomicFile.Write(path, file =>
        {
            var stream = WrapStreamForTests?.Invoke(file) ?? file;
            using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
                WriteAll(writer, state, content);
            stream.Flush();
        }, beforeCommit);

    static void WriteAll(BinaryWriter w, CheckpointState state, CheckpointContent c)
    {
        w.Write(Magic);
        w.Write(FormatVersion);
        w.Write(JsonSerializer.Serialize(state, CheckpointState.Json));
        var sections = new List<(string Name, Action<BinaryWriter> Write)>();
        if (c.Model is { } model) sections.Add(("model", bw => model.save(bw)));
        if (c.Alphas is { } alphas) sections.Add(("alphas", bw => WriteTensors(bw, alphas.Select((a, i) => ($"{i}", (Tensor)a)))));
        if (c.WeightOptimizer is { } wo) sections.Add(("weight_optimizer", bw => wo.save_state_dict(bw)));
        if (c.AlphaOptimizer is { } ao) sections.Add(("alpha_optimizer", bw => ao.save_state_dict(bw)));
        if (c.Extra is { } extra) sections.Add(("extra", bw => WriteTensors(bw, extra.Select(kv => (kv.Key, kv.Value)))));
        w.Write(sections.Count);
        var stream = w.BaseStream;
        foreach (var (name, write) in sections)
        {
            // Length-prefixed so a reader can skip sections it is not asked to load. The section is
            // written in place and its length patched in after: buffering it in memory first made
            // ~2x the model's size of managed garbage per save (a MoCo ResNet-18 search checkpoint is
            // 163 MiB), which the GC kept resident long after (+330 MiB RSS per save, measured).
            w.Write(name);
            long lengthAt = stream.Position;
            w.Write(0L);
            using (var bw = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true)) write(bw);
            long end = stream.Position;
            stream.Position = lengthAt;
            w.Write(end - lengthAt - sizeof(long));
            stream.Position = end;
        }
        w.Write(Magic); // trailer: a truncated file fails loudly
    }

    static void WriteTensors(BinaryWriter w, IEnumerable<(string Name, Tensor Tensor)> tensors)
    {
        var list = tensors.ToList();
        w.Write(list.Count);
        foreach (var (name, t) in list)
        {
            w.Write(name);
            using var cpu = t.detach().cpu();
            cpu.Save(w);
        }
    }

    /// <summary>Reads only the state (cheap: sections are skipped). Throws <see cref="InvalidDataException"/> for a damaged file.</summary>
    public static CheckpointState ReadState(string path) => Load(path, new CheckpointContent());

    /// <summary>
    /// Loads <paramref name="path"/> into <paramref name="content"/>'s non-null members: model
    /// weights and buffers, alphas copied in place (the optimizer keeps pointing at the same tensors),
    /// optimizer states, extra tensors copied in place (added when absent). Returns the state.
    /// </summary>
    public static CheckpointState Load(string path, CheckpointContent content)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Checkpoint '{path}' does not exist.", path);
        try
        {
            using var file = File.OpenRead(path);
            using var r = new BinaryReader(file, Encoding.UTF8);
            if (!r.ReadBytes(Magic.Length).AsSpan().SequenceEqual(Magic))
                throw new InvalidDataException($"'{path}' is not a NASiam checkpoint (bad magic).");
            var version = r.ReadInt32();
            if (version != FormatVersion)
                throw new InvalidDataException($"Checkpoint '{path}' has format version {version}; this build reads {FormatVersion}.");
            var state = JsonSerializer.Deserialize<CheckpointState>(r.ReadString(), CheckpointState.Json)
                        ?? throw new InvalidDataException($"Checkpoint '{path}' has an empty state.");
            int count = r.ReadInt32();
            for (int s = 0; s < count; s++)
            {
                var name = r.ReadString();
                var length = r.ReadInt64();
                var start = file.Position;
                if (length < 0 || start + length > file.Length)
                    throw new InvalidDataException($"Checkpoint '{path}' is truncated in section '{name}'.");
                ReadSection(r, name, content);
                file.Position = start + length;
            }
            if (!r.ReadBytes(Magic.Length).AsSpan().SequenceEqual(Magic))
                throw new InvalidDataException($"Checkpoint '{path}' is truncated (no trailer).");
            return state;
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"Checkpoint '{path}' is truncated.", e);
        }
    }

    /// <summary>True when <paramref name="path"/> starts as a NASiam checkpoint does (its magic); not a check that it is whole.</summary>
    public static bool IsCheckpoint(string path)
    {
        try
        {
            using var file = File.OpenRead(path);
            var head = new byte[Magic.Length];
            return file.ReadAtLeast(head, head.Length, throwOnEndOfStream: false) == head.Length && head.AsSpan().SequenceEqual(Magic);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    /// <summary>True when <paramref name="path"/> exists and reads back completely.</summary>
    public static bool IsValid(string path)
    {
        try { ReadState(path); return true; }
        catch (Exception e) when (e is InvalidDataException or IOException or JsonException) { return false; }
    }

    static void ReadSection(BinaryReader r, string name, CheckpointContent c)
    {
        switch (name)
        {
            case "model" when c.Model is not null:
                c.Model.load(r, strict: true);
                break;
            case "alphas" when c.Alphas is not null:
            {
                var loaded = ReadTensors(r);
                if (loaded.Count != c.Alphas.Count)
                    throw new InvalidDataException($"Checkpoint holds {loaded.Count} alpha tensors; the model has {c.Alphas.Count}.");
                using (no_grad())
                {
                    for (int i = 0; i < loaded.Count; i++)
                    {
                        var src = loaded[$"{i}"];
                        if (!src.shape.SequenceEqual(c.Alphas[i].shape))
                            throw new InvalidDataException($"Alpha tensor {i} has shape [{string.Join(",", src.shape)}]; the model expects [{string.Join(",", c.Alphas[i].shape)}].");
                        c.Alphas[i].copy_(src); // in place: the alpha optimizer keeps its reference (D3)
                        src.Dispose();
                    }
                }
                break;
            }
            case "alphas" when c.AlphasOut is not null:
                foreach (var (_, t) in ReadTensors(r).OrderBy(kv => int.Parse(kv.Key, System.Globalization.CultureInfo.InvariantCulture)))
                    c.AlphasOut.Add(t);
                break;
            case "weight_optimizer" when c.WeightOptimizer is not null:
                c.WeightOptimizer.load_state_dict(r);
                break;
            case "alpha_optimizer" when c.AlphaOptimizer is not null:
                c.AlphaOptimizer.load_state_dict(r);
                break;
            case "extra" when c.Extra is not null:
                foreach (var (key, src) in ReadTensors(r))
                {
                    if (c.Extra.TryGetValue(key, out var target) && target.shape.SequenceEqual(src.shape))
                    {
                        using (no_grad()) target.copy_(src);
                        src.Dispose();
                    }
                    else c.Extra[key] = src;
                }
                break;
        }
    }

    static Dictionary<string, Tensor> ReadTensors(BinaryReader r)
    {
        var result = new Dictionary<string, Tensor>();
        int count = r.ReadInt32();
        for (int i = 0; i < count; i++)
        {
            var name = r.ReadString();
            result[name] = TensorExtensionMethods.Load(r);
        }
        return result;
    }
}

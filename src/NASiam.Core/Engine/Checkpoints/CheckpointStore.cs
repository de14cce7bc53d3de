using System.IO.Hashing;
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
    /// <summary>
    /// 2: the state and every section are followed by their XxHash3 (64-bit), checked on load, so a flipped bit
    /// is an error instead of silently different weights. 1 (no checksums) is still read.
    /// </summary>
    public const int FormatVersion = 2;
    const int UncheckedFormatVersion = 1;
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
        var json = JsonSerializer.Serialize(state, CheckpointState.Json);
        w.Write(json);
        w.Write(XxHash3.HashToUInt64(Encoding.UTF8.GetBytes(json)));
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
            var hash = new XxHash3();
            using (var hashing = new HashingWriteStream(stream, hash))
            using (var bw = new BinaryWriter(hashing, Encoding.UTF8, leaveOpen: true)) write(bw);
            long end = stream.Position;
            stream.Position = lengthAt;
            w.Write(end - lengthAt - sizeof(long));
            stream.Position = end;
            w.Write(hash.GetCurrentHashAsUInt64());
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
    public static CheckpointState Load(string path, CheckpointContent content) => Load(path, content, verifyAll: false);

    static CheckpointState Load(string path, CheckpointContent content, bool verifyAll)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Checkpoint '{path}' does not exist.", path);
        try
        {
            using var file = File.OpenRead(path);
            using var r = new BinaryReader(file, Encoding.UTF8);
            if (!r.ReadBytes(Magic.Length).AsSpan().SequenceEqual(Magic))
                throw new InvalidDataException($"'{path}' is not a NASiam checkpoint (bad magic).");
            var version = r.ReadInt32();
            if (version is not (FormatVersion or UncheckedFormatVersion))
                throw new InvalidDataException($"Checkpoint '{path}' has format version {version}; this build reads {UncheckedFormatVersion} and {FormatVersion}.");
            bool checksums = version == FormatVersion;
            var json = r.ReadString();
            if (checksums && r.ReadUInt64() != XxHash3.HashToUInt64(Encoding.UTF8.GetBytes(json)))
                throw Damaged(path, "its state");
            var state = (JsonSerializer.Deserialize<CheckpointState>(json, CheckpointState.Json)
                        ?? throw new InvalidDataException($"Checkpoint '{path}' has an empty state.")) with { FormatVersion = version }; // the header's is the file's
            int count = r.ReadInt32();
            for (int s = 0; s < count; s++)
            {
                var name = r.ReadString();
                var length = r.ReadInt64();
                var start = file.Position;
                long stored = checksums ? sizeof(ulong) : 0;
                if (length < 0 || start + length + stored > file.Length)
                    throw new InvalidDataException($"Checkpoint '{path}' is truncated in section '{name}'.");
                bool loads = Loads(name, content);
                // Checked before anything is loaded: a damaged section never reaches the model or the optimizers.
                if (checksums && (loads || verifyAll) && !SectionMatches(file, start, length))
                    throw Damaged(path, $"section '{name}'");
                if (loads)
                {
                    file.Position = start;
                    ReadSection(r, name, content);
                }
                file.Position = start + length + stored;
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

    /// <summary>
    /// Reads the whole file and checks every checksum (format 2) without loading anything; returns the state.
    /// Throws <see cref="InvalidDataException"/> naming the damaged part.
    /// </summary>
    public static CheckpointState Verify(string path) => Load(path, new CheckpointContent(), verifyAll: true);

    /// <summary>True when <paramref name="path"/> exists, reads back completely and matches its checksums.</summary>
    public static bool IsValid(string path)
    {
        try { Verify(path); return true; }
        catch (Exception e) when (e is InvalidDataException or IOException or JsonException) { return false; }
    }

    static InvalidDataException Damaged(string path, string part) =>
        new($"Checkpoint '{path}' is damaged: {part} does not match its checksum (the file changed after it was written: a disk or copy error).");

    /// <summary>Whether <see cref="ReadSection"/> loads section <paramref name="name"/> into <paramref name="c"/>.</summary>
    static bool Loads(string name, CheckpointContent c) => name switch
    {
        "model" => c.Model is not null,
        "alphas" => c.Alphas is not null || c.AlphasOut is not null,
        "weight_optimizer" => c.WeightOptimizer is not null,
        "alpha_optimizer" => c.AlphaOptimizer is not null,
        "extra" => c.Extra is not null,
        _ => false,
    };

    /// <summary>The section's <paramref name="length"/> bytes at <paramref name="start"/> hash to the 64 bits stored after them.</summary>
    static bool SectionMatches(FileStream file, long start, long length)
    {
        var hash = new XxHash3();
        var buffer = new byte[1 << 20];
        file.Position = start;
        for (long left = length; left > 0;)
        {
            int n = file.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
            if (n == 0) throw new EndOfStreamException();
            hash.Append(buffer.AsSpan(0, n));
            left -= n;
        }
        Span<byte> stored = stackalloc byte[sizeof(ulong)];
        file.ReadExactly(stored);
        return BitConverter.ToUInt64(stored) == hash.GetCurrentHashAsUInt64();
    }

    /// <summary>Passes writes through to the file and into the section's hash.</summary>
    sealed class HashingWriteStream(Stream inner, NonCryptographicHashAlgorithm hash) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Write(ReadOnlySpan<byte> buffer)
        {
            inner.Write(buffer);
            hash.Append(buffer);
        }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
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

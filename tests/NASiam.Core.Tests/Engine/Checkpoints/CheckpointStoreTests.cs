using NASiam.Core.Engine;
using NASiam.Core.Engine.Checkpoints;
using NASiam.Core.Engine.Optimization;
using NASiam.Core.Options;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NASiam.Core.Tests.Engine.Checkpoints;

public sealed class CheckpointStoreTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("nasiam-ckpt-").FullName;

    public void Dispose()
    {
        CheckpointStore.WrapStreamForTests = null;
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>A tiny model with weights, BN buffers, alphas and both optimizers, all seeded.</summary>
    sealed class Rig : IDisposable
    {
        public readonly Sequential Model;
        public readonly Parameter Alpha;
        public readonly ScheduledOptimizer Weights, Alphas;

        public Rig(int seed)
        {
            manual_seed(seed);
            Model = nn.Sequential(("fc", nn.Linear(4, 3)), ("bn", nn.BatchNorm1d(3)));
            Alpha = new Parameter(zeros(2, 7), requires_grad: true);
            Weights = OptimizerFactory.CreateWeightOptimizer([new("encoder", Model.parameters().ToList(), false)],
                new WeightOptimizerSettings(OptimizerKind.Sgd, 0.1, LrScaling.Absolute, 8, 0.9, 5e-4, LrSchedule.Cosine, 4, false));
            Alphas = OptimizerFactory.CreateAlphaOptimizer([Alpha], new SearchStageOptions());
        }

        public void Step(Tensor x)
        {
            using var sc = new ScalarScope();
            using var scope = NewDisposeScope();
            Weights.ZeroGrad(); Alphas.ZeroGrad();
            var loss = Model.forward(x).pow(sc[2]).mean() + (Alpha.softmax(1) * arange(sc[7]).to(float32)).sum();
            loss.backward();
            Weights.Step(); Alphas.Step();
        }

        public CheckpointContent Content() => new() { Model = Model, Alphas = [Alpha], WeightOptimizer = Weights.Optimizer, AlphaOptimizer = Alphas.Optimizer };

        public void Dispose() { Weights.Dispose(); Alphas.Dispose(); Model.Dispose(); Alpha.Dispose(); }
    }

    static CheckpointState State(int epoch) => new() { Stage = "search", Epoch = epoch, Step = epoch * 10L, OptionsJson = new RunOptions().ToJson(), DataState = new Dictionary<string, long> { ["alpha_cursor"] = 7 } };

    [Fact]
    public void Load_RestoresWeightsAlphasInPlaceAndOptimizerStates_SoTheNextStepMatches()
    {
        manual_seed(1);
        var x = randn(8, 4);
        var path = Path.Combine(_dir, "a.ckpt");
        using var original = new Rig(1);
        original.Step(x);
        CheckpointStore.Save(path, State(1), original.Content());

        using var restored = new Rig(2);
        var alphaBefore = restored.Alpha.Handle;
        var state = CheckpointStore.Load(path, restored.Content());

        Assert.Equal(1, state.Epoch);
        Assert.Equal(7, state.DataState["alpha_cursor"]);
        Assert.Equal(alphaBefore, restored.Alpha.Handle); // same tensor object: in place (D3)
        Assert.True(original.Alpha.allclose(restored.Alpha));
        // Momentum and Adam moments came back too: one more identical step stays identical.
        original.Step(x); restored.Step(x);
        Assert.True(original.Alpha.allclose(restored.Alpha, rtol: 0, atol: 1e-7));
        foreach (var (a, b) in original.Model.state_dict().Values.Zip(restored.Model.state_dict().Values))
            Assert.True(a.to(float64).allclose(b.to(float64), rtol: 0, atol: 1e-7));
    }

    sealed class FailingStream(Stream inner, long failAfter) : Stream
    {
        long _written;
        public override void Write(byte[] buffer, int offset, int count)
        {
            if (_written + count > failAfter) throw new IOException("simulated disk failure");
            inner.Write(buffer, offset, count);
            _written += count;
        }
        public override bool CanRead => false;
        public override bool CanSeek => inner.CanSeek;
        public override bool CanWrite => true;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => inner.Position = value; }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => inner.Seek(offset, origin);
        public override void SetLength(long value) => throw new NotSupportedException();
    }

    [Fact]
    public void Save_StreamsTensorsToTheFile_WithoutAManagedCopyOfTheCheckpoint()
    {
        // 4M-float (16 MiB) weights: buffering each section in a MemoryStream allocated about twice that
        // in managed arrays per save, which the GC then kept resident. Now only small buffers are allocated.
        using var model = nn.Sequential(("fc", nn.Linear(2048, 2048)));
        var path = Path.Combine(_dir, "big.ckpt");
        CheckpointStore.Save(path, State(1), new CheckpointContent { Model = model }); // warm-up (JIT, JSON)
        long before = GC.GetAllocatedBytesForCurrentThread();
        CheckpointStore.Save(path, State(2), new CheckpointContent { Model = model });
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(new FileInfo(path).Length > 16 << 20);
        Assert.InRange(allocated, 0, 1 << 20);
        // And the file reads back: the streamed sections' patched lengths are right.
        using var copy = nn.Sequential(("fc", nn.Linear(2048, 2048)));
        Assert.Equal(2, CheckpointStore.Load(path, new CheckpointContent { Model = copy }).Epoch);
        Assert.True(copy.state_dict()["fc.weight"].allclose(model.state_dict()["fc.weight"], rtol: 0, atol: 0));
    }

    [Fact]
    public void Save_LeavesLastGoodCheckpointIntact_WhenWriteFailsMidway()
    {
        var path = Path.Combine(_dir, "last.ckpt");
        using var rig = new Rig(3);
        CheckpointStore.Save(path, State(1), rig.Content());
        var goodBytes = File.ReadAllBytes(path);

        rig.Step(randn(8, 4));
        CheckpointStore.WrapStreamForTests = s => new FailingStream(s, goodBytes.Length / 2);
        Assert.Throws<IOException>(() => CheckpointStore.Save(path, State(2), rig.Content()));
        CheckpointStore.WrapStreamForTests = null;

        Assert.Equal(goodBytes, File.ReadAllBytes(path));
        Assert.Equal(1, CheckpointStore.ReadState(path).Epoch);
        Assert.Equal(["last.ckpt"], Directory.GetFiles(_dir).Select(Path.GetFileName));
    }

    [Fact]
    public void Save_KeepsMetricsWithoutAFiniteValue()
    {
        // A search resumed at an epoch boundary saves before its first step (loss NaN); a diverged loss can be ±Infinity.
        var path = Path.Combine(_dir, "nan.ckpt");
        using var rig = new Rig(5);
        var state = State(1) with { Metrics = new Dictionary<string, double> { ["search_final_loss"] = double.NaN, ["a"] = double.PositiveInfinity, ["b"] = -1.5 } };
        CheckpointStore.Save(path, state, rig.Content());
        var read = CheckpointStore.ReadState(path).Metrics;
        Assert.True(double.IsNaN(read["search_final_loss"]));
        Assert.Equal(double.PositiveInfinity, read["a"]);
        Assert.Equal(-1.5, read["b"]);
    }

    [Fact]
    public void Load_ThrowsInvalidData_WhenFileIsTruncated()
    {
        var path = Path.Combine(_dir, "t.ckpt");
        using var rig = new Rig(4);
        CheckpointStore.Save(path, State(1), rig.Content());
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length - 100)]);
        Assert.Throws<InvalidDataException>(() => CheckpointStore.Load(path, rig.Content()));
        Assert.False(CheckpointStore.IsValid(path));
    }

    [Fact]
    public void Load_ThrowsInvalidData_WhenFileIsNotACheckpoint()
    {
        var path = Path.Combine(_dir, "x.ckpt");
        File.WriteAllText(path, "hello, not a checkpoint");
        var e = Assert.Throws<InvalidDataException>(() => CheckpointStore.ReadState(path));
        Assert.Contains("not a NASiam checkpoint", e.Message);
    }

    [Fact]
    public void Load_RestoresExtraTensors_ForExactRngResume()
    {
        var path = Path.Combine(_dir, "rng.ckpt");
        using var g = new Generator(42);
        rand(3, generator: g).Dispose();
        CheckpointStore.Save(path, State(0), new CheckpointContent { Extra = new Dictionary<string, Tensor> { ["rng"] = g.get_state() } });
        var expected = rand(3, generator: g);

        var extra = new Dictionary<string, Tensor>();
        CheckpointStore.Load(path, new CheckpointContent { Extra = extra });
        using var g2 = new Generator(7);
        g2.set_state(extra["rng"]);
        Assert.True(expected.allclose(rand(3, generator: g2), rtol: 0, atol: 0));
    }

    // A flipped bit inside a section used to load silently: other weights, no error (only a truncation was caught).
    // Every section carries its checksum (format 2), checked before anything is loaded.
    [Fact]
    public void Load_ThrowsInvalidData_NamingTheSection_WhenABitFlipped_AndLoadsNothingOfIt()
    {
        var path = Path.Combine(_dir, "flip.ckpt");
        using var saved = new Rig(6);
        CheckpointStore.Save(path, State(1), saved.Content());
        var bytes = File.ReadAllBytes(path);
        int model = bytes.AsSpan().IndexOf((byte[])[5, .. "model"u8]) + 6 + sizeof(long);
        bytes[model + 100] ^= 0x10;
        File.WriteAllBytes(path, bytes);

        using var target = new Rig(7);
        using var before = target.Model.state_dict()["fc.weight"].clone();
        var e = Assert.Throws<InvalidDataException>(() => CheckpointStore.Load(path, target.Content()));
        Assert.Equal($"Checkpoint '{path}' is damaged: section 'model' does not match its checksum (the file changed after it was written: a disk or copy error).", e.Message);
        Assert.True(before.allclose(target.Model.state_dict()["fc.weight"], rtol: 0, atol: 0), "a damaged section reached the model");
        // The state alone still reads (a listing needs no weights); a full check finds the damage.
        Assert.Equal(1, CheckpointStore.ReadState(path).Epoch);
        Assert.Contains("section 'model'", Assert.Throws<InvalidDataException>(() => CheckpointStore.Verify(path)).Message);
        Assert.False(CheckpointStore.IsValid(path));
        // A section not asked for is not read: the alphas alone still load.
        var alphas = new List<Tensor>();
        CheckpointStore.Load(path, new CheckpointContent { AlphasOut = alphas });
        Assert.True(alphas.Single().allclose(saved.Alpha, rtol: 0, atol: 0));
    }

    [Fact]
    public void ReadState_ThrowsInvalidData_WhenTheStateChanged()
    {
        var path = Path.Combine(_dir, "state.ckpt");
        CheckpointStore.Save(path, State(3), new CheckpointContent());
        var bytes = File.ReadAllBytes(path);
        int step = bytes.AsSpan().IndexOf("\"step\":30"u8) + "\"step\":".Length;
        bytes[step] = (byte)'9'; // still valid JSON: step 90
        File.WriteAllBytes(path, bytes);
        Assert.Contains("is damaged: its state does not match its checksum", Assert.Throws<InvalidDataException>(() => CheckpointStore.ReadState(path)).Message);
    }

    // Checkpoints of format 1 (before checksums) in existing run folders still resume and evaluate.
    [Fact]
    public void Load_ReadsFormat1_WithoutChecksums()
    {
        var path = Path.Combine(_dir, "v1.ckpt");
        using var rng = randn(6);
        using (var w = new BinaryWriter(File.Create(path)))
        {
            w.Write("NASIAMCK"u8);
            w.Write(1);
            w.Write(System.Text.Json.JsonSerializer.Serialize(State(2), CheckpointState.Json));
            w.Write(1);
            w.Write("extra");
            long lengthAt = w.BaseStream.Position;
            w.Write(0L);
            w.Write(1);
            w.Write("rng");
            rng.Save(w);
            long end = w.BaseStream.Position;
            w.BaseStream.Position = lengthAt;
            w.Write(end - lengthAt - sizeof(long));
            w.BaseStream.Position = end;
            w.Write("NASIAMCK"u8);
        }
        var extra = new Dictionary<string, Tensor>();
        var state = CheckpointStore.Load(path, new CheckpointContent { Extra = extra });
        Assert.Equal((2, 1), (state.Epoch, state.FormatVersion)); // the header's version, whatever the state says
        Assert.True(rng.allclose(extra["rng"], rtol: 0, atol: 0));
        Assert.True(CheckpointStore.IsValid(path));
    }
}

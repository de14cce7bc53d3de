using NASiam.Core.Backbones;
using NASiam.Core.Engine.Numerics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NASiam.Core.Tests.Numerics;

/// <summary>
/// The kernel self-check end to end: its probes run in child processes of the test host (through
/// the startup-hook path, as the test host's Main does not call KernelProbe.TryRunAsChild).
/// Untimed (cheap rule) and with small batches to keep the suite short.
/// </summary>
public sealed class KernelSelfCheckTests : IDisposable
{
    readonly string _cache = Path.Combine(Path.GetTempPath(), "nasiam-kcheck-test-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_cache)) Directory.Delete(_cache, recursive: true);
    }

    KernelCheckOptions Options(string backbone, params KernelSetting[] candidates) => new()
    {
        Backbone = backbone, CifarStem = true, TimingPasses = 0, CacheDirectory = _cache,
        Candidates = candidates.Length == 0 ? null : candidates,
    };

    static readonly KernelSetting Nchw = KernelSetting.Parse("nchw"), NchwS1 = KernelSetting.Parse("nchw+s1x1"),
        Cl = KernelSetting.Parse("channels-last"), ClS1 = KernelSetting.Parse("channels-last+s1x1");

    /// <summary>Float32 under <paramref name="setting"/> vs float64 NCHW on one shape, in this process (only for settings a child has shown not to crash).</summary>
    static double InProcessError(ConvShape shape, KernelSetting setting)
    {
        var (y, dx, dw) = KernelProbe.CheckShape(shape, setting, batch: 2, seed: 7);
        return Math.Max(y, Math.Max(dx, dw));
    }

    // Channels-last can be wrong where every per-shape check passes (docs/kernel-faults.md fault 3), so the
    // automatic choice is among the NCHW settings only; a fault-injected NCHW leaves none rather than falling back to it.
    [Fact]
    public void DefaultCandidates_AreTheNchwSettingsOnly_SoChannelsLastIsNeverChosen()
    {
        var report = KernelSelfCheck.Run(Options("resnet-tiny") with { InjectWrong = ["nchw"] });
        Assert.Equal(new[] { "nchw", "nchw+s1x1" }, report.Candidates.Select(c => c.Setting.Name));
        Assert.Equal(NchwS1, report.Choice);
        var none = KernelSelfCheck.Run(Options("resnet-tiny") with { InjectWrong = ["nchw", "nchw+s1x1"] });
        Assert.Null(none.Choice);
        Assert.Throws<KernelCheckException>(() => none.RequireChoice());
    }

    [Fact]
    public void ResNet18_ChoosesASettingThatIsCorrectOnTheFaultyShape()
    {
        // Channels-last first: on the AVX-512 EPYC hosts it is wrong there, so the check must pass it over.
        var report = KernelSelfCheck.Run(Options("resnet18", Cl, Nchw));
        Assert.Equal(2, report.Candidates.Count);
        var choice = report.RequireChoice();
        var chosen = report.Candidates.Single(c => c.Setting == choice);
        Assert.Equal(CandidateStatus.Correct, chosen.Status);
        Assert.Equal(11, chosen.Shapes.Count);
        Assert.All(chosen.Shapes, s => Assert.True(s.MaxError <= 1e-4, $"{s.Use}: {s.MaxError}"));
        foreach (var c in report.Candidates.Where(c => c.Status == CandidateStatus.Wrong))
            Assert.Contains(c.Shapes, s => s.MaxError > 1e-4);
        // Independently of the child's word: the chosen setting on layer4.0.downsample (1x1 s2 256→512 @8x8,
        // wrong in channels-last on AVX-512 EPYC hosts) matches float64 here.
        var downsample = BackboneConvShapes.Layers("resnet18", true, 32).Single(l => l.Layer == "layer4.0.downsample.0").Shape;
        Assert.Equal(new ConvShape(256, 512, 1, 2, 0, 8, 8), downsample);
        Assert.True(InProcessError(downsample, choice) <= 1e-4);
        Assert.Contains("choice: " + choice.Name, string.Join("\n", report.Lines()));
    }

    [Fact]
    public void ResNet50_ChoosesASettingThatDoesNotCrash_AndIsCorrectOnTheShortcuts()
    {
        var report = KernelSelfCheck.Run(Options("resnet50", Nchw, NchwS1));
        var choice = report.RequireChoice();
        Assert.Equal(ConvLayout.Nchw, choice.Layout);
        foreach (var c in report.Candidates.Where(c => c.Status == CandidateStatus.Crashed))
        {
            Assert.NotNull(c.Signal);
            Assert.Contains("in 1x1", c.Detail); // the crash names the shape it died in
        }
        // In this process (the child showed it does not crash): the chosen setting on the three strided shortcuts.
        foreach (var use in BackboneConvShapes.Distinct("resnet50", true, 32).Where(u => u.Shape.IsStrided1x1))
            Assert.True(InProcessError(use.Shape, choice) <= 1e-4, use.ToString());
    }

    [Fact]
    public void EveryCandidateWrong_Refuses_WithAMessageNamingEachCandidate()
    {
        var report = KernelSelfCheck.Run(Options("resnet-tiny", Nchw, Cl) with { InjectWrong = ["*"] });
        Assert.Null(report.Choice);
        Assert.All(report.Candidates, c => Assert.Equal(CandidateStatus.Wrong, c.Status));
        var e = Assert.Throws<KernelCheckException>(() => report.RequireChoice());
        Assert.Contains("No convolution setting computes resnet-tiny", e.Message);
        Assert.Contains("nchw wrong: treated as wrong by fault injection", e.Message);
        Assert.Contains("channels-last wrong", e.Message);
        Assert.Contains("choice: none", string.Join("\n", report.Lines()));
    }

    [Fact]
    public void CrashingCandidate_IsMarkedCrashedWithItsSignal_AndTheNextIsChosen()
    {
        var report = KernelSelfCheck.Run(Options("resnet-tiny", Nchw, NchwS1) with { InjectCrash = ["nchw"] });
        var crashed = report.Candidates[0];
        Assert.Equal(CandidateStatus.Crashed, crashed.Status);
        Assert.Equal(8, crashed.Signal);
        Assert.StartsWith("SIGFPE in 3x3 s1 p1 3→16 @32x32 (conv1)", crashed.Detail);
        Assert.Empty(crashed.Shapes);
        Assert.Equal(CandidateStatus.Correct, report.Candidates[1].Status);
        Assert.Equal(NchwS1, report.Choice);
    }

    [Fact]
    public void Cache_IsReused_AndKeyedByHostBackboneAndOptions()
    {
        var o = Options("resnet-tiny", Nchw);
        KernelSelfCheck.ClearMemo();
        var first = KernelSelfCheck.Run(o);
        Assert.False(first.FromCache);
        Assert.NotNull(first.CachePath);
        Assert.True(File.Exists(first.CachePath));
        Assert.StartsWith(Path.Combine(_cache, "kernel-check-resnet-tiny-cifar-"), first.CachePath);
        var text = File.ReadAllText(first.CachePath!);
        Assert.Contains(first.Host.CpuModel, text);
        Assert.Contains(first.Host.LibTorchVersion, text);

        KernelSelfCheck.ClearMemo();
        var second = KernelSelfCheck.Run(o);
        Assert.True(second.FromCache);
        Assert.Equal(first.Key, second.Key);
        Assert.Equal(first.Choice, second.Choice);
        Assert.Equal(first.CheckedAt, second.CheckedAt); // not probed again

        // Other options, another stem or another backbone: other keys, other files.
        var batch3 = KernelSelfCheck.Run(o with { Batch = 3 });
        Assert.False(batch3.FromCache);
        Assert.NotEqual(first.Key, batch3.Key);
        Assert.NotEqual(first.CachePath, batch3.CachePath);
        Assert.Equal(2, Directory.GetFiles(_cache, "kernel-check-*.json").Length);

        // A file whose key does not match (another host, libtorch...) is not trusted.
        File.WriteAllText(first.CachePath!, text.Replace(first.Key, new string('0', 64)));
        KernelSelfCheck.ClearMemo();
        var third = KernelSelfCheck.Run(o);
        Assert.False(third.FromCache);
        Assert.Equal(first.Key, third.Key);
        Assert.Contains(first.Key, File.ReadAllText(first.CachePath!));
    }

    [Fact]
    public void FaultsVariable_InjectsCrashesAndWrongResults_AndRejectsUnknownNames()
    {
        var saved = Environment.GetEnvironmentVariable(KernelSelfCheck.FaultsVariable);
        try
        {
            Environment.SetEnvironmentVariable(KernelSelfCheck.FaultsVariable, "crash:nchw, wrong:channels-last");
            var report = KernelSelfCheck.Run(Options("resnet-tiny", Nchw, Cl, NchwS1));
            Assert.Equal(CandidateStatus.Crashed, report.Candidates[0].Status);
            Assert.Equal(CandidateStatus.Wrong, report.Candidates[1].Status);
            Assert.Equal(CandidateStatus.Correct, report.Candidates[2].Status);
            Assert.Equal(NchwS1, report.Choice);

            Environment.SetEnvironmentVariable(KernelSelfCheck.FaultsVariable, "crash:nhwc");
            var e = Assert.Throws<ArgumentException>(() => KernelSelfCheck.Run(Options("resnet-tiny", Nchw)));
            Assert.Contains("Unknown convolution setting 'nhwc'", e.Message);
        }
        finally
        {
            Environment.SetEnvironmentVariable(KernelSelfCheck.FaultsVariable, saved);
        }
    }

    [Theory]
    [InlineData("resnet-tiny", true, 32)]
    [InlineData("resnet18", true, 32)]
    [InlineData("resnet50", true, 32)]
    [InlineData("resnet50", false, 224)]
    public void ConvShapes_MatchTheBackbonesConvModules(string backbone, bool cifarStem, int size)
    {
        using var trunk = BackboneFactory.Create(backbone, cifarStem);
        var convs = trunk.named_modules().Where(m => m.module is Conv2d).ToDictionary(m => m.name, m => (Conv2d)m.module);
        var layers = BackboneConvShapes.Layers(backbone, cifarStem, size);
        Assert.Equal(convs.Keys.Order(), layers.Select(l => l.Layer).Order());
        foreach (var (name, shape) in layers)
        {
            var conv = convs[name];
            Assert.Equal(new long[] { shape.OutChannels, shape.InChannels, shape.Kernel, shape.Kernel }, conv.weight!.shape);
            Assert.Equal(shape.Stride, conv.stride[0]);
            Assert.Equal(shape.Padding, conv.padding![0]);
        }
        // Spatial sizes: the last stage's shortcut sees the stride-16 (CIFAR: stride-4) feature map.
        var ds = layers.Single(l => l.Layer == "layer4.0.downsample.0").Shape;
        Assert.Equal(cifarStem ? size / 4 : size / 16, ds.Height);
    }

    // BackboneConvShapes.Macs against the convolutions a forward pass actually runs (forward hooks read each output
    // shape; the strided-1x1 workaround is off so every convolution goes through its module).
    [Theory]
    [InlineData("resnet-tiny", true, 32)]
    [InlineData("resnet18", true, 32)]
    [InlineData("resnet18", false, 64)]
    [InlineData("resnet50", true, 32)]
    [InlineData("resnet50", false, 72)]
    public void ConvMacs_EqualTheConvolutionsOfAForwardPass(string name, bool cifarStem, int size)
    {
        using var net = BackboneFactory.Create(name, cifarStem);
        net.eval();
        long counted = 0, first = -1;
        // Each conv is followed by its BN (torchvision's order, kept by modules()); the trunk calls its
        // convs through ConvCall, which runs no module hooks, so the hook sits on the BN, whose output
        // has the conv's output shape.
        var convs = net.modules().OfType<Conv2d>().ToList();
        var norms = net.modules().OfType<ScalarSafeBatchNorm2d>().ToList();
        Assert.Equal(convs.Count, norms.Count);
        var hooks = convs.Zip(norms).Select(pair => pair.Second.register_forward_hook((m, x, y) =>
        {
            var conv = pair.First;
            long macs = y.shape[1] * y.shape[2] * y.shape[3] * conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1];
            if (first < 0) first = macs;
            counted += macs;
            return y;
        })).ToList();
        using (no_grad())
        using (var y = net.call(randn(1, 3, size, size))) { }
        foreach (var h in hooks) h.remove();
        var (total, stem) = BackboneConvShapes.Macs(name, cifarStem, size);
        Assert.Equal(counted, total);
        Assert.Equal(first, stem);
    }

    // The published figures (torchvision's model table, He et al. 2016 Table 1), less the classifier's 0.5 M / 2 M.
    [Theory]
    [InlineData("resnet18", false, 224, 1.814e9)]
    [InlineData("resnet50", false, 224, 4.087e9)]
    public void ConvMacs_MatchThePublishedCounts(string name, bool cifarStem, int size, double expected)
    {
        var (total, _) = BackboneConvShapes.Macs(name, cifarStem, size);
        Assert.InRange(total, expected * 0.998, expected * 1.002);
    }

    [Fact]
    public void Distinct_MergesLayersOfTheSameShape()
    {
        var uses = BackboneConvShapes.Distinct("resnet50", true, 32);
        Assert.Equal(23, uses.Count);
        Assert.Equal(BackboneConvShapes.Layers("resnet50", true, 32).Count, uses.Sum(u => u.Layers.Count));
        var u = uses.Single(x => x.Shape == new ConvShape(1024, 256, 1, 1, 0, 8, 8));
        Assert.Equal(["layer3.1.conv1", "layer3.2.conv1", "layer3.3.conv1", "layer3.4.conv1", "layer3.5.conv1"], u.Layers);
    }

    [Fact]
    public void Settings_ParseTheirNames_AndRejectOthers()
    {
        Assert.Equal(new[] { "nchw", "nchw+s1x1", "channels-last", "channels-last+s1x1" }, KernelSetting.All.Select(s => s.Name));
        Assert.All(KernelSetting.All, s => Assert.Equal(s, KernelSetting.Parse(s.Name.ToUpperInvariant())));
        var e = Assert.Throws<ArgumentException>(() => KernelSetting.Parse("nhwc"));
        Assert.Contains("Valid settings: nchw, nchw+s1x1", e.Message);
    }
}

/// <summary>The engine's model builder applies the self-check's CPU choice (it used to force channels-last).</summary>
public class ModelBuilderKernelChoiceTests
{
    [Fact]
    public void Create_OnCpu_AppliesTheSelfChecksChoiceToEveryTrunk()
    {
        // Default options and cache, as a run: the first test run on a host pays the check, later ones read the cache.
        var options = NASiam.Core.Options.RunPresets.ForFramework(Framework.MoCo) with { Backbone = "resnet-tiny" };
        var notices = new List<string>();
        var saved = KernelSelfCheck.Notice;
        KernelSelfCheck.Notice = notices.Add;
        try
        {
            KernelSelfCheck.ClearMemo();
            using var model = NASiam.Core.Engine.Runs.ModelBuilder.Create(options, false, null, CPU, cifarStem: true, seed: 1);
            var choice = KernelSelfCheck.ChooseForCpu("resnet-tiny", cifarStem: true);
            var trunks = model.modules().OfType<ResNet>().ToList();
            Assert.Equal(2, trunks.Count); // MoCo: query and key encoders
            Assert.All(trunks, t =>
            {
                Assert.Equal(choice.Layout == ConvLayout.ChannelsLast, t.IsChannelsLast);
                Assert.Equal(choice.Strided1x1Workaround, t.UsesStrided1x1Workaround);
            });
            Assert.Contains(notices, n => n.Contains($"convolution setting for resnet-tiny (CIFAR stem, checked at 32 px) on the CPU: {choice.Name}"));
        }
        finally
        {
            KernelSelfCheck.Notice = saved;
        }
    }
}

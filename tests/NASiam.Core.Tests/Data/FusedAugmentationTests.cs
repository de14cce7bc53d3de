using System.Text.Json;
using NASiam.Core.Data;
using NASiam.Core.Data.Augmentation;
using NASiam.Core.Data.Streaming;
using NASiam.Core.Tests.Parity;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace NASiam.Core.Tests.Data;

/// <summary>
/// A [Fact] that needs Python with torchvision (Debian's python3-torchvision, which .ci/run installs).
/// Under CI (CI=true) it always runs, so a missing torchvision FAILS the test; elsewhere it is skipped
/// with the reason when torchvision cannot be imported.
/// </summary>
public sealed class TorchvisionFactAttribute : FactAttribute
{
    public TorchvisionFactAttribute()
    {
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase)) return;
        if (FusedAugmentationTests.TorchvisionUnavailableReason is { } reason)
            Skip = $"torchvision parity needs python3-torchvision (apt-get install python3-torchvision; .ci/run does): {reason}";
    }
}

/// <summary>
/// The per-image ImageNet-recipe kernel that CPU runs execute in the decode workers
/// (<see cref="FusedAugmentation"/>) against the batched tensor operators (<see cref="ColorOps"/> via
/// <see cref="TwoViewAugmenter.Apply"/>, what GPU runs execute) and against torchvision.transforms.functional.
/// Tolerance 2e-5 in normalised units (≈ 4.5e-6 on the [0, 1] scale, 1/870 of one 8-bit grey level):
/// both sides run the same float32 formulas in the same order; what differs is summation order (the
/// contrast mean, the blur taps), libtorch's vectorised exp against MathF.Exp for the blur kernel, and
/// torchvision's 2-D blur kernel against our separable one — each a few float32 ulps of values in
/// [0, 1] (worst seen: 4.2e-6 normalised, against both the batched operators and torchvision). A wrong
/// formula, factor, order or kernel size moves results by 1e-3 or more. torchvision's tensor
/// rgb_to_grayscale weighs red 0.2989 where PIL's convert("L") (the reference runs the recipe on PIL
/// images) and we use 0.299; tools/parity/augment_check.py checks against both (5e-4 for the shipped weight).
/// </summary>
public class FusedAugmentationTests(ITestOutputHelper output)
{
    const double Tolerance = 2e-5;
    static readonly AugmentationSpec Spec = AugmentationSpec.For(AugmentationRecipe.ImageNet);
    static readonly ChannelNormalization Norm = ChannelNormalization.ImageNet;

    /// <summary>A known S×S image (HWC): colour gradients, saturated primaries, a flat grey patch (zero chroma) and pure black/white.</summary>
    static byte[] KnownImage(int size)
    {
        var rgb = new byte[size * size * 3];
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                (byte R, byte G, byte B) c = (x < size / 5, y < size / 5) switch
                {
                    (true, true) => (128, 128, 128),
                    (true, false) => y % 3 == 0 ? ((byte)255, (byte)0, (byte)0) : y % 3 == 1 ? ((byte)0, (byte)255, (byte)0) : ((byte)0, (byte)0, (byte)255),
                    (false, true) => x % 2 == 0 ? ((byte)0, (byte)0, (byte)0) : ((byte)255, (byte)255, (byte)255),
                    _ => ((byte)(255 * x / (size - 1)), (byte)(255 * y / (size - 1)), (byte)((x * 37 + y * 91) % 256)),
                };
                int i = 3 * (y * size + x);
                (rgb[i], rgb[i + 1], rgb[i + 2]) = (c.R, c.G, c.B);
            }
        return rgb;
    }

    static ushort Pack(params int[] order) => (ushort)(order[0] | order[1] << 2 | order[2] << 4 | order[3] << 6);

    /// <summary>Named draws covering every operator alone, all 24 jitter orders with drawn factors, gray, three blurs, flip and all at once.</summary>
    static List<(string Name, ViewDraw Draw)> Cases()
    {
        var id = ViewDraw.Identity;
        var list = new List<(string, ViewDraw)>
        {
            ("identity", id),
            ("brightness 1.35", id with { Jitter = true, Brightness = 1.35f }),
            ("brightness 0.62", id with { Jitter = true, Brightness = 0.62f }),
            ("contrast 0.65", id with { Jitter = true, Contrast = 0.65f }),
            ("contrast 1.38", id with { Jitter = true, Contrast = 1.38f }),
            ("saturation 1.4", id with { Jitter = true, Saturation = 1.4f }),
            ("saturation 0.6", id with { Jitter = true, Saturation = 0.6f }),
            ("hue +0.093", id with { Jitter = true, Hue = 0.093f }),
            ("hue -0.071", id with { Jitter = true, Hue = -0.071f }),
            ("gray", id with { Gray = true }),
            ("blur 0.1", id with { BlurSigma = 0.1f }),
            ("blur 0.77", id with { BlurSigma = 0.77f }),
            ("blur 2.0", id with { BlurSigma = 2.0f }),
            ("flip", id with { Flip = true }),
        };
        ulong state = 12345;
        int n = 0;
        foreach (var perm in Permutations([0, 1, 2, 3]))
        {
            var d = ViewDraw.Draw(ref state);
            list.Add(($"order {string.Join("", perm)}", d with { Jitter = true, Order = Pack(perm), Gray = false, BlurSigma = 0, Flip = n++ % 2 == 1 }));
        }
        list.Add(("all: jitter 3120, gray, blur 1.3, flip", new ViewDraw(true, 1.21f, 0.71f, 1.33f, -0.05f, Pack(3, 1, 2, 0), true, 1.3f, true)));
        list.Add(("all: jitter 2031, blur 1.9", new ViewDraw(true, 0.7f, 1.3f, 0.65f, 0.09f, Pack(2, 0, 3, 1), false, 1.9f, false)));
        return list;
    }

    static IEnumerable<int[]> Permutations(int[] items) => items.Length <= 1 ? [items]
        : items.SelectMany((x, i) => Permutations(items.Where((_, j) => j != i).ToArray()).Select(rest => new[] { x }.Concat(rest).ToArray()));

    static float[] Fused(byte[] rgb, int size, ViewDraw draw)
    {
        var result = new float[3 * size * size];
        FusedAugmentation.Apply(rgb, size, draw, Spec, Norm, result);
        return result;
    }

    [Theory]
    [InlineData(45)]   // tails of every vector loop (45² is not a multiple of 8 or 16)
    [InlineData(64)]
    public void Fused_EqualsTheBatchedOperators_ForEveryCase(int size)
    {
        var rgb = KnownImage(size);
        var cases = Cases();
        using var scope = NewDisposeScope();
        // The same image once per case, as uint8 [B, 3, S, S] for the batched path.
        var one = tensor(rgb, new long[] { size, size, 3 }).permute(2, 0, 1);
        var batch = one.unsqueeze(0).expand(cases.Count, -1, -1, -1).contiguous();
        var augmenter = new TwoViewAugmenter(AugmentationRecipe.ImageNet, Norm, CPU, size);
        using var p = ViewDraw.ToParameters(cases.Select(c => c.Draw).ToArray(), Spec, size);
        var batched = augmenter.Apply(batch, p, cropped: true);
        double worst = 0;
        for (int i = 0; i < cases.Count; i++)
        {
            var ours = tensor(Fused(rgb, size, cases[i].Draw), new long[] { 3, size, size });
            var err = (ours - batched[i]).abs().max().item<float>();
            worst = Math.Max(worst, err);
            Assert.True(err <= Tolerance, $"{cases[i].Name}: fused and batched differ by {err:E2} (> {Tolerance})");
        }
        output.WriteLine($"{cases.Count} cases at {size} px: worst |fused - batched| {worst:E2}");
        // Not vacuous: every case but identity changes the image.
        var identity = tensor(Fused(rgb, size, ViewDraw.Identity), new long[] { 3, size, size });
        for (int i = 1; i < cases.Count; i++)
            if (cases[i].Draw.BlurSigma is not 0.1f)   // sigma 0.1 px is a no-op in torchvision too (outer taps e^-50)
                Assert.True((batched[i] - identity).abs().max().item<float>() > 0.01, $"{cases[i].Name} left the image unchanged");
    }

    [Fact]
    public void Fused_BlursEachImageWithItsOwnKernelSize_AsTheBatchDoes()
    {
        // Sigma 0.9 (kernel 7) batched beside sigma 2 (kernel 13) must equal its own single-image blur, as
        // torchvision's gaussian_blur(kernel 7): with the batch's 13 taps it would move by 9.5e-5 on the
        // image's alternating black/white columns (torchvision, kernel 7 vs 13), about 5x the tolerance.
        const int size = 40;
        var rgb = KnownImage(size);
        var draws = new[] { ViewDraw.Identity with { BlurSigma = 0.9f }, ViewDraw.Identity with { BlurSigma = 2f } };
        Assert.Equal(3, FusedAugmentation.BlurRadius(0.9f, size));
        Assert.Equal(6, FusedAugmentation.BlurRadius(2f, size));
        using var scope = NewDisposeScope();
        var image = tensor(rgb, new long[] { size, size, 3 }).permute(2, 0, 1).unsqueeze(0);
        var augmenter = new TwoViewAugmenter(AugmentationRecipe.ImageNet, Norm, CPU, size);
        using var pair = ViewDraw.ToParameters(draws, Spec, size);
        using var single = ViewDraw.ToParameters(draws[..1], Spec, size);
        var inPair = augmenter.Apply(image.expand(2, -1, -1, -1).contiguous(), pair, cropped: true)[0];
        var alone = augmenter.Apply(image.contiguous(), single, cropped: true)[0];
        var fused = tensor(Fused(rgb, size, draws[0]), new long[] { 3, size, size });
        Assert.True((inPair - alone).abs().max().item<float>() <= Tolerance, "the batch's wider kernel changed a narrower image's blur");
        Assert.True((fused - alone).abs().max().item<float>() <= Tolerance);
    }

    [Fact]
    public void Draw_FollowsTheRecipeRates_AndDrawsEveryJitterOrder()
    {
        ulong state = 7;
        const int n = 40_000;
        int jitter = 0, gray = 0, blur = 0, flip = 0;
        var orders = new HashSet<ushort>();
        for (int i = 0; i < n; i++)
        {
            var d = ViewDraw.Draw(ref state);
            jitter += d.Jitter ? 1 : 0; gray += d.Gray ? 1 : 0; blur += d.BlurSigma > 0 ? 1 : 0; flip += d.Flip ? 1 : 0;
            orders.Add(d.Order);
            Assert.InRange(d.Brightness, 0.6f, 1.4f); Assert.InRange(d.Contrast, 0.6f, 1.4f); Assert.InRange(d.Saturation, 0.6f, 1.4f);
            Assert.InRange(d.Hue, -0.1f, 0.1f);
            if (d.BlurSigma > 0) Assert.InRange(d.BlurSigma, 0.1f, 2f);
            Assert.Equal(new[] { 0, 1, 2, 3 }, Enumerable.Range(0, 4).Select(d.Op).Order());
        }
        // 4.5 standard deviations of a binomial proportion at n = 40,000 is < 0.01.
        Assert.InRange(jitter / (double)n, 0.79, 0.81);
        Assert.InRange(gray / (double)n, 0.19, 0.21);
        Assert.InRange(blur / (double)n, 0.49, 0.51);
        Assert.InRange(flip / (double)n, 0.49, 0.51);
        Assert.Equal(24, orders.Count);
        // Masked by a recipe: linear evaluation keeps only the flip.
        var lin = ViewDraw.Draw(ref state).For(AugmentationSpec.For(AugmentationRecipe.LinearEvalImageNet));
        Assert.True(lin is { Jitter: false, Gray: false, BlurSigma: 0, Brightness: 1, Hue: 0 });
    }

    [Fact]
    public void StreamedViews_AugmentedInTheWorkers_EqualTheBatchedPath_OnAnyWorkerCount()
    {
        using var dir = new TempDir();
        for (int i = 0; i < 6; i++)
        {
            Directory.CreateDirectory(Path.Combine(dir.Path, "train", $"c{i % 2}"));
            Directory.CreateDirectory(Path.Combine(dir.Path, "val", $"c{i % 2}"));
            var png = TestImages.Png(90 + 7 * i, 70, (x, y) => ((byte)(x * 3 + i * 20), (byte)(y * 3), (byte)((x * y + i * 50) % 256)));
            File.WriteAllBytes(Path.Combine(dir.Path, "train", $"c{i % 2}", $"{i}.png"), png);
            File.WriteAllBytes(Path.Combine(dir.Path, "val", $"c{i % 2}", $"{i}.png"), png);
        }
        const int size = 32;
        using var one = (ImageFolderDataSet)DataSets.Open("folder", dir.Path, new DataSetOpenOptions { ImageSize = size, Workers = 1 });
        using var three = (ImageFolderDataSet)DataSets.Open("folder", dir.Path, new DataSetOpenOptions { ImageSize = size, Workers = 3 });
        var cpu = new TwoViewAugmenter(AugmentationRecipe.ImageNet, Norm, CPU, size);
        long[] indices = [5, 0, 3, 1, 4, 2];
        using var g = new Generator(1);
        using var scope = NewDisposeScope();
        for (ulong key = 0; key < 4; key++)
        {
            using var fused1 = one.ReadTrainViews(indices, cpu, key);
            using var fused3 = three.ReadTrainViews(indices, cpu, key);
            using var crops = one.ReadTrainViews(indices, cpu.CropScale.Min, cpu.CropScale.Max, key);
            Assert.Equal(AugmentationRecipe.ImageNet, fused1.AugmentedWith);
            Assert.Equal(ScalarType.Float32, fused1.Images.dtype);
            var (a1, a2) = cpu.TwoViews(fused1, g);
            var (b1, b2) = cpu.TwoViews(fused3, g);
            Assert.True((a1 == b1).all().item<bool>() && (a2 == b2).all().item<bool>(), "the worker count changed a view");
            // The batched operators from the same crops and the same draws: what a GPU run computes.
            var (c1, c2) = cpu.TwoViews(crops, g);
            Assert.True((a1 - c1).abs().max().item<float>() <= Tolerance, $"key {key}: view 1 differs from the batched path");
            Assert.True((a2 - c2).abs().max().item<float>() <= Tolerance, $"key {key}: view 2 differs from the batched path");
            Assert.True((a1 - a2).abs().max().item<float>() > 0.1, "the two views are independent");
        }
        // A batch augmented with one recipe is not passed off as another.
        using var fused = one.ReadTrainViews(indices, cpu, 9);
        var linear = new TwoViewAugmenter(AugmentationRecipe.LinearEvalImageNet, Norm, CPU, size);
        Assert.Throws<ArgumentException>(() => linear.View(fused, g));
    }

    [TorchvisionFact]
    public void Fused_MatchesTorchvisionFunctional_OnAKnownImage()
    {
        if (TorchvisionUnavailableReason is { } reason) Assert.Fail($"torchvision parity needs python3-torchvision (.ci/run installs it): {reason}");
        const int size = 45;
        using var dir = new TempDir();
        var rgb = KnownImage(size);
        File.WriteAllBytes(Path.Combine(dir.Path, "input.u8"), rgb);
        var cases = Cases().Select((c, i) => (Name: $"{i:00}", c.Name, c.Draw)).ToList();
        foreach (var c in cases)
        {
            var bytes = new byte[3 * size * size * 4];
            Buffer.BlockCopy(Fused(rgb, size, c.Draw), 0, bytes, 0, bytes.Length);
            File.WriteAllBytes(Path.Combine(dir.Path, c.Item1 + ".f32"), bytes);
        }
        var meta = new
        {
            size,
            mean = Norm.Mean,
            std = Norm.Std,
            cases = cases.Select(c => new
            {
                name = c.Item1, description = c.Item2, jitter = c.Draw.Jitter, order = Enumerable.Range(0, 4).Select(c.Draw.Op).ToArray(),
                brightness = (double)c.Draw.Brightness, contrast = (double)c.Draw.Contrast, saturation = (double)c.Draw.Saturation, hue = (double)c.Draw.Hue,
                gray = c.Draw.Gray, sigma = (double)c.Draw.BlurSigma, radius = c.Draw.BlurSigma > 0 ? FusedAugmentation.BlurRadius(c.Draw.BlurSigma, size) : 0,
                flip = c.Draw.Flip,
            }),
        };
        File.WriteAllText(Path.Combine(dir.Path, "cases.json"), JsonSerializer.Serialize(meta));
        var script = Path.Combine(ParityProcess.RepositoryRoot(), "tools", "parity", "augment_check.py");
        var env = new Dictionary<string, string> { ["OMP_WAIT_POLICY"] = "PASSIVE", ["OMP_NUM_THREADS"] = "1" };
        var py = ParityProcess.Run(ParityProcess.Python(), [script, dir.Path, "--tolerance", Tolerance.ToString("R", System.Globalization.CultureInfo.InvariantCulture)], env, TimeSpan.FromMinutes(5));
        output.WriteLine(string.Join("\n", cases.Select(c => $"{c.Item1}: {c.Item2}")));
        output.WriteLine(py.Output);
        Assert.True(py.ExitCode == 0, $"torchvision parity failed ({py.Describe()}):\n{py.Output}");
    }

    static readonly Lazy<string?> TorchvisionProbe = new(() =>
    {
        try
        {
            var r = ParityProcess.Run(ParityProcess.Python(), ["-c", "import torch, torchvision, numpy"], new Dictionary<string, string>(), TimeSpan.FromMinutes(2));
            return r.ExitCode == 0 ? null : $"{ParityProcess.Python()} cannot import torchvision ({r.Describe()}): {r.Output.Trim()}";
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return $"{ParityProcess.Python()} could not be started: {e.Message}";
        }
    });

    /// <summary>Null when Python with torch, torchvision and numpy is usable, else why not.</summary>
    public static string? TorchvisionUnavailableReason => TorchvisionProbe.Value;
}

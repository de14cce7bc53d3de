#:package TorchSharp@0.107.0
#:package libtorch-cpu-linux-x64@2.10.0
#:property ManagePackageVersionsCentrally=false
// Minimal repro of two oneDNN convolution faults in libtorch 2.10 (TorchSharp 0.107) on AMD EPYC
// (Zen 5, AVX-512 incl. avx512_bf16, no AMX). See ../kernel-faults.md.
//
//   dotnet run repro.cs                 all cases; each crash case runs in a child process
//   dotnet run repro.cs -- conv LAYOUT N CIN COUT K STRIDE PAD H [fwd|bwd]
//                                       one float32 conv (LAYOUT = nchw | cl) forward, or forward + backward,
//                                       compared with float64 NCHW (libtorch's non-oneDNN path)
//
// Set ONEDNN_VERBOSE=1 to see the oneDNN version, the ISA it dispatches to and the kernel of each call.
using System.Diagnostics;
using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

var inv = CultureInfo.InvariantCulture;
if (args.Length >= 9 && args[0] == "conv")
{
    var n = args[1..9].Skip(1).Select(a => int.Parse(a, inv)).ToArray();
    bool backward = args.Length < 10 || args[9] == "bwd";
    return Conv(args[1] == "cl", n[0], n[1], n[2], n[3], n[4], n[5], n[6], backward);
}

Console.WriteLine($"libtorch {torch.__version__}, threads {get_num_threads()}, {Environment.ProcessorCount} CPUs");
// 1) Silently wrong: ResNet-18 layer4.0.downsample, channels-last input, NCHW weight.
int rc = 0;
Console.WriteLine("\n[1] wrong result: 1x1 stride-2 conv 256->512 on 8x8, channels-last (expect err ~1e-6)");
rc |= Conv(true, 8, 256, 512, 1, 2, 0, 8, backward: false);
Console.WriteLine("    same conv, NCHW:");
rc |= Conv(false, 8, 256, 512, 1, 2, 0, 8, backward: false);
// 2) SIGFPE: ResNet-50 (CIFAR stem, 32x32 input) stride-2 shortcuts, forward + backward.
(string Name, string[] Args)[] crashes =
[
    ("[2a] NCHW 1x1 s2 512->1024 on 16x16, fwd+bwd (ResNet-50 layer3.0.downsample)", ["conv", "nchw", "8", "512", "1024", "1", "2", "0", "16", "bwd"]),
    ("[2b] NCHW 1x1 s2 1024->2048 on 8x8, fwd+bwd (ResNet-50 layer4.0.downsample)", ["conv", "nchw", "8", "1024", "2048", "1", "2", "0", "8", "bwd"]),
    ("[2c] channels-last 1x1 s1 256->1024 on 8x8, fwd+bwd (ResNet-50 layer3.x.conv3)", ["conv", "cl", "8", "256", "1024", "1", "1", "0", "8", "bwd"]),
];
foreach (var (name, childArgs) in crashes)
{
    Console.WriteLine($"\n{name}");
    var psi = new ProcessStartInfo(Environment.ProcessPath!) { UseShellExecute = false };
    foreach (var a in childArgs) psi.ArgumentList.Add(a);
    using var p = Process.Start(psi)!;
    p.WaitForExit();
    // .NET reports a child killed by signal S as exit code 128 + S (SIGFPE = 8 -> 136).
    Console.WriteLine(p.ExitCode > 128 ? $"    child killed by signal {p.ExitCode - 128} (exit {p.ExitCode})" : $"    child exit {p.ExitCode}");
}
return rc;

static int Conv(bool channelsLast, int n, int cin, int cout, int k, int stride, int pad, int h, bool backward)
{
    manual_seed(0);
    var x = randn(n, cin, h, h);
    var w = randn(cout, cin, k, k) * Math.Sqrt(2.0 / (cout * k * k)); // kaiming fan_out, as torchvision
    var gy = randn(n, cout, (h + 2 * pad - k) / stride + 1, (h + 2 * pad - k) / stride + 1);

    // Trusted reference: float64, NCHW (libtorch does not use oneDNN for double).
    var xr = x.to(float64).requires_grad_(); var wr = w.to(float64).requires_grad_();
    var yr = nn.functional.conv2d(xr, wr, strides: [stride, stride], padding: [pad, pad]);
    if (backward) yr.backward([gy.to(float64)]);

    var xf = channelsLast ? empty_strided(x.shape, [cin * h * h, 1, h * cin, cin], float32).copy_(x) : x.clone();
    xf.requires_grad_(); var wf = w.clone().requires_grad_();
    var yf = nn.functional.conv2d(xf, wf, strides: [stride, stride], padding: [pad, pad]);
    if (backward) yf.backward([gy]);

    int bad = 0;
    bad |= Report("y ", yf, yr);
    if (backward) { bad |= Report("dx", xf.grad!, xr.grad!); bad |= Report("dw", wf.grad!, wr.grad!); }
    return bad;

    static int Report(string what, Tensor got, Tensor want)
    {
        var err = (got.to(float64) - want).abs();
        double maxErr = err.max().item<double>(), scale = want.abs().max().item<double>();
        var wrongChannels = what == "y " ? (err.amax([0, 2, 3]) > 1e-3 * scale).nonzero().flatten() : empty(0, int64);
        var chans = wrongChannels.numel() == 0 ? "" :
            $", wrong output channels {wrongChannels[0].item<long>()}..{wrongChannels[-1].item<long>()} ({wrongChannels.numel()})";
        bool ok = maxErr <= 1e-4 * Math.Max(1, scale);
        Console.WriteLine(FormattableString.Invariant($"    {what} max|err| {maxErr:0.###e+0} (max|ref| {scale:0.###}){chans} {(ok ? "ok" : "WRONG")}"));
        return ok ? 0 : 1;
    }
}

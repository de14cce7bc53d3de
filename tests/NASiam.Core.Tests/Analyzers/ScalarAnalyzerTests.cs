using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using NASiam.Analyzers;
using NASiam.Core.Engine;
using TorchSharp;

namespace NASiam.Core.Tests.Analyzers;

/// <summary>NASIAM001 (src/NASiam.Analyzers) and the ScalarScope that replaces what it forbids.</summary>
public class ScalarAnalyzerTests
{
    static Task<IReadOnlyList<(int Line, string Message)>> Analyze(string source) => Analyze(source, new ImplicitScalarAnalyzer(), ImplicitScalarAnalyzer.Id);

    static async Task<IReadOnlyList<(int Line, string Message)>> Analyze(string source, DiagnosticAnalyzer analyzer, string id)
    {
        var platform = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
        var references = platform.Append(typeof(Scalar).Assembly.Location).Append(typeof(ScalarScope).Assembly.Location)
            .Select(p => MetadataReference.CreateFromFile(p));
        var compilation = CSharpCompilation.Create("Snippet", [CSharpSyntaxTree.ParseText(source)], references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.True(errors.Count == 0, string.Join("\n", errors));
        var found = await compilation.WithAnalyzers([analyzer]).GetAnalyzerDiagnosticsAsync();
        return found.Where(d => d.Id == id)
            .Select(d => (d.Location.GetLineSpan().StartLinePosition.Line + 1, d.GetMessage()))
            .OrderBy(d => d.Item1).ToList();
    }

    [Fact]
    public async Task FlagsEveryNumberTurnedIntoAScalarAtTheCall()
    {
        var found = await Analyze("""
            using TorchSharp;
            using static TorchSharp.torch;
            class C
            {
                Tensor Operator(Tensor t) => t * 0.5;
                Tensor LeftOperand(Tensor t) => 2.0 + t;
                Tensor Arguments(Tensor t) => t.clamp(0, 1);
                Tensor Cast(Tensor t) => t.mul((Scalar)3);
                void Compound(Tensor t) { t -= 1; }
            }
            """);
        Assert.Equal([5, 6, 7, 7, 8, 9], found.Select(f => f.Line));
        Assert.Contains("'2.0'", found[1].Message);
        Assert.Contains("'0' (int)", found[2].Message);
    }

    [Fact]
    public async Task AcceptsScopedAndStaticScalars()
    {
        var found = await Analyze("""
            using NASiam.Core.Engine;
            using TorchSharp;
            using static TorchSharp.torch;
            class C
            {
                Tensor Scoped(Tensor t)
                {
                    using var sc = new ScalarScope();
                    return (t * sc[0.5]).clamp(sc[0], sc[1]) + Scalars.One;
                }
                Tensor Disposed(Tensor t)
                {
                    using var s = 0.25.ToScalar();
                    return t.mul(s) + t;
                }
            }
            """);
        Assert.Empty(found);
    }

    [Fact]
    public void ScalarScope_KeepsTheNumbersType_AndFreesItsScalarsOnDispose()
    {
        Scalar i, d;
        using (var sc = new ScalarScope())
        {
            i = sc[2];
            d = sc[0.5];
            Assert.Equal(torch.ScalarType.Int64, i.Type);   // libtorch keeps every integer Scalar as int64
            Assert.Equal(torch.ScalarType.Float64, d.Type);
            using var t = torch.arange(sc[4], torch.ScalarType.Int64);
            // An integer Scalar keeps integer arithmetic integer, as the implicit conversion did.
            using var r = t * sc[2];
            Assert.Equal(torch.ScalarType.Int64, r.dtype);
            Assert.Equal(new long[] { 0, 2, 4, 6 }, r.data<long>().ToArray());
            Assert.Throws<ObjectDisposedException>(() => { sc.Dispose(); return sc[1]; });
        }
        // Freed: TorchSharp refuses a disposed Scalar.
        Assert.Throws<InvalidOperationException>(() => i.Type);
        Assert.Throws<InvalidOperationException>(() => d.Type);
    }
    [Fact]
    public async Task Nasiam002_FlagsTorchSharpCallsThatLeaveNativeMemoryForTheGc()
    {
        var found = await Analyze("""
            using NASiam.Core.Engine;
            using TorchSharp;
            using static TorchSharp.torch;
            class M : nn.Module<Tensor, Tensor>
            {
                M() : base("M") { }
                public override Tensor forward(Tensor x)
                {
                    var a = x.add(x);
                    var b = x + x;
                    var c = x.square();
                    x.zero_();
                    long n = x.shape[0];
                    var d = x.elu(1.0);
                    var bn = nn.BatchNorm2d(4);
                    var e = x.addcdiv(x, x);
                    if (n < 0) throw new System.ArgumentException(string.Join(",", x.shape));
                    return a;
                }
            }
            class Elsewhere
            {
                long Check(Tensor x) => x.shape[0];
                Tensor Sum(Tensor x) => x + x;
                void Zero(Tensor x) => x.zero_();
                Tensor Complement(Tensor x, Scalar one) => one - x;
                Tensor Difference(Tensor x, Scalar one) => x - x - one;
                float Value(Tensor x) => x.item<float>();
            }
            """, new HiddenNativeAllocationAnalyzer(), HiddenNativeAllocationAnalyzer.Id);
        // Tensor + and Scalar − Tensor anywhere (the data path runs them every step); Tensor − x calls sub, which has no alpha.
        Assert.Equal([9, 10, 11, 12, 13, 14, 15, 16, 24, 25, 26, 28], found.Select(f => f.Line));
        Assert.Contains("ItemSingle()", found[11].Message);
        Assert.Contains("Scalars.One", found[0].Message);
        Assert.Contains("ScalarSafeBatchNorm2d", found[6].Message);
        Assert.Contains("TensorMath.Minus", found[10].Message);
    }

    [Fact]
    public async Task Nasiam002_AcceptsTheEngineReplacements()
    {
        var found = await Analyze("""
            using NASiam.Core.Engine;
            using TorchSharp;
            using static TorchSharp.torch;
            class M : nn.Module<Tensor, Tensor>
            {
                M() : base("M") { }
                public override Tensor forward(Tensor x)
                {
                    var a = x.add(x, Scalars.One);
                    x.fill_(Scalars.Zero);
                    long n = x.size(0) + x.dim();
                    var d = x.elu(Scalars.One, Scalars.One, Scalars.One);
                    var e = TensorMath.Minus(Scalars.One, TensorMath.Plus(x, Scalars.Half)) - x;
                    float v = e.sum().ItemSingle();
                    return a.mul(a);
                }
            }
            """, new HiddenNativeAllocationAnalyzer(), HiddenNativeAllocationAnalyzer.Id);
        Assert.Empty(found);
    }
}

using System.CommandLine;

namespace NASiam.Cli.Tests.Commands;

/// <summary>A verb in the old <see cref="ICliCommand"/> style mounts under the System.CommandLine root unchanged.</summary>
public class LegacyVerbTests
{
    sealed class Echo : ICliCommand
    {
        public string Name => "echo";
        public string Summary => "prints its arguments";
        public string Help => "Usage: nasiam echo [--json] [--backbone B] ARGS";

        public int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
        {
            var a = new CliArgs(args, new HashSet<string> { "json" });
            var backbone = a.String("backbone");
            var json = a.Flag("json");
            a.EnsureAllUsed();
            stdout.WriteLine($"{backbone}|{json}|{string.Join(",", a.Positionals)}");
            return 7;
        }
    }

    static (int Code, string Out) Invoke(params string[] args)
    {
        var output = new StringWriter();
        var root = new RootCommand { LegacyVerb.Mount(new Echo(), new CliContext(output, output, default)) };
        var code = root.Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = output, EnableDefaultExceptionHandler = false });
        return (code, output.ToString());
    }

    [Fact]
    public void ArgumentsReachTheVerbInOrder_AndItsExitCodeIsKept()
    {
        var (code, output) = Invoke("echo", "x", "--backbone", "resnet18,resnet50", "--json", "y");
        Assert.Equal(7, code);
        Assert.Equal("resnet18,resnet50|True|x,y", output.Trim());
    }

    [Fact]
    public void UnknownOptions_AreTheVerbsToReport_AndHelpShowsItsUsage()
    {
        Assert.Throws<CliException>(() => Invoke("echo", "--colour"));
        var (code, help) = Invoke("echo", "--help");
        Assert.Equal(0, code);
        Assert.Contains("Usage: nasiam echo [--json]", help);
    }
}

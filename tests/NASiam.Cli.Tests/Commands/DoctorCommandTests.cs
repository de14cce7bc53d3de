namespace NASiam.Cli.Tests.Commands;

/// <summary><c>nasiam doctor</c>: its input checks and help (the checks themselves are tested in Core's KernelSelfCheck tests).</summary>
public class DoctorCommandTests
{
    [Fact]
    public void UnknownBackbone_IsBadInput_NamingItAndTheKnownOnes()
    {
        var (code, _, err) = CliRunner.Run("doctor", "--backbone", "resnet18,resnet99", "--no-timing");
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("'resnet99'", err);
        Assert.Contains("known: ", err);
        Assert.Contains("resnet18", err);
        Assert.DoesNotContain("'resnet18'", err);
    }

    [Fact]
    public void NegativeThreads_IsBadInput()
    {
        var (code, _, err) = CliRunner.Run("doctor", "--threads", "-1");
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("--threads must be >= 0", err);
    }

    [Fact]
    public void MistypedFlag_SuggestsTheRealOne()
    {
        var (code, _, err) = CliRunner.Run("doctor", "--rechek");
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("Did you mean --recheck?", err);
    }

    [Fact]
    public void Help_ListsEveryOption()
    {
        var (code, output, _) = CliRunner.Run("doctor", "--help");
        Assert.Equal(ExitCodes.Ok, code);
        foreach (var flag in new[] { "--backbone", "--imagenet", "--threads", "--no-timing", "--recheck", "--cache-dir", "--json" })
            Assert.Contains(flag, output);
    }
}

using NASiam.Core.Options;

namespace NASiam.Core.Tests.Options;

public sealed class DisplayNamesTests
{
    [Theory]
    [InlineData("resnet18 search · seed 3")]
    [InlineData("Recherche été 日本語 🚀")]
    [InlineData("عربى search")] // right-to-left letters are text, not controls
    public void AnyOneLineOfVisibleText_IsAName(string name) => Assert.Null(DisplayNames.Problem(name, 200));

    [Theory]
    [InlineData("two\nlines", "character 4 is a control character (U+000A, a line break)")]
    [InlineData("tab\there", "character 4 is a control character (U+0009, a tab)")]
    [InlineData("bell\u0007", "character 5 is a control character (U+0007)")]
    [InlineData("run \u202Egnp.exe", "character 5 (U+202E)")]
    [InlineData("\u2066isolate\u2069", "character 1 (U+2066)")]
    public void AControlOrBidirectionalCharacter_IsRefused_NamingWhereAndWhich(string name, string expected) =>
        Assert.Contains(expected, DisplayNames.Problem(name, 200));

    [Fact]
    public void ALongName_IsRefused_WithItsLength()
    {
        Assert.Null(DisplayNames.Problem(new string('n', 10), 10));
        Assert.Equal("must be at most 10 characters (got 11)", DisplayNames.Problem(new string('n', 11), 10));
    }

    [Fact]
    public void TheRunValidator_RefusesSuchAName_AsAFieldError()
    {
        var errors = RunOptionsValidator.ValidateFields(RunPresets.Get(RunPresets.QuickDemo) with { Name = "a\r\nb" });
        Assert.Contains(errors, e => e.Path == "name" && e.Message.Contains("U+000D, a line break"));
    }
}

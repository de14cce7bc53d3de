using NASiam.Core;
using System.Text.Json;
using NASiam.Core.Genotypes;

namespace NASiam.Cli.Tests.Commands;

public class GenotypeCommandTests
{
    [Fact]
    public void Show_PrintsTheJsonOfEveryPublishedGenotype()
    {
        foreach (var preset in GenotypePresets.All.Where(p => !p.IsStandard))
        {
            var (code, output, err) = CliRunner.Run("genotype", "show", preset.Name);
            Assert.True(code == 0, err);
            using var doc = JsonDocument.Parse(output);
            Assert.Equal(preset.Framework.ToName(), doc.RootElement.GetProperty("framework").GetString());
            Assert.True(preset.Genotype!.SameAs(GenotypeJson.Parse(output)));
        }
    }

    [Fact]
    public void Show_ReadsAFileOrInlineText_AndConvertWritesText()
    {
        var dir = Directory.CreateTempSubdirectory("nasiam-cli-").FullName;
        try
        {
            var text = "Genotype(encoder=[['identity'], ['avgpool_3x3'], ['avgpool_3x3'], ['avgpool_3x3']])";
            var file = Path.Combine(dir, "g.txt");
            File.WriteAllText(file, text);
            var (code, output, _) = CliRunner.Run("genotype", "show", file, "--framework", "moco");
            Assert.Equal(0, code);
            Assert.Contains("\"framework\": \"moco\"", output);

            var jsonFile = Path.Combine(dir, "g.json");
            Assert.Equal(0, CliRunner.Run("genotype", "convert", text, "--to", "json", "--out", jsonFile).Code);
            var (code2, back, _) = CliRunner.Run("genotype", "convert", jsonFile, "--to", "txt");
            Assert.Equal(0, code2);
            Assert.Equal(text, back.Trim());
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Presets_ListsEveryPreset()
    {
        var (code, output, _) = CliRunner.Run("genotype", "presets");
        Assert.Equal(0, code);
        foreach (var p in GenotypePresets.All) Assert.Contains(p.Name, output);
    }

    [Theory]
    [InlineData(new[] { "genotype", "show", "Genotype(encoder=[['nope']])" }, "Unknown operation 'nope'")]
    [InlineData(new[] { "genotype", "show", "/no/such/file.txt" }, "is not a file, a preset")]
    [InlineData(new[] { "genotype", "show", "simsiam/cifar10_resnet18", "--framework", "moco" }, "")]
    [InlineData(new[] { "genotype", "show", "Genotype(encoder=[['identity']])", "--framework", "moco" }, "must have 4 layers")]
    [InlineData(new[] { "genotype", "frobnicate" }, "Unrecognized command or argument 'frobnicate'")]
    [InlineData(new[] { "genotype", "presets", "--colour" }, "Unrecognized command or argument '--colour'")]
    [InlineData(new[] { "genotype", "show", "x", "--format", "yaml" }, "'yaml'")]
    [InlineData(new[] { "genotype", "show", "x", "--framework", "byol" }, "Unknown framework 'byol'")]
    public void BadInput_ExitsWithCode2_AndAOneLineReason(string[] args, string expected)
    {
        var (code, _, err) = CliRunner.Run(args);
        if (expected.Length == 0) { Assert.Equal(0, code); return; }  // a preset name wins over --framework
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains(expected, err);
        Assert.Single(err.Trim().Split('\n'));
    }

    [Fact]
    public void UnknownCommand_AndHelp()
    {
        Assert.Equal(ExitCodes.BadInput, CliRunner.Run("fly").Code);
        var (code, output, _) = CliRunner.Run("genotype", "--help");
        Assert.Equal(0, code);
        foreach (var sub in new[] { "show <genotype>", "presets", "convert <genotype>", "derive <checkpoint>" }) Assert.Contains(sub, output);
    }
}

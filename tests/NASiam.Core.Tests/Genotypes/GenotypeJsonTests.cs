using System.Text.Json;
using NASiam.Core.Genotypes;

namespace NASiam.Core.Tests.Genotypes;

public class GenotypeJsonTests
{
    [Fact]
    public void Write_ThenParse_RoundTripsEveryPreset_ThroughTextAndJson()
    {
        foreach (var preset in GenotypePresets.All.Where(p => p.Genotype is not null))
        {
            var json = GenotypeJson.Write(preset.Genotype!, preset.Framework);
            var fromJson = GenotypeJson.Parse(json);
            var fromText = GenotypeText.Parse(GenotypeText.Write(fromJson), preset.Framework);
            Assert.True(preset.Genotype!.SameAs(fromText), preset.Name);
            using var doc = JsonDocument.Parse(json);
            Assert.Equal(preset.Framework.ToName(), doc.RootElement.GetProperty("framework").GetString());
            Assert.Equal(GenotypeText.Write(preset.Genotype), doc.RootElement.GetProperty("text").GetString());
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Write_KeepsTheTextsQuotesReadable(bool indented)
    {
        var g = GenotypePresets.Find("simsiam/cifar10_resnet18")!.Genotype!;
        var json = GenotypeJson.Write(g, indented: indented);
        Assert.DoesNotContain("\\u0027", json);
        Assert.Contains(GenotypeText.Write(g).Replace("\"", "\\\""), json); // the reference text as written, quotes and all
    }

    [Fact]
    public void Write_OmitsAbsentFields()
    {
        var moco = GenotypePresets.Find("moco/cifar10_resnet50")!.Genotype!;
        using var doc = JsonDocument.Parse(GenotypeJson.Write(moco));
        Assert.True(doc.RootElement.TryGetProperty("encoder", out var enc));
        Assert.Equal(4, enc.GetArrayLength());
        Assert.False(doc.RootElement.TryGetProperty("predictor", out _));
    }

    [Theory]
    [InlineData("not json", "Malformed genotype JSON")]
    [InlineData("[1,2]", "must be an object")]
    [InlineData("""{"encoder":[["identity"],["avgpool_3x3"],["avgpool_3x3"],["softmax"]]}""", "Unknown operation 'softmax' in encoder layer 3")]
    [InlineData("""{"encoder":[["identity"]], "extra": 1}""", "Unknown genotype JSON field 'extra'")]
    [InlineData("""{"framework":"simsiam","encoder":[["identity"],["identity"],["identity"],["identity"]]}""", "needs the 'predictor' field")]
    [InlineData("""{"framework":"byol","encoder":[["identity"]]}""", "Unknown framework 'byol'")]
    [InlineData("{}", "needs an 'encoder' or a 'predictor'")]
    public void Parse_RejectsMalformedJson_WithAClearMessage(string json, string expected)
    {
        var e = Assert.Throws<GenotypeFormatException>(() => GenotypeJson.Parse(json));
        Assert.Contains(expected, e.Message);
    }
}

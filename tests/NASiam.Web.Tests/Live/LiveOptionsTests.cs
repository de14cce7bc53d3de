using System.ComponentModel.DataAnnotations;
using NASiam.Web.Options;

namespace NASiam.Web.Tests.Live;

/// <summary>Nasiam:LiveEvents: which transport "auto" picks, and the settings each one needs.</summary>
public class LiveOptionsTests
{
    static List<string> Errors(NasiamWebOptions o)
    {
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(o, new ValidationContext(o), results, validateAllProperties: true);
        return results.Select(r => r.ErrorMessage!).ToList();
    }

    [Theory]
    [InlineData(null, "sqlite", "none")]
    [InlineData("127.0.0.1:6379", "sqlite", "redis")]
    [InlineData(null, "postgresql", "postgresql")]
    [InlineData("127.0.0.1:6379", "postgresql", "redis")]
    public void Auto_PicksRedisWhenSet_ElsePostgresWithPostgresStorage_ElseNone(string? redis, string storage, string expected)
    {
        var o = new NasiamWebOptions { Redis = redis, Storage = storage, ConnectionString = "Host=db" };
        Assert.Equal(expected, o.EffectiveLiveEvents);
        Assert.Empty(Errors(o));
    }

    [Fact]
    public void UnknownKind_OrAKindWithoutItsSetting_IsAnErrorNamingTheSetting()
    {
        Assert.Contains("Nasiam:LiveEvents 'kafka' is not one of auto, redis, postgresql, none.", Errors(new NasiamWebOptions { LiveEvents = "kafka" }));
        Assert.Contains("Nasiam:Redis is required when Nasiam:LiveEvents is redis.", Errors(new NasiamWebOptions { LiveEvents = "redis" }));
        Assert.Contains("Nasiam:ConnectionString is required when Nasiam:LiveEvents is postgresql.", Errors(new NasiamWebOptions { LiveEvents = "postgresql" }));
        Assert.Equal("none", new NasiamWebOptions { LiveEvents = "none", Redis = "x:1" }.EffectiveLiveEvents);
    }
}

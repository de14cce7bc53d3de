namespace NASiam.Core.Genotypes;

/// <summary>A malformed genotype: the message names the position (character offset or layer) and the valid op names.</summary>
public sealed class GenotypeFormatException(string message) : FormatException(message);

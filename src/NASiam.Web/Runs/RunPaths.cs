namespace NASiam.Web.Runs;

/// <summary>Where things live inside the data directory.</summary>
public sealed record RunPaths(string DataDirectory)
{
    public string RunDatabase => Path.Combine(DataDirectory, "nasiam.db");
    public string JobDatabase => Path.Combine(DataDirectory, "hangfire.db");
    public string RunsDirectory => Path.Combine(DataDirectory, "runs");
    public string RunDirectory(Guid runId) => Path.Combine(RunsDirectory, runId.ToString("N"));
}

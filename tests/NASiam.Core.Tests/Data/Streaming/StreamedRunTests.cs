using NASiam.Core.Engine;
using NASiam.Core.Options;
using NASiam.Core.Reporting;
using NASiam.Core.Tests.Engine.Runs;

namespace NASiam.Core.Tests.Data.Streaming;

public class StreamedRunTests
{
    [Fact]
    public void APipeline_OnAStreamedImageFolder_SearchesPretrainsAndEvaluates()
    {
        using var dir = new TempDir();
        var data = Path.Combine(dir.Path, "data");
        foreach (var (split, n) in new[] { ("train", 16), ("val", 2) })
            foreach (var (c, colour) in new[] { ("a", (byte)40), ("b", (byte)200) })
            {
                Directory.CreateDirectory(Path.Combine(data, split, c));
                for (int i = 0; i < n; i++)
                    File.WriteAllBytes(Path.Combine(data, split, c, $"{i}.jpg"),
                        TestImages.Jpeg(56 + 8 * (i % 3), 40, (x, y) => ((byte)(colour + x % 13), colour, (byte)(y * 5))));
            }
        var b = TinyRuns.Options(Framework.SimSiam, RunKind.Pipeline);
        var o = b with
        {
            Dataset = "folder", DataPath = data, Data = new DataOptions { ImageSize = 32, Workers = 2 }, MaxStepsPerStage = 2,
            Search = b.Search with { BatchSize = 4 }, Pretrain = b.Pretrain with { BatchSize = 4 }, Linear = b.Linear with { BatchSize = 4 },
        };
        var (result, _) = TinyRuns.Run(o, Path.Combine(dir.Path, "out"));
        // The search takes a class-balanced quarter of train (D20), split in halves: 4 + 4 images at batch 4.
        Assert.True(result.Outcome == RunOutcome.Succeeded, result.Message);
        Assert.True(result.Metrics.ContainsKey("linear_top1") || result.Metrics.Keys.Any(k => k.StartsWith("lin")), string.Join(", ", result.Metrics.Keys));
    }
}

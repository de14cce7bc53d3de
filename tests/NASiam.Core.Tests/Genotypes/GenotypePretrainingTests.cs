using NASiam.Core.Genotypes;
using NASiam.Core.Options;

namespace NASiam.Core.Tests.Genotypes;

/// <summary>"Pre-train this genotype" of a run: the request starts from the run's stored options, whatever preset it is laid on.</summary>
public sealed class GenotypePretrainingTests
{
    static readonly string Text = GenotypeText.Write(GenotypePresets.Find("moco/cifar10_resnet18")!.Genotype!);

    static RunRequestPolicy Policy(Guid runId) => RunRequestPolicy.Cli with
    {
        CheckDataFolders = false,
        GenotypeById = id => id == runId ? new StoredGenotype(Text, Framework.MoCo, "the run's genotype") : null,
    };

    // The form lays the request on its quick-demo preset (resnet-tiny, synthetic 2048, cpu, a name): every field a
    // pre-training reads is the run's, nulls included (no image size stays none); what it does not read (the run's
    // search and linear recipe) is the base's, so nothing is called "not used".
    [Theory]
    [InlineData(null)]
    [InlineData(RunPresets.QuickDemo)]
    public void Resolved_IsTheRunsOptions_AsAPretrainingOfItsGenotype(string? preset)
    {
        var runId = Guid.NewGuid();
        var moco = RunPresets.Get("moco-cifar10");
        var source = moco with
        {
            Kind = RunKind.Pipeline, Name = "cifar search", DataPath = "/data/cifar", Seed = 7, Threads = 3, MaxStepsPerStage = 11,
            Device = "cuda:1", Data = new DataOptions { ImageSize = null, Workers = 2 },
            Search = moco.Search with { Epochs = 3, Lr = 0.07 }, Linear = moco.Linear with { Epochs = 5 },
        };
        var request = GenotypePretraining.FromRun(source, runId, source.Name) with { Preset = preset };
        Assert.Equal(runId.ToString(), request.Genotype);

        var resolution = RunRequestResolver.Resolve(request, Policy(runId));

        Assert.True(resolution.Ok, string.Join("; ", resolution.Errors.Select(e => $"{e.Path}: {e.Message}")));
        Assert.DoesNotContain(resolution.Notices, n => n.StartsWith(RunRequestResolver.UnusedNoticePrefix));
        var expected = source with { Kind = RunKind.Pretrain, Name = "cifar search · pretrain", Pretrain = source.Pretrain with { Genotype = Text } };
        var basis = OptionCatalog.Defaults(preset, Framework.MoCo);
        foreach (var entry in OptionCatalog.Entries)
        {
            var want = entry.UsedBy(RunKind.Pretrain, Framework.MoCo) ? expected : basis;
            Assert.True(entry.ReadText(want) == entry.ReadText(resolution.Options!), $"{entry.Path}: {entry.ReadText(resolution.Options!)}, expected {entry.ReadText(want)}");
        }
    }

    [Fact]
    public void StartedFromNote_SaysWhoseSetup_AndItsDataAndStepCap()
    {
        var source = RunPresets.QuickDemoFor(Framework.SimSiam) with { SyntheticTrainSize = 256, MaxStepsPerStage = 7 };
        var note = GenotypePretraining.StartedFromNote("small search", source);
        Assert.StartsWith("Started from run 'small search''s setup: simsiam, resnet-tiny on synthetic (256 images)", note);
        Assert.Contains("at most 7 steps a stage", note);
    }
}

using NASiam.Core.Engine;
using NASiam.Core.Engine.Runs;
using NASiam.Core.Options;

namespace NASiam.Core.Tests.Engine.Runs;

public class ModelBuilderTests
{
    [Theory]
    // (framework, backbone, dataset, D18 switch) → CIFAR stem? Method doc 3, 9 D18.
    [InlineData(Framework.SimSiam, "resnet50", "cifar10", false, true)]
    [InlineData(Framework.SimSiam, "resnet50", "cifar10", true, false)]
    [InlineData(Framework.MoCo, "resnet50", "cifar100", true, false)]
    [InlineData(Framework.SimClr, "resnet50", "cifar10", true, true)] // SimCLR's reference trunk is always CIFAR-style
    [InlineData(Framework.SimSiam, "resnet18", "cifar10", true, true)] // the reference converts resnet18
    [InlineData(Framework.MoCo, "resnet18", "folder", false, false)]
    [InlineData(Framework.SimClr, "resnet50", "folder", false, false)]
    public void CifarStem_IsOneRule_AndTheD18SwitchMovesOnlySimSiamAndMoCo(Framework f, string backbone, string dataset, bool d18, bool expected)
    {
        var o = RunPresets.ForFramework(f) with { Backbone = backbone, Dataset = dataset, Compat = new CompatOptions { ResNet50ImageNetStemOnCifar = d18 } };
        Assert.Equal(expected, ModelBuilder.CifarStem(o));
    }

    [Theory]
    [InlineData(Framework.SimSiam, null, true)]
    [InlineData(Framework.MoCo, null, true)]
    [InlineData(Framework.SimClr, null, false)] // the reference SimCLR evaluates its last checkpoint (D21)
    [InlineData(Framework.SimClr, true, true)]
    [InlineData(Framework.SimSiam, false, false)]
    public void EvaluatesBestCheckpoint_FollowsTheReferencePerFramework_UnlessSet(Framework f, bool? useBest, bool expected)
    {
        var o = RunPresets.ForFramework(f);
        o = o with { Linear = o.Linear with { UseBestCheckpoint = useBest } };
        Assert.Equal(expected, NasiamEngine.EvaluatesBestCheckpoint(o));
    }
}

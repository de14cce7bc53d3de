namespace NASiam.Core.Data.Augmentation;

/// <summary>The augmentation pipelines of method doc 6.2.</summary>
public enum AugmentationRecipe
{
    /// <summary>RRC(32, scale 0.2–1) → CJ → Gray → Flip (SimSiam search and pre-training).</summary>
    SimSiamCifar,
    /// <summary>RRC(32, 0.08–1) → Flip → CJ → Gray (MoCo search and pre-training).</summary>
    MoCoCifar,
    /// <summary>RRC(32, 0.08–1) → Flip → CJ → Gray (SimCLR search, pre-training and linear eval).</summary>
    SimClrCifar,
    /// <summary>RRC(224, 0.2–1) → CJ → Gray → Blur → Flip (all frameworks on ImageNet-style folders).</summary>
    ImageNet,
    /// <summary>RRC(32, 0.08–1) → Flip (SimSiam/MoCo linear-eval training on CIFAR).</summary>
    LinearEvalCifar,
    /// <summary>RRC(224, 0.08–1) → Flip (SimSiam/MoCo linear-eval training on ImageNet).</summary>
    LinearEvalImageNet,
}

/// <summary>The operator settings of one recipe. Scale is the crop's area fraction range.</summary>
public sealed record AugmentationSpec(AugmentationRecipe Recipe, double MinScale, double MaxScale,
    bool ColorJitter, bool Grayscale, bool Blur)
{
    /// <summary>Aspect-ratio range of RandomResizedCrop: [3/4, 4/3].</summary>
    public const double MinRatio = 3.0 / 4.0, MaxRatio = 4.0 / 3.0;
    /// <summary>ColorJitter(0.4, 0.4, 0.4, 0.1) applied with this probability.</summary>
    public const double JitterProbability = 0.8, Brightness = 0.4, Contrast = 0.4, Saturation = 0.4, Hue = 0.1;
    public const double GrayProbability = 0.2, FlipProbability = 0.5, BlurProbability = 0.5;
    public const double MinBlurSigma = 0.1, MaxBlurSigma = 2.0;

    public static AugmentationSpec For(AugmentationRecipe recipe) => recipe switch
    {
        AugmentationRecipe.SimSiamCifar => new(recipe, 0.2, 1.0, true, true, false),
        AugmentationRecipe.MoCoCifar or AugmentationRecipe.SimClrCifar => new(recipe, 0.08, 1.0, true, true, false),
        AugmentationRecipe.ImageNet => new(recipe, 0.2, 1.0, true, true, true),
        AugmentationRecipe.LinearEvalCifar or AugmentationRecipe.LinearEvalImageNet => new(recipe, 0.08, 1.0, false, false, false),
        _ => throw new ArgumentOutOfRangeException(nameof(recipe)),
    };

    /// <summary>The search/pre-training recipe of a framework (ImageNet-style data uses one recipe for all).</summary>
    public static AugmentationRecipe ForPretraining(Framework framework, bool imageNet) => imageNet ? AugmentationRecipe.ImageNet : framework switch
    {
        Framework.SimSiam => AugmentationRecipe.SimSiamCifar,
        Framework.MoCo => AugmentationRecipe.MoCoCifar,
        _ => AugmentationRecipe.SimClrCifar,
    };

    /// <summary>The linear-eval training recipe (SimCLR keeps its SSL augmentation on CIFAR).</summary>
    public static AugmentationRecipe ForLinearEval(Framework framework, bool imageNet) =>
        imageNet ? AugmentationRecipe.LinearEvalImageNet
        : framework == Framework.SimClr ? AugmentationRecipe.SimClrCifar : AugmentationRecipe.LinearEvalCifar;
}

using System.Text.Json.Nodes;

namespace NASiam.Core.Options;

/// <summary>
/// What a user asks for, through any door (the New-run form, <c>POST /api/runs</c>, the CLI),
/// before <see cref="RunRequestResolver"/> turns it into validated <see cref="RunOptions"/>.
/// Every member is optional; the resolver fills what is missing from the preset or the framework's
/// recipe and says so.
/// </summary>
public sealed record RunRequest
{
    /// <summary>A <see cref="RunPresets"/> name (quick-demo, simsiam-cifar10, moco-cifar100-reference, ...).</summary>
    public string? Preset { get; init; }
    /// <summary>simsiam | moco | simclr (case-insensitive). With quick-demo it picks the flavour; with no preset, the framework's recipe.</summary>
    public string? Framework { get; init; }
    /// <summary>The run kind; a CLI verb sets it. Overrides may also set <c>kind</c>.</summary>
    public RunKind? Kind { get; init; }
    /// <summary>
    /// Partial options as a JSON merge patch (RFC 7396) on the preset's options document
    /// (camelCase paths as in result.json's "options": <c>{"search": {"epochs": 2}}</c>).
    /// Unknown fields are errors naming the field.
    /// </summary>
    public JsonObject? Overrides { get; init; }
    /// <summary>A genotype reference for the pre-training (see <see cref="Genotypes.GenotypeReference"/>); wins over <c>pretrain.genotype</c> in the overrides.</summary>
    public string? Genotype { get; init; }
    /// <summary>
    /// A pre-training (or search) checkpoint to linear-evaluate, or a run folder (the pre-training checkpoint
    /// its pipeline evaluates, kNN-best or last, else its search's: <see cref="Engine.Runs.StageEnvironment.FinalBackboneCheckpointIn"/>).
    /// Its saved options become the base: framework, backbone, heads, data set and the framework's
    /// linear recipe come from it.
    /// </summary>
    public string? Checkpoint { get; init; }
    /// <summary>The device (auto, cpu, cuda, cuda:N), as <c>device</c> in the overrides; the two must agree when both are given.</summary>
    public string? Device { get; init; }
    /// <summary>The run's name, as <c>name</c> in the overrides; the two must agree when both are given.</summary>
    public string? Name { get; init; }
}

/// <summary>What the door (host) allows, decided by the host, not by the request.</summary>
public sealed record RunRequestPolicy
{
    /// <summary>
    /// Genotype references and <c>linear.checkpoint</c> may be file paths on this machine (the CLI). The web
    /// takes library entries, presets or text as genotypes, and no checkpoint path (its evaluations come
    /// from pipelines, or evaluate an untrained backbone).
    /// </summary>
    public bool AllowServerFiles { get; init; }

    /// <summary>
    /// A folder the door itself chose and vouches for (the web: the folder of the run whose id the user
    /// gave), whose checkpoints may be linear-evaluated even where <see cref="AllowServerFiles"/> is false.
    /// </summary>
    public string? TrustedCheckpointFolder { get; init; }

    /// <summary>
    /// Looks up a genotype the door stores under an id (the web: a library entry or a run), so that a
    /// genotype reference may be that id; null where ids are not genotype references (the CLI).
    /// </summary>
    public Func<Guid, NASiam.Core.Genotypes.StoredGenotype?>? GenotypeById { get; init; }

    /// <summary>
    /// Looks up a genotype the door stores under a name (the web: a genotype library entry, its name unique in any
    /// case), so that a genotype reference may be that name; null where names are not genotype references (the CLI).
    /// </summary>
    public Func<string, NASiam.Core.Genotypes.StoredGenotype?>? GenotypeByName { get; init; }

    /// <summary>
    /// The data folder must be found here, before the run is queued (<see cref="Data.DataSets.LocateError"/>):
    /// where this machine executes the runs (the CLI; a web node that executes runs). A web-only node may not
    /// see the workers' folders, so it leaves the check to the run.
    /// </summary>
    public bool CheckDataFolders { get; init; }

    /// <summary>
    /// The memory, in bytes, a run this door starts may use on its CPU host (the CLI: this machine's; a web node that
    /// executes runs: its own, or <c>Nasiam:MemoryLimitMib</c>); null where runs execute elsewhere. The resolver says when
    /// a CPU run's estimated peak (<see cref="RunMemoryEstimate"/>) comes near it.
    /// </summary>
    public long? HostMemoryBytes { get; init; }

    /// <summary>True when <paramref name="path"/> is a file or folder the request may name: any with server files allowed, else <see cref="TrustedCheckpointFolder"/> itself or anything inside it.</summary>
    public bool MayRead(string path)
    {
        if (AllowServerFiles) return true;
        if (string.IsNullOrWhiteSpace(TrustedCheckpointFolder)) return false;
        var folder = Path.TrimEndingDirectorySeparator(Path.GetFullPath(TrustedCheckpointFolder));
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        return full == folder || full.StartsWith(folder + Path.DirectorySeparatorChar, StringComparison.Ordinal);
    }

    /// <summary>The command line: paths are the user's own.</summary>
    public static RunRequestPolicy Cli { get; } = new() { AllowServerFiles = true, CheckDataFolders = true };
    /// <summary><see cref="Cli"/> with this host's memory (<see cref="RunMemoryEstimate.HostMemoryBytes"/>): the command line runs what it resolves, so a run too large for the host is said.</summary>
    public static RunRequestPolicy CliOnThisHost() => Cli with { HostMemoryBytes = RunMemoryEstimate.HostMemoryBytes() };
    /// <summary>The dashboard and the API: no probing of the server's files.</summary>
    public static RunRequestPolicy Web { get; } = new() { AllowServerFiles = false };
}

/// <summary>The resolver's answer: options when there are no errors, plus notices worth showing the user.</summary>
public sealed record RunResolution(RunOptions? Options, IReadOnlyList<FieldError> Errors, IReadOnlyList<string> Notices)
{
    public bool Ok => Options is not null && Errors.Count == 0;

    /// <summary>The options document paths the request changed from its base (preset, recipe or checkpoint); empty on errors.</summary>
    public IReadOnlyList<string> ChangedFields { get; init; } = [];

    /// <summary>The options, or <see cref="ArgumentException"/> listing every error.</summary>
    public RunOptions OptionsOrThrow() => Ok ? Options!
        : throw new ArgumentException("Invalid run request: " + string.Join("; ", Errors));
}

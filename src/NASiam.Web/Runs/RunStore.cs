using NASiam.Core.Genotypes;
using NASiam.Core.Options;
using NASiam.Core.Reporting;
using NASiam.Web.Runs.Storage;

namespace NASiam.Web.Runs;

/// <summary>
/// Stored events of a run: what a chart or a late subscriber starts from. <see cref="Unreadable"/>
/// counts stored rows that did not read as an event (a newer app's event type): shown, not hidden.
/// </summary>
public sealed record EventPage(Guid RunId, long LastSequence, bool Downsampled, IReadOnlyList<TrainingEvent> Events)
{
    public int Unreadable { get; init; }

    /// <summary>
    /// The run's newest run_started, whatever <c>afterSequence</c> was: a client reading after the sequence
    /// it holds learns from it that a resume replaced events it holds (docs/hub.md, rule 5). Null before the first.
    /// </summary>
    public RunStarted? AttemptStarted { get; init; }

    /// <summary>The events as the API and the hub send them (docs/metrics-schema.md).</summary>
    public System.Text.Json.JsonElement[] EventElements() => Events.Select(TrainingEventJson.ToElement).ToArray();

    /// <summary><see cref="AttemptStarted"/> as the API and the hub send it; null before the first.</summary>
    public System.Text.Json.JsonElement? AttemptStartedElement() =>
        AttemptStarted is { } started ? TrainingEventJson.ToElement(started) : null;
}

/// <summary>
/// Run records, lineage, the genotype library, every engine event and the run leases, in the run
/// database (<see cref="RunDatabase"/>: a SQLite file in the data directory, or PostgreSQL when
/// Nasiam:Storage=postgresql). One class per concern in Runs/Storage (runs, status, events,
/// genotypes, leases); this type is the one door the app injects and keeps their public calls in
/// one place. Events are keyed by (run, sequence) and inserted with ON CONFLICT DO NOTHING, so a
/// replayed or resumed run never stores a point twice.
/// </summary>
public sealed class RunStore
{
    public RunStore(RunDatabase database)
    {
        Database = database;
        Runs = new RunRepository(database);
        Leases = new RunLeases(database);
        Status = new RunStatusStore(database, Leases);
        Events = new EventLog(database);
        GenotypeLibrary = new GenotypeStore(database);
    }

    /// <summary>A store on a SQLite file (created, or migrated, on open).</summary>
    public RunStore(string databasePath) : this(RunDatabase.Sqlite(databasePath)) { }

    /// <summary>The schema version this code writes.</summary>
    public const int SchemaVersion = RunDatabase.SchemaVersion;

    public RunDatabase Database { get; }
    public RunRepository Runs { get; }
    public RunStatusStore Status { get; }
    public EventLog Events { get; }
    public GenotypeStore GenotypeLibrary { get; }
    public RunLeases Leases { get; }

    // Runs
    public void Insert(RunRecord r) => Runs.Insert(r);
    public RunRecord? Get(Guid id) => Runs.Get(id);
    public IReadOnlyList<RunRecord> List(Guid? parentId = null) => Runs.List(parentId);
    /// <summary>Deletes the run; true when a live lease on it remained (see <see cref="RunRepository.Delete"/>).</summary>
    public bool Delete(Guid id) => Runs.Delete(id);

    /// <summary>
    /// What refers to a run, in words ("run ID ('name')", "comparison ID ('name')"): the runs that descend from it
    /// (its linear evaluations, pre-trainings of its genotype, retries) and the comparisons it is the source or a
    /// child of. Deleting it takes it out of their lineage; a linear evaluation of its checkpoint could no longer resume.
    /// </summary>
    public IReadOnlyList<string> Dependants(Guid id)
    {
        var list = List(id).Select(r => $"run {r.Id} ('{r.Name}')").ToList();
        using var c = Database.Open();
        using var cmd = Database.Command(c, """
            SELECT id, name FROM comparisons
            WHERE source_run_id = @r OR id IN (SELECT comparison_id FROM comparison_children WHERE run_id = @r)
            ORDER BY created_at
            """, ("@r", id.ToString()));
        using var r = cmd.ExecuteReader();
        while (r.Read()) list.Add($"comparison {r.GetString(0)} ('{r.GetString(1)}')");
        return list;
    }

    // Status (the lifecycle owner only)
    internal void SetJob(Guid id, string jobId, RunStatus status, bool clearCancel = true) => Status.SetJob(id, jobId, status, clearCancel);
    internal bool Interrupt(Guid id, string message, string leaseOwner) => Status.Interrupt(id, message, leaseOwner);
    internal void MarkStarted(Guid id) => Status.MarkStarted(id);
    internal void RequestCancel(Guid id) => Status.RequestCancel(id);
    internal bool Finish(Guid id, RunStatus status, string? message, string? genotypeText, string? artifactsJson, string? metricsJson,
        string? leaseOwner = null, GenotypeEntry? discovered = null) =>
        Status.Finish(id, status, message, genotypeText, artifactsJson, metricsJson, leaseOwner, discovered);

    // Events
    /// <summary>Stores a batch of one run's events (duplicates by sequence ignored) and projects them onto the run row; returns how many were new.</summary>
    public int Append(Guid runId, IReadOnlyList<TrainingEvent> events) => Events.Append(runId, events);
    /// <summary>The sequence number after the last stored event (0 when none).</summary>
    public long NextSequence(Guid runId) => Events.NextSequence(runId);
    /// <summary>Every stored event after a sequence, in order, one at a time; returns the count of unreadable rows.</summary>
    public int ReadEach(Guid runId, long afterSequence, Action<TrainingEvent> each) => Events.ReadEach(runId, afterSequence, each);
    /// <summary>Events after a sequence, optionally of some types, each type thinned to at most <paramref name="maxPerType"/> points.</summary>
    public EventPage Read(Guid runId, long afterSequence = -1, IReadOnlyCollection<string>? types = null, int maxPerType = int.MaxValue) =>
        Events.Read(runId, afterSequence, types, maxPerType);

    // Genotype library
    public void AddGenotype(GenotypeEntry g) => GenotypeLibrary.Add(g);
    public IReadOnlyList<GenotypeEntry> Genotypes() => GenotypeLibrary.List();

    /// <summary>
    /// The genotype stored under an id, with its framework and what holds it (for the resolver's messages,
    /// <see cref="RunRequestPolicy.GenotypeById"/>): a library entry's, else a run's; null when neither has one.
    /// </summary>
    public StoredGenotype? GenotypeById(Guid id) =>
        GenotypeLibrary.Get(id) is { } entry ? new StoredGenotype(entry.Text, entry.Framework, $"genotype library entry '{entry.Name}'")
        : Get(id) is { GenotypeText: { } text } run ? new StoredGenotype(text, run.Framework, $"run {id} ('{run.Name}')") { Notice = ProvisionalGenotype(run) }
        : null;

    /// <summary>
    /// <see cref="GenotypeProvenance.Describe"/> for a stored run: null when its genotype is final, else why not
    /// (from its status, its search's newest alpha snapshot, StageStarted and GenotypeDerived events).
    /// </summary>
    public string? ProvisionalGenotype(RunRecord run)
    {
        if (run.GenotypeText is null || run.Status == RunStatus.Succeeded) return null;
        if (Events.Latest(run.Id, "alphas", "search") is not AlphasLogged alphas) return null;
        bool derived = Events.Latest(run.Id, "genotype", "search") is not null;
        var total = (Events.Latest(run.Id, "stage_started", "search") as StageStarted)?.TotalEpochs;
        return GenotypeProvenance.Describe(run.Status, derived, alphas, total);
    }

    /// <summary>The genotype library entry of a name (any case: names are unique so), for <see cref="RunRequestPolicy.GenotypeByName"/>; null when none has it.</summary>
    public StoredGenotype? GenotypeByName(string name) =>
        GenotypeLibrary.List().FirstOrDefault(e => string.Equals(e.Name, name.Trim(), StringComparison.OrdinalIgnoreCase)) is { } entry
            ? new StoredGenotype(entry.Text, entry.Framework, $"genotype library entry '{entry.Name}'")
            : null;

    /// <summary>The web's request policy (no server file paths) with this store's genotype ids and library names as genotype references.</summary>
    public RunRequestPolicy WebPolicy => RunRequestPolicy.Web with { GenotypeById = GenotypeById, GenotypeByName = GenotypeByName };
}

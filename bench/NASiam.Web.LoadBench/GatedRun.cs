using System.Net.Http.Json;
using System.Text.Json;
using NASiam.Core.Options;

namespace NASiam.Web.LoadBench;

/// <summary>
/// A measured run that waits in its device queue while the viewers open its page: a long "gate" run
/// holds the device's single worker (Jobs/DeviceWorkers: one run per device at a time), the measured
/// run is queued behind it, and <see cref="ReleaseAsync"/> cancels the gate. So every viewer is open
/// from the measured run's first step, however long N viewers take to open on a loaded host; without
/// the gate the last viewers of a large N could join after a short run had finished (the 50-page row
/// of the first page bench: 0 updates per page, every page showing the end).
/// </summary>
public sealed class GatedRun
{
    readonly HttpClient _http;
    readonly Guid _gate;

    /// <summary>The measured run (Queued until <see cref="ReleaseAsync"/>).</summary>
    public Guid Id { get; }

    GatedRun(HttpClient http, Guid gate, Guid id) => (_http, _gate, Id) = (http, gate, id);

    /// <summary>Starts the gate (the same options, 200 search epochs, no step cap), waits until it runs, then queues <paramref name="measured"/>.</summary>
    public static async Task<GatedRun> QueueAsync(HttpClient http, RunOptions measured)
    {
        var gate = await PostAsync(http, measured with { Name = "bench gate", MaxStepsPerStage = null, Search = measured.Search with { Epochs = 200 } });
        var until = DateTime.UtcNow.AddMinutes(2);
        while (await StatusAsync(http, gate) is "Queued")
        {
            if (DateTime.UtcNow > until) throw new TimeoutException($"gate run {gate} still queued after 2 minutes");
            await Task.Delay(100);
        }
        var id = await PostAsync(http, measured);
        var status = await StatusAsync(http, id);
        if (status != "Queued") throw new InvalidOperationException($"the measured run is {status}, not queued behind the gate");
        return new GatedRun(http, gate, id);
    }

    /// <summary>Cancels the gate: the worker picks the measured run up next.</summary>
    public async Task ReleaseAsync() => (await _http.PostAsync($"/api/runs/{_gate}/cancel", null)).EnsureSuccessStatusCode();

    public static async Task<string> StatusAsync(HttpClient http, Guid id) =>
        (await http.GetFromJsonAsync<JsonElement>($"/api/runs/{id}")).GetProperty("run").GetProperty("status").GetString()!;

    static async Task<Guid> PostAsync(HttpClient http, RunOptions options)
    {
        using var json = JsonDocument.Parse(options.ToJson());
        var created = await http.PostAsJsonAsync("/api/runs", new { options = json.RootElement });
        created.EnsureSuccessStatusCode();
        return (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
    }
}

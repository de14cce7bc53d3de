using System.Diagnostics;
using System.Globalization;

namespace NASiam.Core.Reporting;

/// <summary>
/// Human progress on a console. Interactive: one redrawn line with a bar, step, loss, rates and
/// ETA. Otherwise (redirected output, CI): plain lines every <c>plainEvery</c> steps plus every
/// epoch-level event. Warnings and stage boundaries always get their own line.
/// </summary>
public sealed class ConsoleProgressObserver(TextWriter output, bool interactive, int plainEvery = 10) : ITrainingObserver
{
    readonly object _gate = new();
    readonly Stopwatch _clock = new();
    long _total, _resumedAt;
    string _stage = "";
    bool _lineOpen;

    /// <summary>Seconds remaining given <paramref name="done"/> of <paramref name="total"/> steps in <paramref name="elapsed"/>; null before the first step.</summary>
    public static TimeSpan? Eta(long done, long total, TimeSpan elapsed) =>
        done <= 0 || total <= 0 ? null : TimeSpan.FromSeconds(elapsed.TotalSeconds / done * Math.Max(0, total - done));

    /// <summary>"1h02m", "3m05s" or "42s".</summary>
    public static string Format(TimeSpan? t) => t is not { } v ? "--" :
        v.TotalHours >= 1 ? $"{(int)v.TotalHours}h{v.Minutes:00}m" : v.TotalMinutes >= 1 ? $"{(int)v.TotalMinutes}m{v.Seconds:00}s" : $"{v.Seconds}s";

    public void On(TrainingEvent e)
    {
        lock (_gate)
        {
            switch (e)
            {
                case StageStarted s:
                    _total = s.TotalSteps; _resumedAt = s.ResumedAtStep; _stage = s.Stage;
                    _clock.Restart();
                    Line($"[{s.Stage}] started: {s.TotalEpochs} epochs, {s.TotalSteps} steps{(s.ResumedAtStep > 0 ? $", resuming at step {s.ResumedAtStep}" : "")}{(s.Device is null ? "" : $" on {s.Device}")}");
                    break;
                case StepLogged s:
                    var done = s.Step - _resumedAt;
                    var eta = Format(Eta(done, _total - _resumedAt, _clock.Elapsed));
                    var rates = string.Join(" ", s.LearningRates.Select(kv => $"{kv.Key}={kv.Value.ToString("g3", CultureInfo.InvariantCulture)}"));
                    var text = $"[{_stage}] ep {s.Epoch + 1} step {s.Step}/{_total} loss {F(s.Loss)}{(s.ArchLoss is { } archLoss ? $" arch {F(archLoss)}" : "")} lr {rates} ETA {eta}";
                    if (interactive)
                    {
                        var pct = _total > 0 ? Math.Clamp((double)s.Step / _total, 0, 1) : 0;
                        var bar = new string('#', (int)(pct * 24)).PadRight(24, '.');
                        output.Write($"\r[{bar}] {pct * 100,3:0}% {text}".PadRight(Math.Max(0, 110)));
                        _lineOpen = true;
                    }
                    else if (s.Step % plainEvery == 0 || s.Step == _total) Line(text);
                    break;
                case KnnLogged k: Line($"[{k.Stage}] epoch {k.Epoch + 1} kNN top-1 {k.Top1:0.00}% top-5 {k.Top5:0.00}%{(k.IsBest ? " (best)" : "")}"); break;
                case LinearEvalLogged l: Line($"[{l.Stage}] epoch {l.Epoch + 1} linear top-1 {l.Top1:0.00}% top-5 {l.Top5:0.00}% loss {F(l.TrainLoss)}{(l.IsBest ? " (best)" : "")}"); break;
                case CollapseLogged c: Line($"[{c.Stage}] epoch {c.Epoch + 1} collapse: std ratio {c.StdRatio:0.000}, eff. rank {c.EffectiveRank:0.0}/{c.Dimension}"); break;
                case ThroughputLogged t: Line($"[{t.Stage}] epoch {t.Epoch + 1}: {t.ImagesPerSecond:0.0} img/s (data {t.DataSecondsPerStep:0.000}s + compute {t.ComputeSecondsPerStep:0.000}s per step), {ResidentText(t)}"); break;
                case AlphasLogged a when !interactive && a.Step % (plainEvery * 5) == 0: Line($"[{a.Stage}] step {a.Step} genotype {a.GenotypeText}"); break;
                case GenotypeDerived g: Line($"[{g.Stage}] genotype: {g.GenotypeText}"); break;
                case WarningRaised w: Line($"[{w.Stage}] WARNING ({w.Kind}): {w.Message}"); break;
                case CheckpointSaved c when !interactive: Line($"[{c.Stage}] checkpoint {c.Name} (after {c.Epoch} epoch(s), step {c.Step})"); break; // the event's epoch is the next to run (0-based), i.e. the epochs done
                case LogMessage m: Line($"[{m.Stage}] {m.Level}: {m.Message}"); break;
                case StageFinished f:
                    Line($"[{f.Stage}] {f.Outcome.ToString().ToLowerInvariant()} in {Format(_clock.Elapsed)}{(f.Message is null ? "" : ": " + f.Message)}" +
                         (f.Metrics.Count == 0 ? "" : " (" + string.Join(", ", f.Metrics.Select(kv => $"{kv.Key} {F(kv.Value)}")) + ")"));
                    break;
            }
            output.Flush();
        }
    }

    void Line(string text)
    {
        if (_lineOpen) { output.WriteLine(); _lineOpen = false; }
        output.WriteLine(text);
    }

    static string F(double v) => v.ToString("0.####", CultureInfo.InvariantCulture);

    /// <summary>"RSS 1313 MiB (peak 1402 MiB)", or says it was not measured (never a made-up figure).</summary>
    static string ResidentText(ThroughputLogged t) => t.RssMib is { } rss && t.PeakRssMib is { } peak
        ? string.Create(CultureInfo.InvariantCulture, $"RSS {rss:0} MiB (peak {peak:0} MiB)")
        : "RSS not measured here";
}

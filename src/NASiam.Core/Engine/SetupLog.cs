namespace NASiam.Core.Engine;

/// <summary>
/// Where a model's set-up reports to a run's log. <see cref="Note"/>: how it was set up (the
/// convolution kernels chosen), logged with the stage's start. <see cref="Waiting"/>: a line that
/// announces a wait before the stage can start (the kernel self-check probing, seconds to a minute
/// once per host), logged at once so whoever watches the run sees why nothing moves.
/// </summary>
public sealed record SetupLog(Action<string> Note, Action<string> Waiting);

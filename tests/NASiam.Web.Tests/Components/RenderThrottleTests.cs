using NASiam.Web.Components.Shared;

namespace NASiam.Web.Tests.Components;

public class RenderThrottleTests
{
    [Fact]
    public async Task ABurstRendersAtOnce_ThenOnceAtTheIntervalsEnd_StatusRendersAtOnce_AndNothingAfterStop()
    {
        var throttle = new RenderThrottle(() => TimeSpan.FromMilliseconds(300));
        int renders = 0;
        await throttle.Request(() => renders++);
        Assert.Equal(1, renders); // the first request renders at once

        var burst = Enumerable.Range(0, 10).Select(_ => throttle.Request(() => renders++)).ToList();
        Assert.Equal(1, renders); // inside the interval: scheduled, not drawn yet
        await Task.WhenAll(burst);
        Assert.Equal(2, renders); // one trailing render for the whole burst, not none and not ten

        await throttle.Request(() => renders++, now: true);
        Assert.Equal(3, renders); // a status change does not wait

        var scheduled = throttle.Request(() => renders++);
        throttle.Stop();
        await scheduled;
        Assert.Equal(3, renders); // disposed component: the scheduled render is skipped
    }
}

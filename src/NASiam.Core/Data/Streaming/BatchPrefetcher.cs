using System.Threading.Channels;

namespace NASiam.Core.Data.Streaming;

/// <summary>
/// Reads batches ahead of the training loop on a background task, holding at most
/// <c>depth</c> ready batches in a bounded <see cref="Channel{T}"/> plus the one being
/// decoded, so decoded-but-unused memory is bounded by (Depth + 1) batches whatever the data set's
/// size. Batches come out in the order of the index batches; the read function may itself decode
/// the images of a batch in parallel (<see cref="ImageFolderDataSet.ReadTrainViews(long[], double, double, ulong, int)"/> uses
/// <c>workers</c> threads). An error while reading (e.g. a corrupt file, named in its message) is
/// rethrown to the consumer unchanged at the batch where it happened. Leaving the loop early (break,
/// exception, disposal) stops the reader and disposes every batch read ahead.
/// </summary>
public static class BatchPrefetcher
{
    /// <summary>Default ready batches held ahead (torch DataLoader's prefetch_factor is 2 per worker).</summary>
    public const int DefaultDepth = 2;

    /// <summary>
    /// Enumerates <paramref name="read"/>(indices, ordinal) for each of <paramref name="batches"/>,
    /// reading up to <paramref name="depth"/> batches ahead. The caller owns (disposes) each batch it receives.
    /// </summary>
    public static IEnumerable<T> Prefetch<T>(IEnumerable<long[]> batches, Func<long[], int, T> read, int depth = DefaultDepth,
        CancellationToken cancellationToken = default) where T : IDisposable
    {
        if (depth < 1) throw new ArgumentException($"Prefetch depth must be at least 1; got {depth}.");
        var channel = Channel.CreateBounded<T>(new BoundedChannelOptions(depth)
        {
            SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait,
        });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Exception? failure = null;
        var producer = Task.Run(async () =>
        {
            try
            {
                int ordinal = 0;
                foreach (var indices in batches)
                {
                    stop.Token.ThrowIfCancellationRequested();
                    var item = read(indices, ordinal++);
                    try { await channel.Writer.WriteAsync(item, stop.Token).ConfigureAwait(false); }
                    catch { item.Dispose(); throw; }
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested) { }
            catch (Exception e) { failure = e; }
            finally { channel.Writer.TryComplete(); }
        });
        try
        {
            while (true)
            {
                T item;
                if (channel.Reader.TryRead(out var ready)) item = ready;
                else if (channel.Reader.WaitToReadAsync(cancellationToken).AsTask().GetAwaiter().GetResult()) continue;
                else break;
                yield return item;
            }
            producer.GetAwaiter().GetResult();
            if (failure is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }
        finally
        {
            stop.Cancel();
            try { producer.GetAwaiter().GetResult(); } catch (OperationCanceledException) { }
            while (channel.Reader.TryRead(out var left)) left.Dispose();
        }
    }
}

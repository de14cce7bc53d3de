using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;

namespace NASiam.Web.LoadBench;

/// <summary>
/// The hub protocol blazor.web.js speaks on <c>/_blazor</c>: the SignalR MessagePack protocol under
/// the name "blazorpack" (the server accepts no other name there). It also counts the bytes of every
/// hub message this connection received (length prefix included, WebSocket framing excluded), so a
/// circuit's traffic is measured where the server wrote it.
/// </summary>
public sealed class BlazorPackProtocol : IHubProtocol
{
    readonly MessagePackHubProtocol _inner = new();
    long _bytesReceived;
    long _messagesReceived;

    public string Name => "blazorpack";
    public int Version => _inner.Version;
    public TransferFormat TransferFormat => TransferFormat.Binary;

    /// <summary>Bytes of all hub messages parsed so far (render batches, JS calls, pings, completions).</summary>
    public long BytesReceived => Interlocked.Read(ref _bytesReceived);
    /// <summary>Hub messages parsed so far.</summary>
    public long MessagesReceived => Interlocked.Read(ref _messagesReceived);

    public bool IsVersionSupported(int version) => _inner.IsVersionSupported(version);

    public bool TryParseMessage(ref ReadOnlySequence<byte> input, IInvocationBinder binder, [NotNullWhen(true)] out HubMessage? message)
    {
        long before = input.Length;
        if (!_inner.TryParseMessage(ref input, binder, out message)) return false;
        Interlocked.Add(ref _bytesReceived, before - input.Length);
        Interlocked.Increment(ref _messagesReceived);
        return true;
    }

    public void WriteMessage(HubMessage message, IBufferWriter<byte> output) => _inner.WriteMessage(message, output);

    public ReadOnlyMemory<byte> GetMessageBytes(HubMessage message) => _inner.GetMessageBytes(message);
}

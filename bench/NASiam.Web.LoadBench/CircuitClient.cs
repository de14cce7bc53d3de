using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.AspNetCore.SignalR.Protocol;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace NASiam.Web.LoadBench;

/// <summary>
/// One viewer of a Blazor Server page without a browser: as far as the server can tell, blazor.web.js
/// (.NET 10) on that page. It GETs the page, reads the prerendered server-component markers, connects
/// to <c>/_blazor</c> with the "blazorpack" hub protocol, calls StartCircuit (no initial components: a
/// Blazor Web App adds its root components afterwards) and, once the server attached its renderer,
/// UpdateRootComponents with one "add" per marker. It then acknowledges every render batch in order
/// (OnRenderCompleted; the server holds further batches once too many are unacknowledged) and answers
/// every JS interop call with success (a fresh object id where a JS object reference is expected, null
/// otherwise), so the components' OnAfterRenderAsync work completes as it would in a browser. Nothing
/// is applied to a DOM: it counts render batches and bytes, and watches the batches for a text.
/// </summary>
public sealed class CircuitClient : IAsyncDisposable
{
    const string AttachRenderer = "Blazor._internal.attachWebRendererInterop";

    readonly Uri _page;
    readonly byte[] _watch;
    readonly BlazorPackProtocol _protocol = new();
    readonly HubConnection _connection;
    readonly TaskCompletionSource _rendererAttached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    readonly object _gate = new();
    readonly List<(long At, int Bytes)> _batches = [];
    readonly ConcurrentDictionary<string, int> _jsCalls = new();
    readonly ConcurrentQueue<string> _errors = new();
    long _watchSeenAt = -1;
    string? _circuitId;
    HttpClient? _http;
    long _jsObjectIds;
    // Acks go out in batch order, like the browser's render queue.
    readonly SemaphoreSlim _ackOrder = new(1, 1);

    /// <param name="page">The page to open (absolute).</param>
    /// <param name="watchText">
    /// A text whose appearance in a render batch this client records (e.g. a final run status): matched as
    /// a whole string of the batch's string table, i.e. its UTF-8 bytes preceded by their 7-bit length.
    /// </param>
    public CircuitClient(Uri page, string? watchText = null)
    {
        _page = page;
        _watch = watchText is null ? [] : LengthPrefixed(watchText);
        var builder = new HubConnectionBuilder()
            .WithUrl(new Uri(page, "/_blazor"), o => o.Transports = HttpTransportType.WebSockets)
            .ConfigureLogging(l => l.AddProvider(new ErrorSink(_errors)).SetMinimumLevel(LogLevel.Warning));
        builder.Services.RemoveAll<IHubProtocol>();
        builder.Services.AddSingleton<IHubProtocol>(_protocol);
        _connection = builder.Build();
        // Argument lists as .NET 10's ComponentHub / RemoteRenderer / RemoteJSRuntime send them; a
        // mismatch would be dropped by the client with a binding error (logged: see Errors).
        _connection.On("JS.RenderBatch", [typeof(long), typeof(byte[])], a => OnRenderBatch((long)a[0]!, (byte[])a[1]!));
        _connection.On("JS.BeginInvokeJS", [typeof(long), typeof(string), typeof(string), typeof(int), typeof(long), typeof(int)],
            a => OnBeginInvokeJS((long)a[0]!, (string)a[1]!, (int)a[3]!));
        _connection.On("JS.EndUpdateRootComponents", [typeof(long)], _ => Task.CompletedTask);
        // The browser attaches a root component to its DOM element here; there is no DOM.
        _connection.On("JS.AttachComponent", [typeof(int), typeof(string)], _ => Task.CompletedTask);
        _connection.On("JS.EndInvokeDotNet", [typeof(string), typeof(bool), typeof(string)], _ => Task.CompletedTask);
        _connection.On("JS.Error", [typeof(string)], a => { _errors.Enqueue("JS.Error: " + a[0]); return Task.CompletedTask; });
    }

    /// <summary>Render batches received so far.</summary>
    public int Batches { get { lock (_gate) return _batches.Count; } }
    /// <summary>Render batches received at or after <paramref name="since"/> (Stopwatch timestamp).</summary>
    public int BatchesSince(long since) { lock (_gate) return _batches.Count(b => b.At >= since); }
    /// <summary>Render batch payload bytes received at or after <paramref name="since"/>.</summary>
    public long BatchBytesSince(long since) { lock (_gate) return _batches.Where(b => b.At >= since).Sum(b => (long)b.Bytes); }
    /// <summary>Render batch sizes received at or after <paramref name="since"/>.</summary>
    public List<int> BatchSizesSince(long since) { lock (_gate) return _batches.Where(b => b.At >= since).Select(b => b.Bytes).ToList(); }
    /// <summary>All hub messages' bytes received (batches, JS calls, pings).</summary>
    public long BytesReceived => _protocol.BytesReceived;
    /// <summary>Stopwatch timestamp of the first batch that carried the watched text; -1 if none did.</summary>
    public long WatchSeenAt => Interlocked.Read(ref _watchSeenAt);
    /// <summary>JS interop identifiers the server called, with counts.</summary>
    public IReadOnlyDictionary<string, int> JsCalls => _jsCalls;
    /// <summary>Server-reported errors (JS.Error) and the client's own warnings/errors (e.g. binding failures).</summary>
    public IReadOnlyCollection<string> Errors => _errors;

    /// <summary>
    /// Opens the page and starts its circuit; returns once the root components were added and
    /// <paramref name="readyBatches"/> render batches arrived (the first interactive render, then the
    /// page's OnAfterRender re-render), or throws after <paramref name="timeout"/>.
    /// </summary>
    public async Task StartAsync(HttpClient http, int readyBatches = 2, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(120));
        var html = await http.GetStringAsync(_page, cts.Token);
        var markers = ServerComponentMarkers.Parse(html);
        if (markers.Markers.Count == 0) throw new InvalidOperationException($"{_page}: no interactive server component markers in the page");
        await _connection.StartAsync(cts.Token);
        var baseUri = new Uri(_page, markers.BaseHref).ToString();
        // blazor.web.js: StartCircuit with no initial components ("[]"); the web root component manager
        // adds them once the server attached its renderer (a JS interop call), in one operation batch.
        var circuitId = await _connection.InvokeAsync<string?>("StartCircuit", baseUri, _page.ToString(), "[]", markers.ApplicationState, cts.Token);
        if (string.IsNullOrEmpty(circuitId)) throw new InvalidOperationException($"{_page}: StartCircuit refused ({string.Join("; ", _errors)})");
        _circuitId = circuitId;
        _http = http;
        await _rendererAttached.Task.WaitAsync(cts.Token);
        await _connection.SendAsync("UpdateRootComponents", markers.AddOperationsJson(), markers.ApplicationState, cts.Token);
        while (Batches < readyBatches)
        {
            if (!_errors.IsEmpty && _errors.Any(e => e.StartsWith("JS.Error", StringComparison.Ordinal))) throw new InvalidOperationException($"{_page}: {string.Join("; ", _errors)}");
            await Task.Delay(20, cts.Token);
        }
    }

    async Task OnRenderBatch(long batchId, byte[] data)
    {
        long now = Stopwatch.GetTimestamp();
        lock (_gate) _batches.Add((now, data.Length));
        if (_watch.Length > 0 && Interlocked.Read(ref _watchSeenAt) < 0 && data.AsSpan().IndexOf(_watch) >= 0)
            Interlocked.CompareExchange(ref _watchSeenAt, now, -1);
        await _ackOrder.WaitAsync();
        try { await _connection.SendAsync("OnRenderCompleted", batchId, (string?)null); }
        finally { _ackOrder.Release(); }
    }

    /// <param name="resultType">Microsoft.JSInterop.JSCallResultType: 0 default, 1 JS object reference, 2 stream, 3 void.</param>
    async Task OnBeginInvokeJS(long asyncHandle, string identifier, int resultType)
    {
        _jsCalls.AddOrUpdate(identifier, 1, (_, c) => c + 1);
        if (identifier == AttachRenderer) _rendererAttached.TrySetResult();
        if (asyncHandle == 0) return; // fire and forget: the browser sends no completion either
        // The completion is the JSON array [asyncHandle, succeeded, result] (DotNet.jsCallDispatcher).
        string result = resultType == 1 ? $"{{\"__jsObjectId\":{Interlocked.Increment(ref _jsObjectIds)}}}" : "null";
        await _connection.SendAsync("EndInvokeJSFromDotNet", asyncHandle, true, $"[{asyncHandle},true,{result}]");
    }

    static byte[] LengthPrefixed(string text)
    {
        var utf8 = Encoding.UTF8.GetBytes(text);
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true)) w.Write7BitEncodedInt(utf8.Length);
        ms.Write(utf8);
        return ms.ToArray();
    }

    /// <summary>
    /// Closes the page the way a browser tab does: the unload beacon (<c>POST _blazor/disconnect</c>
    /// with the circuit id) lets the server dispose the circuit at once instead of retaining it for
    /// reconnection, then the connection closes.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (_circuitId is not null && _http is not null)
        {
            using var form = new MultipartFormDataContent { { new StringContent(_circuitId), "circuitId" } };
            try { await _http.PostAsync(new Uri(_page, "/_blazor/disconnect"), form); } catch (HttpRequestException) { }
        }
        try { await _connection.DisposeAsync(); } catch (Exception) { /* closing a dead circuit is not a measurement */ }
        _ackOrder.Dispose();
    }

    /// <summary>Keeps the client's own warnings and errors (a failed argument binding is logged, not thrown).</summary>
    sealed class ErrorSink(ConcurrentQueue<string> sink) : ILoggerProvider, ILogger
    {
        public ILogger CreateLogger(string categoryName) => this;
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel) && sink.Count < 50) sink.Enqueue($"{logLevel}: {formatter(state, exception)}{(exception is null ? "" : " " + exception.Message)}");
        }
        public void Dispose() { }
    }
}

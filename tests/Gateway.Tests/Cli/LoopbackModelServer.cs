using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace InferenceMesh.Tests;

/// <summary>
/// A model file server on real Kestrel (127.0.0.1, port 0) whose misbehaviour each test sets per path: cut the
/// connection mid-body, ignore Range, ignore If-Range, change the file between requests, serve wrong bytes, or answer
/// an error status. Records every request. Shared by the ModelCache and Gateway (CLI) tests.
/// </summary>
internal sealed class LoopbackModelServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, ServedFile> _files = new(StringComparer.Ordinal);

    private LoopbackModelServer(WebApplication app) => _app = app;

    public Uri BaseAddress { get; private set; } = null!;

    public ConcurrentQueue<ServedRequest> Requests { get; } = new();

    public static async Task<LoopbackModelServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var server = new LoopbackModelServer(app);
        app.MapGet("/{**path}", server.ServeAsync);
        await app.StartAsync();
        server.BaseAddress = new Uri(app.Urls.First());
        return server;
    }

    /// <summary>Serves <paramref name="content"/> at <paramref name="path"/> (e.g. "/a/model.gguf"); returns its settings.</summary>
    public ServedFile Serve(string path, byte[] content)
    {
        var file = new ServedFile(content);
        _files[path] = file;
        return file;
    }

    public Uri Url(string path) => new(BaseAddress, path);

    public static string Sha256Hex(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private async Task ServeAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "/";
        var range = context.Request.Headers.Range.ToString();
        var ifRange = context.Request.Headers.IfRange.ToString();
        if (!_files.TryGetValue(path, out var file))
        {
            Requests.Enqueue(new ServedRequest(path, range, ifRange, 404));
            context.Response.StatusCode = 404;
            return;
        }

        if (file.Status is { } status)
        {
            Requests.Enqueue(new ServedRequest(path, range, ifRange, status));
            context.Response.StatusCode = status;
            if (file.Location is { } location)
            {
                context.Response.Headers.Location = location;
            }

            return;
        }

        var (content, etag, lastModified) = file.Snapshot();
        long start = 0;
        var partial = false;
        if (!file.IgnoreRange && range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-')
            && long.TryParse(range.AsSpan(6, range.Length - 7), NumberStyles.None, CultureInfo.InvariantCulture, out var from)
            && (file.IgnoreIfRange || ifRange.Length == 0 || ifRange == etag))
        {
            if (from >= content.Length)
            {
                Requests.Enqueue(new ServedRequest(path, range, ifRange, 416));
                context.Response.StatusCode = 416;
                context.Response.Headers.ContentRange = $"bytes */{content.Length}";
                return;
            }

            start = from;
            partial = true;
        }

        var code = partial ? 206 : 200;
        Requests.Enqueue(new ServedRequest(path, range, ifRange, code));
        context.Response.StatusCode = code;
        context.Response.Headers.ETag = etag;
        context.Response.Headers.LastModified = lastModified.ToString("R", CultureInfo.InvariantCulture);
        context.Response.Headers.AcceptRanges = "bytes";
        context.Response.ContentType = "application/octet-stream";
        if (!file.Chunked)
        {
            context.Response.ContentLength = file.ClaimedLength ?? content.Length - start;
        }

        if (partial)
        {
            context.Response.Headers.ContentRange = $"bytes {start}-{content.Length - 1}/{content.Length}";
        }

        var body = content;
        if (file.CorruptBytes)
        {
            body = content.ToArray();
            body[body.Length / 2] ^= 0xFF; // same length, one wrong byte
        }

        var cutAt = file.TakeCut();
        const int chunk = 16 * 1024;
        for (var offset = start; offset < body.Length; offset += chunk)
        {
            var count = (int)Math.Min(chunk, body.Length - offset);
            if (cutAt is { } cut && offset + count > cut)
            {
                await context.Response.Body.WriteAsync(body.AsMemory((int)offset, (int)Math.Max(0, cut - offset)));
                await context.Response.Body.FlushAsync();
                file.AfterCut?.Invoke(); // before the abort, so the client's next request sees the change
                context.Abort(); // the client sees the body end early (an RST may also drop bytes in flight)
                return;
            }

            await context.Response.Body.WriteAsync(body.AsMemory((int)offset, count), context.RequestAborted);
        }

        if (file.ClaimedLength is not null)
        {
            context.Abort(); // fewer bytes than announced: the body ends early
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    internal sealed record ServedRequest(string Path, string Range, string IfRange, int Status);

    /// <summary>One path's content and misbehaviour; settable between requests.</summary>
    internal sealed class ServedFile(byte[] content)
    {
        private readonly Lock _gate = new();
        private readonly Queue<long> _cuts = new();
        private byte[] _content = content;
        private int _version = 1;

        /// <summary>Answer 200 with the whole file to any Range request.</summary>
        public bool IgnoreRange { get; set; }

        /// <summary>Honour Range even when If-Range names another version (a broken server).</summary>
        public bool IgnoreIfRange { get; set; }

        /// <summary>Serve the right length with one flipped byte.</summary>
        public bool CorruptBytes { get; set; }

        /// <summary>Runs after a response was cut (e.g. to change the file before the client comes back).</summary>
        public Action? AfterCut { get; set; }

        /// <summary>Announce this Content-Length instead of the real one (a lying server), then end after the real bytes.</summary>
        public long? ClaimedLength { get; set; }

        /// <summary>Send no Content-Length (a chunked body of unknown length).</summary>
        public bool Chunked { get; set; }

        /// <summary>Answer this status instead of the file.</summary>
        public int? Status { get; set; }

        /// <summary>The Location header of that answer (a redirect).</summary>
        public string? Location { get; set; }

        /// <summary>The next response is cut (connection aborted) when it reaches this absolute offset; one per call.</summary>
        public void CutOnceAt(long offset)
        {
            lock (_gate)
            {
                _cuts.Enqueue(offset);
            }
        }

        /// <summary>Replaces the file: new ETag and Last-Modified.</summary>
        public void Change(byte[] newContent)
        {
            lock (_gate)
            {
                _content = newContent;
                _version++;
            }
        }

        internal long? TakeCut()
        {
            lock (_gate)
            {
                return _cuts.TryDequeue(out var cut) ? cut : null;
            }
        }

        internal (byte[] Content, string ETag, DateTimeOffset LastModified) Snapshot()
        {
            lock (_gate)
            {
                return (_content, $"\"v{_version}\"", new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero).AddDays(_version));
            }
        }
    }
}

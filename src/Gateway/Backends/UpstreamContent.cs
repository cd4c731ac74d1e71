using System.Buffers;
using System.IO.Compression;

namespace InferenceMesh.Gateway.Backends;

/// <summary>
/// Reads an upstream's response body as the protocol's bytes. The backends never ask for compression (no
/// <c>Accept-Encoding</c>, no automatic decompression: SSE must not be buffered by a compressor), but a proxy in front of an
/// upstream may compress anyway; its <c>gzip</c>, <c>deflate</c> or <c>br</c> body is decoded here instead of being parsed as
/// garbage (which failed over from an upstream that had answered).
/// </summary>
internal static class UpstreamContent
{
    /// <summary>The decoded body, or null when a <c>Content-Encoding</c> is not one the gateway can decode.</summary>
    public static async Task<Stream?> OpenAsync(HttpContent content, CancellationToken cancellationToken)
    {
        var stream = await content.ReadAsStreamAsync(cancellationToken);
        // Listed in the order applied: decode from the last.
        foreach (var encoding in content.Headers.ContentEncoding.Reverse())
        {
            Stream? decoded = encoding.Trim().ToLowerInvariant() switch
            {
                "gzip" or "x-gzip" => new GZipStream(stream, CompressionMode.Decompress),
                "deflate" => new ZLibStream(stream, CompressionMode.Decompress),
                "br" => new BrotliStream(stream, CompressionMode.Decompress),
                "identity" => stream,
                _ => null,
            };
            if (decoded is null)
            {
                await stream.DisposeAsync();
                return null;
            }

            stream = decoded;
        }

        return stream;
    }

    /// <summary>
    /// The whole decoded body, or null when it is larger than <paramref name="limit"/> (decoded) or its encoding unknown.
    /// A declared length shorter than the body throws <see cref="EndOfStreamException"/> (an <see cref="IOException"/>).
    /// </summary>
    public static async Task<byte[]?> ReadBoundedAsync(HttpContent content, int limit, CancellationToken cancellationToken)
    {
        var encoded = content.Headers.ContentEncoding.Count > 0;
        var declared = encoded ? null : content.Headers.ContentLength; // an encoded body's length says nothing of the decoded one
        if (declared > limit)
        {
            return null;
        }

        await using var stream = await OpenAsync(content, cancellationToken);
        if (stream is null)
        {
            return null;
        }

        if (declared is { } length)
        {
            // The usual case: one array of the declared size.
            var exact = new byte[length];
            await stream.ReadExactlyAsync(exact, cancellationToken);
            return exact;
        }

        var buffer = new ArrayBufferWriter<byte>(16 * 1024);
        while (true)
        {
            var read = await stream.ReadAsync(buffer.GetMemory(16 * 1024), cancellationToken);
            if (read == 0)
            {
                return buffer.WrittenSpan.ToArray();
            }

            buffer.Advance(read);
            if (buffer.WrittenCount > limit)
            {
                return null;
            }
        }
    }
}

namespace InferenceMesh.Gateway.Backends;

/// <summary>
/// Sends a forwarded request's body, which the gateway already holds whole, as one <see cref="ByteArrayContent"/>.
/// YARP's forwarder streams the request body through its own content, which flushes the headers before the body: two
/// packets, and two wake-ups of the upstream, on every request. YARP refuses a replaced content in a transformer, so the
/// transformer attaches the bytes (<see cref="Attach"/>) and this handler, under the forwarder's invoker, swaps the
/// content just before the connection writes it; HttpClient then sends headers and a small body in one write. YARP's own
/// content is then never started, which its forwarder treats as "no request body to copy". Requests without attached
/// bytes (probes, the Anthropic client) pass through unchanged.
/// </summary>
internal sealed class WholeBodyHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
{
    private static readonly HttpRequestOptionsKey<byte[]> BodyKey = new("InferenceMesh.WholeBody");

    /// <summary>Marks <paramref name="request"/> to be sent with <paramref name="body"/> as its whole content.</summary>
    public static void Attach(HttpRequestMessage request, byte[] body) => request.Options.Set(BodyKey, body);

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.Options.TryGetValue(BodyKey, out var body) && request.Content is { } streamed)
        {
            var whole = new ByteArrayContent(body);
            foreach (var header in streamed.Headers)
            {
                whole.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }

            whole.Headers.ContentLength = body.Length;
            request.Content = whole; // YARP's content was never started: nothing is read from the client twice
            streamed.Dispose();
        }

        return base.SendAsync(request, cancellationToken);
    }
}

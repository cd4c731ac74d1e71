using System.Net;
using Yarp.ReverseProxy.Forwarder;

namespace InferenceMesh.Gateway.Backends;

/// <summary>
/// The one HTTP client of all remote backends: an <see cref="HttpMessageInvoker"/> over a tuned
/// <see cref="SocketsHttpHandler"/> (no proxy, no redirects, so no credentials on redirects, no
/// decompression, no cookies), and YARP's per-request config (an activity timeout, never a whole-request
/// timeout, no response buffering: buffering breaks SSE). A forwarded body goes out with its headers in one write
/// (<see cref="WholeBodyHandler"/>). Thread-safe; one per process.
/// </summary>
internal sealed class BackendTransport : IDisposable
{
    public BackendTransport(BackendOptions options)
    {
        Invoker = new HttpMessageInvoker(new WholeBodyHandler(new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            ConnectTimeout = options.ConnectTimeout,
            EnableMultipleHttp2Connections = true,
            // Never forward our own trace context to a third party.
            ActivityHeadersPropagator = null,
        }), disposeHandler: true);

        RequestConfig = new ForwarderRequestConfig
        {
            ActivityTimeout = options.ActivityTimeout,
            AllowResponseBuffering = false,
        };
    }

    public HttpMessageInvoker Invoker { get; }

    public ForwarderRequestConfig RequestConfig { get; }

    public void Dispose() => Invoker.Dispose();
}

using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using InferenceMesh.Gateway.Hosting;
using InferenceMesh.Mesh.Configuration;
using InferenceMesh.Mesh.Identity;
using InferenceMesh.Mesh.Receipts;
using InferenceMesh.Mesh.Reputation;
using InferenceMesh.Mesh.Serving;
using InferenceMesh.Router.Routing;
using InferenceMesh.Tests;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace InferenceMesh.Mesh.Tests.Functional;

/// <summary>
/// A real gateway whose peer candidates are two loopback servers that speak the mesh serving protocol over mTLS
/// (named for what they do): the first presents a certificate whose key is not the node id the plan expects (refused,
/// failover to the next peer), the second cuts its stream after two events (the local model finishes the answer in
/// the same stream).
/// </summary>
[Collection("real mesh")]
public sealed class PeerStreamFailoverTests
{
    private sealed class StaticPeers(IReadOnlyList<PeerCandidate> peers) : IPeerCandidateSource
    {
        public IReadOnlyList<PeerCandidate> Current => peers;

        public PeerCandidate? Find(string backend) => peers.FirstOrDefault(p => p.Backend == backend);
    }

    /// <summary>
    /// Speaks <c>POST /mesh/v1/chat/completions</c> over mTLS and records what it received. A stream gets two chunks and
    /// a cut connection once the test says its client read them (<see cref="CutNow"/>); a non-streamed request a good
    /// answer with a receipt signed by another key than its own.
    /// </summary>
    private sealed class LoopbackPeerThatCutsStreams : IAsyncDisposable
    {
        private WebApplication _app = null!;

        public ConcurrentQueue<(string? Privacy, string? Hops, string? ClientId)> Received { get; } = new();

        /// <summary>
        /// Set when the chunks went all the way through: only then is the connection cut. Aborting right after the flush
        /// drops what the socket has not sent yet (a sleep of 100 ms stood in for this and was too short on a busy
        /// machine: the gateway then got nothing, failed over, and answered 502).
        /// </summary>
        public TaskCompletionSource CutNow { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Uri BaseUrl { get; private set; } = null!;

        public async Task StartAsync(NodeIdentity identity, NodeIdentity forger)
        {
            var certificate = NodeCertificate.Create(identity, DateTimeOffset.UtcNow, TimeSpan.FromDays(1));
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.UseHttps(https =>
            {
                https.ServerCertificate = certificate;
                https.ClientCertificateMode = ClientCertificateMode.RequireCertificate;
                https.ClientCertificateValidation = (_, _, _) => true;
            })));
            _app = builder.Build();
            _app.MapPost("/mesh/v1/chat/completions", async (HttpContext http) =>
            {
                var client = http.Connection.ClientCertificate is { } c ? NodeId.FromCertificate(c).ToString() : null;
                Received.Enqueue((http.Request.Headers[PeerHeaders.Privacy], http.Request.Headers[PeerHeaders.Hops], client));
                using var body = await JsonDocument.ParseAsync(http.Request.Body);
                if (!body.RootElement.GetProperty("stream").GetBoolean())
                {
                    var forged = new UsageReceipt
                    {
                        Server = identity.Id.ToString(),
                        Client = client!,
                        RequestSha256 = new string('0', 64),
                        Model = "stories-cut",
                        ModelSha256 = new string('a', 64),
                        PromptTokens = 1,
                        CompletionTokens = 1,
                        TimeMs = 1,
                    }.Sign(forger) with { Server = identity.Id.ToString() };
                    http.Response.Headers[ReceiptWire.Header] = forged.ToWire();
                    http.Response.ContentType = "application/json";
                    await http.Response.WriteAsync("""{"id":"chatcmpl-peer","object":"chat.completion","created":1,"model":"stories-cut","choices":[{"index":0,"message":{"role":"assistant","content":"Once"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}""");
                    return;
                }

                http.Response.ContentType = "text/event-stream";
                foreach (var text in new[] { "", "Once" })
                {
                    var chunk = $$"""{"id":"chatcmpl-peer","object":"chat.completion.chunk","created":1,"model":"stories-cut","choices":[{"index":0,"delta":{"content":{{JsonSerializer.Serialize(text)}}},"finish_reason":null}]}""";
                    await http.Response.WriteAsync($"data: {chunk}\n\n");
                    await http.Response.Body.FlushAsync();
                }

                await CutNow.Task.WaitAsync(http.RequestAborted);
                http.Abort(); // the peer dies mid-answer
            });
            await _app.StartAsync();
            var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            BaseUrl = new Uri(new Uri(address), "/mesh/v1");
        }

        public async ValueTask DisposeAsync() => await _app.DisposeAsync();
    }

    [Fact]
    public async Task A_peer_with_the_wrong_key_is_skipped_and_a_stream_cut_by_the_next_peer_is_finished_locally()
    {
        var root = TestPaths.NewTempDir("im-mesh-cut");
        using var liarKey = NodeIdentity.LoadOrCreate(Path.Combine(root, "impostor.key"));
        using var peerKey = NodeIdentity.LoadOrCreate(Path.Combine(root, "peer.key"));
        using var expectedButAbsent = NodeIdentity.LoadOrCreate(Path.Combine(root, "absent.key"));
        await using var impostor = new LoopbackPeerThatCutsStreams();
        await impostor.StartAsync(liarKey, liarKey);
        await using var peer = new LoopbackPeerThatCutsStreams();
        await peer.StartAsync(peerKey, liarKey);

        PeerCandidate Candidate(NodeId id, Uri url) => new()
        {
            NodeId = id.ToString(),
            Backend = PeerCandidate.BackendName(id.ToString()),
            Trust = PeerTrust.Community,
            BaseUrl = url,
            Models = [new PeerModel("stories-cut", new string('a', 64))],
            Slots = 1,
        };

        // First in the plan: a server that answers with another key than the id the plan names. Then the real peer.
        var candidates = new[] { Candidate(expectedButAbsent.Id, impostor.BaseUrl), Candidate(peerKey.Id, peer.BaseUrl) };
        var models = Path.Combine(root, "models");
        Directory.CreateDirectory(models);
        File.Copy(TestPaths.Stories260K, Path.Combine(models, "stories260K.gguf"));
        var config = Path.Combine(root, "config.yaml");
        // No verification by a share of chance: it would run in the background, towards the peers of this test.
        File.WriteAllText(config, "mesh:\n  listen: 127.0.0.1:0\n  dataDir: data\n  verifyShare: 0\n");
        await using var app = GatewayApp.Build(["--models", models, "--port", "0", "--threads", "1", "--config", config, "--data", Path.Combine(root, "context")], builder =>
        {
            builder.Logging.ClearProviders();
            builder.Services.AddSingleton<IPeerCandidateSource>(new StaticPeers(candidates));
        });
        await app.StartAsync();
        using var http = new HttpClient { BaseAddress = app.GetBoundAddress() };
        var self = app.Services.GetRequiredService<NodeIdentity>().Id;

        var body = """{"model":"stories-cut","messages":[{"role":"user","content":"Once upon a time"}],"max_tokens":12,"temperature":0,"stream":true}""";
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(candidates[1].Backend, string.Join(",", response.Headers.GetValues("X-InferenceMesh-Backend")));

        // One well-framed stream: the peer's two chunks, then the local model's continuation, then [DONE]. The peer
        // cuts its stream once the client has read its "Once": the cut comes after the first bytes, as it should.
        var stream = new StringBuilder();
        using (var reader = new StreamReader(await response.Content.ReadAsStreamAsync()))
        {
            while (await reader.ReadLineAsync() is { } line)
            {
                stream.Append(line).Append('\n');
                if (line.StartsWith("data: {", StringComparison.Ordinal) && line.Contains("\"content\":\"Once\"", StringComparison.Ordinal))
                {
                    peer.CutNow.TrySetResult();
                }
            }
        }

        Assert.True(peer.CutNow.Task.IsCompleted, "the peer's chunks reached the client");
        var events = stream.ToString().Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.All(events, e => Assert.StartsWith("data: ", e));
        Assert.Equal("data: [DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e[6..]).RootElement).ToList();
        Assert.All(chunks, c => Assert.Equal("chatcmpl-peer", c.GetProperty("id").GetString()));
        var text = string.Concat(chunks.Select(c => c.GetProperty("choices")).Where(c => c.GetArrayLength() > 0)
            .Select(c => c[0].GetProperty("delta").TryGetProperty("content", out var t) ? t.GetString() : ""));
        Assert.StartsWith("Once", text);
        Assert.True(text.Length > "Once".Length, "the local model continued the answer");
        Assert.Contains(chunks, c => c.GetProperty("choices").GetArrayLength() > 0 && c.GetProperty("choices")[0].GetProperty("finish_reason").ValueKind == JsonValueKind.String);

        // The impostor never got the prompt (the handshake failed first); the peer got our certificate and the headers.
        Assert.Empty(impostor.Received);
        var received = Assert.Single(peer.Received);
        Assert.Equal(("public", "1", self.ToString()), received);
        Assert.Empty(app.Services.GetRequiredService<ReceiptStore>().List()); // a cut stream has no receipt, and is not held against the peer
        var reputation = app.Services.GetRequiredService<PeerReputation>();
        Assert.Equal(1.0, reputation.ScoreOf(peerKey.Id));

        // Not streamed: a good answer whose receipt is signed by another key. The client gets the answer (no receipt
        // header); the receipt is refused, not stored, and halves the peer's reputation, which /health shows.
        using var plain = await http.PostAsync("/v1/chat/completions", new StringContent(body.Replace("\"stream\":true", "\"stream\":false"), Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        Assert.False(plain.Headers.Contains(ReceiptWire.Header));
        Assert.Empty(app.Services.GetRequiredService<ReceiptStore>().List());
        Assert.Equal((0.5, 1), (reputation.ScoreOf(peerKey.Id), reputation.Get(peerKey.Id).InvalidReceipts));
    }
}

using System.ClientModel;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using InferenceMesh.Gateway.Cli;
using InferenceMesh.Gateway.Hosting;
using InferenceMesh.Mesh.Configuration;
using InferenceMesh.Mesh.Identity;
using InferenceMesh.Mesh.Membership;
using InferenceMesh.Mesh.Receipts;
using InferenceMesh.Mesh.Reputation;
using InferenceMesh.Mesh.Serf;
using InferenceMesh.Mesh.Serving;
using InferenceMesh.Mesh.Tests.Common;
using InferenceMesh.Mesh.Transport;
using InferenceMesh.ModelCache.Gguf;
using InferenceMesh.Router.Routing;
using InferenceMesh.Tests;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenAI;
using OpenAI.Chat;

namespace InferenceMesh.Mesh.Tests.Functional;

/// <summary>
/// Four real gateways (real Kestrel, real serf, real mTLS, stories260K on the real engine) on 127.0.0.2-.5, formed
/// from one bootstrap address, shared by the tests of <see cref="PeerRoutingTests"/> (run in name order; the last one
/// kills node 3).
/// n1: stories260K; trusts n2 (trusted), n3 and n4 (community); its policy aliases stories-node3 to its local model and
/// rates n3 quality 0.95 (so n3 is tried first, then local); verifies every greedy peer answer.
/// n2: stories260K, stories-shared; quota 1 token/minute for the extra identity Q.
/// n3: stories260K, stories-node3, stories-only3, stories-shared (renamed copies of stories260K).
/// n4: stories-liar, advertised with stories260K's digest but replaced by a different model after its digest was taken.
/// n5: no model at all; trusts n2 and n3 (which admit it): it verifies peers on a second peer.
/// </summary>
public sealed class MeshCluster : IAsyncLifetime
{
    public const string Prompt = "Once upon a time";

    /// <summary>One gateway of the cluster: name (n1…), its loopback address, node id, folder and config file.</summary>
    public sealed class Node(string name, string ip, NodeId id, string dir, string configPath)
    {
        public string Name => name;
        public string Ip => ip;
        public NodeId Id => id;
        public string Dir => dir;
        public string ConfigPath => configPath;
        public string Backend => PeerCandidate.BackendName(Id.ToString());
        public RecordingLoggerProvider Logs { get; } = new();
        public WebApplication App { get; set; } = null!;
        public HttpClient Http { get; set; } = null!;
        public bool Stopped { get; set; }
        public T Get<T>() where T : notnull => App.Services.GetRequiredService<T>();
    }

    public List<Node> Nodes { get; } = [];
    public Node N1 => Nodes[0];
    public Node N2 => Nodes[1];
    public Node N3 => Nodes[2];
    public Node N4 => Nodes[3];
    public Node N5 => Nodes[4];
    public NodeIdentity QuotaIdentity { get; private set; } = null!;
    public string Root { get; } = TestPaths.NewTempDir("im-mesh-peers");
    public TimeSpan Formed { get; private set; }

    public async Task InitializeAsync()
    {
        var ips = new[] { "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6" };
        var ids = new NodeId[5];
        for (var i = 0; i < 5; i++)
        {
            using var identity = NodeIdentity.LoadOrCreate(Path.Combine(Root, $"n{i + 1}", "data", MeshDefaults.KeyFileName));
            ids[i] = identity.Id;
        }

        QuotaIdentity = NodeIdentity.LoadOrCreate(Path.Combine(Root, "quota", MeshDefaults.KeyFileName));
        var gossipKey = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        var seedGossip = $"{ips[0]}:{SerfAgentSupervisor.FreeTcpPort(IPAddress.Parse(ips[0]), udpToo: true)}";
        var models = new[]
        {
            new[] { "stories260K" },
            new[] { "stories260K", "stories-shared" },
            new[] { "stories260K", "stories-node3", "stories-only3", "stories-shared" },
            new[] { "stories-liar" },
            Array.Empty<string>(),
        };
        var trust = new[]
        {
            $"    - {{ id: {ids[1]}, level: trusted }}\n    - {{ id: {ids[2]}, level: community }}\n    - {{ id: {ids[3]}, level: community }}",
            $"    - {{ id: {ids[0]}, level: trusted }}\n    - {{ id: {QuotaIdentity.Id}, level: community, tokensPerMinute: 1 }}\n    - {{ id: {ids[4]}, level: community }}",
            $"    - {{ id: {ids[0]}, level: community }}\n    - {{ id: {ids[4]}, level: community }}",
            $"    - {{ id: {ids[0]}, level: community }}",
            $"    - {{ id: {ids[1]}, level: community }}\n    - {{ id: {ids[2]}, level: community }}",
        };

        for (var i = 0; i < 5; i++)
        {
            var dir = Path.Combine(Root, $"n{i + 1}");
            var modelsDir = Path.Combine(dir, "models");
            Directory.CreateDirectory(modelsDir);
            foreach (var model in models[i])
            {
                File.Copy(TestPaths.Stories260K, Path.Combine(modelsDir, model + ".gguf"));
            }

            var policyLine = "";
            if (i == 0)
            {
                File.WriteAllText(Path.Combine(dir, "policy.yaml"), File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "policies", "default.yaml"))
                    .Replace("aliases: {}", "aliases:\n  stories-node3:\n    local: stories260K")
                    .Replace("backends: {}", $"backends:\n  {PeerCandidate.BackendName(ids[2].ToString())}: {{ quality: 0.95 }}"));
                policyLine = "policy: policy.yaml\n";
            }

            var config = Path.Combine(dir, "config.yaml");
            File.WriteAllText(config, policyLine + $"""
                mesh:
                  listen: {ips[i]}:0
                {(i == 0 ? $"  gossip: {seedGossip}" : $"  bootstrap: [{seedGossip}]")}
                  gossipKey: {gossipKey}
                  dataDir: data
                  verifyShare: 1
                  trust:
                {trust[i]}
                """);
            Nodes.Add(new Node($"n{i + 1}", ips[i], ids[i], dir, config));
        }

        var started = Stopwatch.StartNew();
        foreach (var node in Nodes)
        {
            var isThird = node.Name == "n3";
            node.App = GatewayApp.Build(["--models", Path.Combine(node.Dir, "models"), "--host", node.Ip, "--port", "0", "--threads", "1", "--slots", "2", "--config", node.ConfigPath, "--data", Path.Combine(node.Dir, "context")], builder =>
            {
                builder.Logging.ClearProviders();
                builder.Logging.SetMinimumLevel(LogLevel.Trace);
                builder.Logging.AddProvider(node.Logs);
                if (isThird)
                {
                    // Node 3 is killed by the last test: its agent dies without a graceful leave.
                    var descriptor = builder.Services.Single(d => d.ServiceType == typeof(MeshOptions));
                    builder.Services.Remove(descriptor);
                    builder.Services.AddSingleton(((MeshOptions)descriptor.ImplementationInstance!) with { LeaveOnShutdown = false });
                }
            });
            await node.App.StartAsync();
            node.Http = new HttpClient { BaseAddress = node.App.GetBoundAddress(), Timeout = TimeSpan.FromSeconds(60) };
        }

        static bool Sees(IReadOnlyList<PeerInfo> peers, params Node[] nodes) =>
            nodes.All(n => peers.Any(p => p.Id.Equals(n.Id) && p.State == "alive" && p.Advert is not null));
        await WaitForAsync(N1.Get<IPeerDirectory>(), peers => Sees(peers, N2, N3, N4), TimeSpan.FromSeconds(60), "n1 to see n2, n3, n4 alive with adverts");
        await WaitForAsync(N5.Get<IPeerDirectory>(), peers => Sees(peers, N2, N3), TimeSpan.FromSeconds(60), "n5 to see n2, n3 alive with adverts");
        Formed = started.Elapsed;

        // n4's digest of stories-liar is taken (its advert reached n1); now the file changes under it, size and write
        // time kept: n4 keeps advertising stories260K's digest but its engine will load a different model.
        var liar = Path.Combine(N4.Dir, "models", "stories-liar.gguf");
        var written = File.GetLastWriteTimeUtc(liar);
        NegateTensor(liar, "output.weight");
        File.SetLastWriteTimeUtc(liar, written);
    }

    /// <summary>Flips the sign of every F32 value of one tensor: same size, same header, different answers.</summary>
    private static void NegateTensor(string path, string tensor)
    {
        var read = GgufReader.Read(path);
        var info = read.File!.Tensors.Single(t => t.Name == tensor);
        Assert.Equal(GgmlType.F32, info.Type);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        var bytes = new byte[info.ByteCount];
        stream.Position = info.FileOffset;
        stream.ReadExactly(bytes);
        for (var i = 3; i < bytes.Length; i += 4)
        {
            bytes[i] ^= 0x80;
        }

        stream.Position = info.FileOffset;
        stream.Write(bytes);
    }

    /// <summary>Waits for a condition on the directory, re-checked on every change event (and every second, bounded).</summary>
    public static async Task WaitForAsync(IPeerDirectory directory, Func<IReadOnlyList<PeerInfo>, bool> condition, TimeSpan limit, string what)
    {
        var changed = new SemaphoreSlim(0);
        void OnChanged() => changed.Release();
        directory.Changed += OnChanged;
        try
        {
            var watch = Stopwatch.StartNew();
            while (!condition(directory.Peers))
            {
                var left = limit - watch.Elapsed;
                Assert.True(left > TimeSpan.Zero, $"timed out after {limit.TotalSeconds} s waiting for {what}; peers: {string.Join(", ", directory.Peers.Select(p => $"{p.Id.Short}={p.State}/{p.Trust}/{p.LastAdvertError}/{p.Advert?.Models.Count}"))}");
                await changed.WaitAsync(left < TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1));
            }
        }
        finally
        {
            directory.Changed -= OnChanged;
        }
    }

    /// <summary>Waits until a node's reputation table says so: woken by its Changed event, not by polling.</summary>
    public static async Task WaitUntilAsync(PeerReputation reputation, Func<bool> condition, TimeSpan limit, string what)
    {
        using var timeout = new CancellationTokenSource(limit);
        while (true)
        {
            var changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            void OnChanged() => changed.TrySetResult();
            reputation.Changed += OnChanged;
            try
            {
                if (condition())
                {
                    return;
                }

                await changed.Task.WaitAsync(timeout.Token);
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested)
            {
                Assert.Fail($"timed out after {limit.TotalSeconds} s waiting for {what}");
            }
            finally
            {
                reputation.Changed -= OnChanged;
            }
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var node in Nodes)
        {
            node.Http?.Dispose();
            if (!node.Stopped && node.App is not null)
            {
                await node.App.StopAsync();
                await node.App.DisposeAsync();
            }
        }

        QuotaIdentity?.Dispose();
    }
}

[Collection("real mesh")]
[TestCaseOrderer(AlphabeticalOrderer.Name, AlphabeticalOrderer.Assembly)]
public sealed class PeerRoutingTests(MeshCluster cluster) : IClassFixture<MeshCluster>
{
    private static string Stories260KDigest => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(TestPaths.Stories260K)));

    private static StringContent Chat(string model, string content, bool stream = false, int maxTokens = 12) =>
        new(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["model"] = model,
            ["messages"] = new[] { new Dictionary<string, string> { ["role"] = "user", ["content"] = content } },
            ["max_tokens"] = maxTokens,
            ["temperature"] = 0,
            ["stream"] = stream,
        }), Encoding.UTF8, "application/json");

    private static string BackendOf(HttpResponseMessage response) => string.Join(",", response.Headers.GetValues("X-InferenceMesh-Backend"));

    private long Received(MeshCluster.Node node) => node.Get<PeerServingStats>().Received;

    [Fact]
    public async Task A_model_only_node3_has_is_served_by_node3_with_verified_receipts_streamed_or_not()
    {
        var n1 = cluster.N1;
        var n3 = cluster.N3;
        var before = n1.Get<ReceiptStore>().List().Count;
        var servedBefore = n3.Get<PeerServingStats>().Served;

        // The real OpenAI client against node 1; node 3 answers.
        var client = new ChatClient("stories-only3", new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(n1.Http.BaseAddress!, "/v1") });
        var completion = await client.CompleteChatAsync([new UserChatMessage(MeshCluster.Prompt)], new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 12 });
        Assert.True(completion.GetRawResponse().Headers.TryGetValue("X-InferenceMesh-Backend", out var backend));
        Assert.Equal(n3.Backend, backend);
        Assert.False(completion.GetRawResponse().Headers.TryGetValue(ReceiptWire.Header, out _)); // the receipt is ours, not the client's
        Assert.NotEmpty(completion.Value.Content[0].Text);
        Assert.Equal(12, completion.Value.Usage.OutputTokenCount);

        // Streamed: one well-framed stream ending in [DONE]; the receipt comment never reaches the client.
        using var streamed = await n1.Http.PostAsync("/v1/chat/completions", Chat("stories-only3", MeshCluster.Prompt, stream: true));
        Assert.Equal(HttpStatusCode.OK, streamed.StatusCode);
        Assert.Equal(n3.Backend, BackendOf(streamed));
        var sse = await streamed.Content.ReadAsStringAsync();
        Assert.DoesNotContain("imesh-receipt", sse);
        var events = sse.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.All(events, e => Assert.StartsWith("data: ", e));
        Assert.Equal("data: [DONE]", events[^1]);
        var streamedText = string.Concat(events[..^1].Select(e => JsonDocument.Parse(e[6..]).RootElement.GetProperty("choices"))
            .Where(c => c.GetArrayLength() > 0).Select(c => c[0].GetProperty("delta").TryGetProperty("content", out var t) ? t.GetString() : ""));
        Assert.Equal(completion.Value.Content[0].Text, streamedText);

        Assert.Equal(servedBefore + 2, n3.Get<PeerServingStats>().Served);
        var receipts = n1.Get<ReceiptStore>().List();
        Assert.Equal(before + 2, receipts.Count);
        foreach (var stored in receipts.Skip(before))
        {
            var r = stored.Receipt;
            Assert.Equal((n3.Id.ToString(), n1.Id.ToString(), "stories-only3", Stories260KDigest), (r.Server, r.Client, r.Model, r.ModelSha256));
            Assert.Equal(12, r.CompletionTokens);
            Assert.True(r.PromptTokens > 0);
            Assert.Equal(64, r.RequestSha256.Length);
            // Stored as received: the signature still holds, and a changed field breaks it.
            Assert.Equal(ReceiptError.None, r.Verify(n3.Id, n1.Id, r.RequestSha256));
            Assert.Equal(ReceiptError.BadSignature, (r with { CompletionTokens = 1000 }).Verify(n3.Id, n1.Id, r.RequestSha256));
        }

        // mesh receipts lists them (table and JSON).
        var output = new StringWriter();
        Assert.Equal(0, await MeshCli.RunAsync(["mesh", "receipts", "--config", n1.ConfigPath], output, TextWriter.Null));
        Assert.Contains("stories-only3", output.ToString());
        Assert.Contains($"{receipts.Count} receipt(s)", output.ToString());
        var json = new StringWriter();
        Assert.Equal(0, await MeshCli.RunAsync(["mesh", "receipts", "--json", "--config", n1.ConfigPath], json, TextWriter.Null));
        Assert.Equal(receipts.Count, JsonDocument.Parse(json.ToString()).RootElement.GetArrayLength());

        // Every greedy peer answer is verified (verifyShare 1): node 3 serves a renamed stories260K, so it matches.
        var reputation = n1.Get<PeerReputation>();
        await MeshCluster.WaitUntilAsync(reputation, () => reputation.Get(n3.Id).Verified >= 2, TimeSpan.FromSeconds(60), "node 1 to verify node 3's answers");
        Assert.Equal(0, reputation.Get(n3.Id).Mismatches);
        Assert.Equal(1.0, reputation.ScoreOf(n3.Id));

        // The route explanation shows the peer's score terms.
        using var explain = await n1.Http.PostAsync("/v1/route", Chat("stories-only3", MeshCluster.Prompt));
        var plan = (await explain.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("plan");
        var step = Assert.Single(plan.GetProperty("steps").EnumerateArray());
        Assert.Equal(n3.Backend, step.GetProperty("backend").GetString());
        Assert.Equal("peer", step.GetProperty("type").GetString());
        Assert.Equal(1.0, step.GetProperty("breakdown").GetProperty("peer").GetProperty("reputation").GetDouble());
        Assert.Contains(plan.GetProperty("exclusions").EnumerateArray(), e => e.GetProperty("backend").GetString() == cluster.N2.Backend && e.GetProperty("code").GetString() == "ModelNotOffered");
    }

    [Fact]
    public async Task B_an_internal_prompt_goes_only_to_the_trusted_peer()
    {
        var n3Before = Received(cluster.N3);
        for (var i = 0; i < 3; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = Chat("stories-shared", MeshCluster.Prompt) };
            request.Headers.Add("X-InferenceMesh-Privacy", "internal");
            using var response = await cluster.N1.Http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(cluster.N2.Backend, BackendOf(response));
        }

        // Node 3 also has the model, but it is a community peer: never asked.
        Assert.Equal(n3Before, Received(cluster.N3));
        using var explain = new HttpRequestMessage(HttpMethod.Post, "/v1/route") { Content = Chat("stories-shared", MeshCluster.Prompt) };
        explain.Headers.Add("X-InferenceMesh-Privacy", "internal");
        var plan = (await (await cluster.N1.Http.SendAsync(explain)).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("plan");
        var exclusion = plan.GetProperty("exclusions").EnumerateArray().Single(e => e.GetProperty("backend").GetString() == cluster.N3.Backend);
        Assert.Equal("UntrustedPeer", exclusion.GetProperty("code").GetString());
    }

    [Fact]
    public async Task C_a_confidential_prompt_on_node1_never_reaches_another_node()
    {
        const string secret = "CONFIDENTIAL: summarise the board's quarterly numbers, code name Bluefinch.";
        var others = cluster.Nodes.Skip(1).ToList();
        var receivedBefore = others.Select(Received).ToList();
        var receiptsBefore = cluster.N1.Get<ReceiptStore>().List().Count;

        // Control: the same model, public, goes to node 3 (n1 rates it above its local model): the recorder can see.
        using (var pub = await cluster.N1.Http.PostAsync("/v1/chat/completions", Chat("stories-node3", MeshCluster.Prompt)))
        {
            Assert.Equal(cluster.N3.Backend, BackendOf(pub));
        }

        Assert.Equal(receivedBefore[1] + 1, Received(cluster.N3));

        foreach (var stream in new[] { false, true })
        {
            using var response = await cluster.N1.Http.PostAsync("/v1/chat/completions", Chat("stories-node3", secret, stream));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("local", BackendOf(response));
            Assert.Equal("confidential", string.Join(",", response.Headers.GetValues("X-InferenceMesh-Privacy")));
        }

        // Nothing reached another node: no request on their mesh listeners, no receipt, no log line with the text.
        Assert.Equal(receivedBefore.Select((r, i) => others[i] == cluster.N3 ? r + 1 : r), others.Select(Received));
        Assert.Equal(receiptsBefore + 1, cluster.N1.Get<ReceiptStore>().List().Count);
        Assert.All(cluster.Nodes, n => Assert.DoesNotContain(n.Logs.Lines, l => l.Contains("Bluefinch", StringComparison.Ordinal)));
        Assert.All(cluster.Nodes, n => Assert.DoesNotContain(n.Logs.Lines, l => l.Contains(MeshCluster.Prompt, StringComparison.Ordinal)));
        var health = await cluster.N3.Http.GetFromJsonAsync<JsonElement>("/health");
        Assert.Equal(receivedBefore[1] + 1, health.GetProperty("mesh").GetProperty("served").GetProperty("received").GetInt64());
    }

    [Fact]
    public async Task D_unlisted_ids_are_refused_and_peer_requests_are_checked()
    {
        var n2Endpoint = cluster.N2.Get<InferenceMesh.Mesh.Listener.MeshListener>().BoundEndpoint!.ToString();
        using var stranger = NodeIdentity.LoadOrCreate(Path.Combine(cluster.Root, "stranger", MeshDefaults.KeyFileName));
        var certificates = new MeshCertificates(stranger, new MeshOptions { Listen = new IPEndPoint(IPAddress.Loopback, 0) }, TimeProvider.System);
        using (var connections = new PeerConnections(certificates, TimeProvider.System))
        {
            using var request = PeerRequest(n2Endpoint, "public");
            // A valid certificate whose id is not listed: the TLS handshake fails.
            await Assert.ThrowsAsync<HttpRequestException>(() => connections.For(cluster.N2.Id).SendAsync(request, CancellationToken.None));
        }

        // Gossip still shows unlisted nodes: listed as refused, never contacted, never a plan candidate.
        var directory = cluster.N2.Get<IPeerDirectory>();
        await MeshCluster.WaitForAsync(directory, peers => new[] { cluster.N1, cluster.N5 }.All(n => peers.Any(p => p.Id.Equals(n.Id) && p.Advert is not null))
            && new[] { cluster.N3, cluster.N4 }.All(n => peers.Any(p => p.Id.Equals(n.Id))), TimeSpan.FromSeconds(30), "n2 to know every node");
        Assert.All(directory.Peers.Where(p => p.Id.Equals(cluster.N3.Id) || p.Id.Equals(cluster.N4.Id)), p => Assert.Equal(("refused", null), (p.Trust, p.Advert)));
        Assert.Equal(new[] { cluster.N1.Backend, cluster.N5.Backend }.Order(), cluster.N2.Get<IPeerCandidateSource>().Current.Select(c => c.Backend).Order());

        var received = Received(cluster.N2);
        using var quota = new PeerConnections(new MeshCertificates(cluster.QuotaIdentity, new MeshOptions { Listen = new IPEndPoint(IPAddress.Loopback, 0) }, TimeProvider.System), TimeProvider.System);
        var invoker = quota.For(cluster.N2.Id);

        // Listed (community): internal is for trusted peers only in n2's policy → 403; no hop limit → 400.
        using (var response = await invoker.SendAsync(PeerRequest(n2Endpoint, "internal"), CancellationToken.None))
        {
            await AssertError(response, HttpStatusCode.Forbidden, "privacy_not_allowed");
        }

        using (var noHops = PeerRequest(n2Endpoint, "public"))
        {
            noHops.Headers.Remove(PeerHeaders.Hops);
            using var response = await invoker.SendAsync(noHops, CancellationToken.None);
            await AssertError(response, HttpStatusCode.BadRequest, "hop_limit");
        }

        // A confidential prompt sent with a public header: n2 classifies it itself and refuses.
        using (var response = await invoker.SendAsync(PeerRequest(n2Endpoint, "public", "CONFIDENTIAL: the board's numbers"), CancellationToken.None))
        {
            await AssertError(response, HttpStatusCode.Forbidden, "privacy_not_allowed");
        }

        Assert.Equal(received + 3, Received(cluster.N2));
    }

    [Fact]
    public async Task E_a_peer_over_its_quota_gets_429_in_openai_shape()
    {
        var n2Endpoint = cluster.N2.Get<InferenceMesh.Mesh.Listener.MeshListener>().BoundEndpoint!.ToString();
        using var quota = new PeerConnections(new MeshCertificates(cluster.QuotaIdentity, new MeshOptions { Listen = new IPEndPoint(IPAddress.Loopback, 0) }, TimeProvider.System), TimeProvider.System);
        var invoker = quota.For(cluster.N2.Id);

        // tokensPerMinute: 1 for this id: the first request is admitted (and uses more), the next one is refused.
        using (var first = await invoker.SendAsync(PeerRequest(n2Endpoint, "public"), CancellationToken.None))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            var receipt = UsageReceipt.FromWire(string.Join("", first.Headers.GetValues(ReceiptWire.Header)))!;
            Assert.Equal(ReceiptError.None, receipt.Verify(cluster.N2.Id, cluster.QuotaIdentity.Id, receipt.RequestSha256));
        }

        using var second = await invoker.SendAsync(PeerRequest(n2Endpoint, "public"), CancellationToken.None);
        await AssertError(second, HttpStatusCode.TooManyRequests, "peer_quota_exceeded");
        Assert.True(second.Headers.RetryAfter?.Delta > TimeSpan.Zero);
        Assert.Equal(1, cluster.N2.Get<PeerServingStats>().QuotaExceeded);
    }

    [Fact]
    public async Task F_a_peer_that_advertises_a_digest_it_does_not_serve_is_caught_by_verification()
    {
        var n1 = cluster.N1;
        var n4 = cluster.N4;
        var advertised = n1.Get<IPeerDirectory>().Peers.Single(p => p.Id.Equals(n4.Id)).Advert!.Models.Single();
        Assert.Equal(("stories-liar", Stories260KDigest), (advertised.Name, advertised.Sha256));

        using (var response = await n1.Http.PostAsync("/v1/chat/completions", Chat("stories-liar", MeshCluster.Prompt)))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(n4.Backend, BackendOf(response));
        }

        // Node 1 ran the same greedy request on its own stories260K (the advertised digest) and got another answer.
        var reputation = n1.Get<PeerReputation>();
        await MeshCluster.WaitUntilAsync(reputation, () => reputation.Get(n4.Id).Verified >= 1, TimeSpan.FromSeconds(60), "node 1 to verify node 4");
        var record = reputation.Get(n4.Id);
        Assert.Equal(1, record.Mismatches);
        Assert.Equal(0.5, record.Score);
        Assert.Contains(Stories260KDigest, record.LastMismatch);

        var health = await n1.Http.GetFromJsonAsync<JsonElement>("/health");
        var peer = health.GetProperty("mesh").GetProperty("peers").EnumerateArray().Single(p => p.GetProperty("id").GetString() == n4.Id.ToString());
        Assert.Equal(1, peer.GetProperty("reputation").GetProperty("mismatches").GetInt32());
        var peers = await n1.Http.GetFromJsonAsync<JsonElement>("/v1/mesh/peers");
        var listed = peers.GetProperty("peers").EnumerateArray().Single(p => p.GetProperty("id").GetString() == n4.Id.ToString());
        Assert.Equal(0.5, listed.GetProperty("reputation").GetProperty("score").GetDouble());

        // A second mismatch puts it below the floor: it is left out of plans.
        using (var again = await n1.Http.PostAsync("/v1/chat/completions", Chat("stories-liar", MeshCluster.Prompt)))
        {
            Assert.Equal(n4.Backend, BackendOf(again));
        }

        await MeshCluster.WaitUntilAsync(reputation, () => reputation.Get(n4.Id).Mismatches >= 2, TimeSpan.FromSeconds(60), "the second verification");
        using var excluded = await n1.Http.PostAsync("/v1/chat/completions", Chat("stories-liar", MeshCluster.Prompt));
        await AssertError(excluded, HttpStatusCode.ServiceUnavailable, "no_backend_available");
        Assert.Contains("LowReputation", await (await n1.Http.PostAsync("/v1/route", Chat("stories-liar", MeshCluster.Prompt))).Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task G_a_node_without_the_model_verifies_a_peer_on_a_second_peer()
    {
        var n5 = cluster.N5;
        var before = n5.Get<ReceiptStore>().List().Count;
        using (var response = await n5.Http.PostAsync("/v1/chat/completions", Chat("stories-shared", MeshCluster.Prompt)))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Contains(BackendOf(response), new[] { cluster.N2.Backend, cluster.N3.Backend });
        }

        // n5 has no model with stories260K's digest: it asked the other of n2 and n3 (both allowed for public), which
        // answered the same; both receipts are stored.
        var reputation = n5.Get<PeerReputation>();
        await MeshCluster.WaitUntilAsync(reputation, () => reputation.Get(cluster.N2.Id).Verified + reputation.Get(cluster.N3.Id).Verified >= 1,
            TimeSpan.FromSeconds(60), "n5 to verify on a second peer");
        Assert.Equal(0, reputation.Get(cluster.N2.Id).Mismatches + reputation.Get(cluster.N3.Id).Mismatches);
        var receipts = n5.Get<ReceiptStore>().List().Skip(before).Select(r => r.Receipt.Server).Order().ToList();
        Assert.Equal(new[] { cluster.N2.Id.ToString(), cluster.N3.Id.ToString() }.Order(), receipts);
        var health = await n5.Http.GetFromJsonAsync<JsonElement>("/health");
        Assert.Equal(0, health.GetProperty("mesh").GetProperty("verification").GetProperty("unverifiable").GetInt64());
    }

    [Fact]
    public async Task H_a_json_answer_from_a_peer_is_verified_under_the_same_grammar()
    {
        var n1 = cluster.N1;
        var n3 = cluster.N3;
        var reputation = n1.Get<PeerReputation>();
        var (verifiedBefore, mismatchesBefore) = (reputation.Get(n3.Id).Verified, reputation.Get(n3.Id).Mismatches);
        var body = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["model"] = "stories-only3",
            ["messages"] = new[] { new Dictionary<string, string> { ["role"] = "user", ["content"] = MeshCluster.Prompt } },
            ["max_tokens"] = 16,
            ["temperature"] = 0,
            ["response_format"] = new Dictionary<string, string> { ["type"] = "json_object" },
        });

        using var response = await n1.Http.PostAsync("/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(n3.Backend, BackendOf(response));
        var text = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString();
        Assert.StartsWith("{", text); // node 3 ran it under the grammar
        // Node 1's copy runs under the same grammar, so an honest peer matches (a free-text copy would not).
        await MeshCluster.WaitUntilAsync(reputation, () => reputation.Get(n3.Id).Verified > verifiedBefore, TimeSpan.FromSeconds(60), "node 1 to verify node 3's JSON answer");
        Assert.Equal(mismatchesBefore, reputation.Get(n3.Id).Mismatches);
    }

    [Fact]
    public async Task Z_when_node3_is_killed_requests_fall_back_to_local_or_fail_clearly()
    {
        var n1 = cluster.N1;
        using (var before = await n1.Http.PostAsync("/v1/chat/completions", Chat("stories-node3", MeshCluster.Prompt)))
        {
            Assert.Equal(cluster.N3.Backend, BackendOf(before));
        }

        cluster.N3.Stopped = true;
        await cluster.N3.App.StopAsync();
        await cluster.N3.App.DisposeAsync();

        // n1 has not noticed yet: the plan still starts at node 3, whose connection is refused, then its local model answers.
        using (var fallback = await n1.Http.PostAsync("/v1/chat/completions", Chat("stories-node3", MeshCluster.Prompt)))
        {
            Assert.Equal(HttpStatusCode.OK, fallback.StatusCode);
            Assert.Equal("local", BackendOf(fallback));
        }

        using (var streamed = await n1.Http.PostAsync("/v1/chat/completions", Chat("stories-node3", MeshCluster.Prompt, stream: true)))
        {
            Assert.Equal("local", BackendOf(streamed));
            Assert.EndsWith("data: [DONE]\n\n", await streamed.Content.ReadAsStringAsync());
        }

        // A model only node 3 had, and no local alias: a clear error in OpenAI's shape, nothing sent anywhere else.
        using var gone = await n1.Http.PostAsync("/v1/chat/completions", Chat("stories-only3", MeshCluster.Prompt));
        Assert.True(gone.StatusCode is HttpStatusCode.BadGateway or HttpStatusCode.NotFound or HttpStatusCode.ServiceUnavailable, $"got {gone.StatusCode}");
        var error = (await gone.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
        Assert.Contains(error.GetProperty("code").GetString(), new[] { "backends_failed", "model_not_found", "no_backend_available" });
        Assert.Equal("none", BackendOf(gone));

        // Serf marks it failed; it is no longer a candidate at all.
        var watch = Stopwatch.StartNew();
        await MeshCluster.WaitForAsync(n1.Get<IPeerDirectory>(), p => p.Any(x => x.Id.Equals(cluster.N3.Id) && x.State == "failed"), TimeSpan.FromSeconds(45), "n1 to mark n3 failed");
        Console.WriteLine($"mesh formed in {cluster.Formed.TotalSeconds:F1} s; killed node marked failed in {watch.Elapsed.TotalSeconds:F1} s");
        using var after = await n1.Http.PostAsync("/v1/chat/completions", Chat("stories-only3", MeshCluster.Prompt));
        await AssertError(after, HttpStatusCode.NotFound, "model_not_found");
    }

    private static HttpRequestMessage PeerRequest(string endpoint, string privacy, string content = MeshCluster.Prompt)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"https://{endpoint}/mesh/v1/chat/completions") { Content = Chat("stories260K", content) };
        request.Headers.Add(PeerHeaders.Privacy, privacy);
        request.Headers.Add(PeerHeaders.Hops, "1");
        return request;
    }

    private static async Task AssertError(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {status}, got {response.StatusCode}: {body}");
        var error = JsonDocument.Parse(body).RootElement.GetProperty("error");
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        Assert.True(error.TryGetProperty("type", out _));
        Assert.True(error.TryGetProperty("param", out _));
    }
}

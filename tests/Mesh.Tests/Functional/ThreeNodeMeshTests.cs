using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using InferenceMesh.Gateway.Hosting;
using InferenceMesh.Mesh.Configuration;
using InferenceMesh.Mesh.Identity;
using InferenceMesh.Mesh.Membership;
using InferenceMesh.Mesh.Serf;
using InferenceMesh.Tests;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace InferenceMesh.Mesh.Tests.Functional;

/// <summary>
/// Three real gateway hosts (GatewayApp.Build, real Kestrel) on 127.0.0.2, .3 and .4, each with its own real
/// serf agent, forming a mesh from one bootstrap address. Node 3 serves a model the others do not.
/// </summary>
[Collection("real mesh")]
public sealed class ThreeNodeMeshTests
{
    private sealed class Node : IAsyncDisposable
    {
        public required string Name { get; init; }
        public required NodeId Id { get; init; }
        public required string ConfigPath { get; init; }
        public required string ModelsDir { get; init; }
        public WebApplication App { get; set; } = null!;
        public HttpClient Http { get; set; } = null!;
        public IPeerDirectory Directory => App.Services.GetRequiredService<IPeerDirectory>();
        private bool _stopped;

        public async Task StopAsync()
        {
            _stopped = true;
            await App.StopAsync();
            await App.DisposeAsync();
        }

        public async ValueTask DisposeAsync()
        {
            Http?.Dispose();
            if (!_stopped && App is not null)
            {
                await StopAsync();
            }
        }
    }

    [Fact]
    public async Task Three_nodes_form_a_mesh_from_one_bootstrap_see_adverts_and_detect_a_killed_node()
    {
        var root = TestPaths.NewTempDir("im-mesh-3");
        var gossipKey = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        var ips = new[] { "127.0.0.2", "127.0.0.3", "127.0.0.4" };
        var ids = new NodeId[3];
        for (var i = 0; i < 3; i++)
        {
            using var identity = NodeIdentity.LoadOrCreate(Path.Combine(root, $"n{i + 1}", "data", MeshDefaults.KeyFileName));
            ids[i] = identity.Id;
        }

        var seedGossip = $"{ips[0]}:{SerfAgentSupervisor.FreeTcpPort(IPAddress.Parse(ips[0]), udpToo: true)}";
        var nodes = new List<Node>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var dir = Path.Combine(root, $"n{i + 1}");
                var models = Path.Combine(dir, "models");
                System.IO.Directory.CreateDirectory(models);
                File.Copy(TestPaths.Stories260K, Path.Combine(models, "stories260K.gguf"));
                if (i == 2)
                {
                    File.Copy(TestPaths.Stories260K, Path.Combine(models, "stories-node3.gguf"));
                }

                var trust = string.Join("\n", Enumerable.Range(0, 3).Where(j => j != i).Select(j => $"    - {{ id: {ids[j]}, level: {(j == 0 ? "trusted" : "community")} }}"));
                var config = Path.Combine(dir, "config.yaml");
                File.WriteAllText(config, $"""
                    mesh:
                      listen: {ips[i]}:0
                    {(i == 0 ? $"  gossip: {seedGossip}" : $"  bootstrap: [{seedGossip}]")}
                      gossipKey: {gossipKey}
                      dataDir: data
                      jurisdiction: EU
                      pricePerMillionTokens: {i}
                      trust:
                    {trust}
                    """);
                nodes.Add(new Node { Name = $"n{i + 1}", Id = ids[i], ConfigPath = config, ModelsDir = models });
            }

            var started = Stopwatch.StartNew();
            foreach (var node in nodes)
            {
                var isThird = node.Name == "n3";
                node.App = GatewayApp.Build(["--models", node.ModelsDir, "--host", ips[nodes.IndexOf(node)], "--port", "0", "--threads", "1", "--config", node.ConfigPath, "--data", Path.Combine(Path.GetDirectoryName(node.ConfigPath)!, "context")], builder =>
                {
                    builder.Logging.ClearProviders();
                    if (isThird)
                    {
                        // Node 3 is "killed" below: its agent dies without a graceful leave.
                        var descriptor = builder.Services.Single(d => d.ServiceType == typeof(MeshOptions));
                        builder.Services.Remove(descriptor);
                        builder.Services.AddSingleton(((MeshOptions)descriptor.ImplementationInstance!) with { LeaveOnShutdown = false });
                    }
                });
                await node.App.StartAsync();
                node.Http = new HttpClient { BaseAddress = node.App.GetBoundAddress() };
            }

            // Every node sees the two others alive, with adverts; node 3's extra model is visible to 1 and 2.
            foreach (var node in nodes)
            {
                await MeshCluster.WaitForAsync(node.Directory, peers => peers.Count == 2 && peers.All(p => p.State == "alive" && p.Advert is not null), TimeSpan.FromSeconds(60), $"{node.Name} to see two alive peers with adverts");
            }

            var formed = started.Elapsed;
            var peers = await nodes[0].Http.GetFromJsonAsync<JsonElement>("/v1/mesh/peers");
            Assert.True(peers.GetProperty("enabled").GetBoolean());
            Assert.Equal(ids[0].ToString(), peers.GetProperty("self").GetString());
            var third = peers.GetProperty("peers").EnumerateArray().Single(p => p.GetProperty("id").GetString() == ids[2].ToString());
            Assert.Equal("alive", third.GetProperty("state").GetString());
            Assert.Equal("community", third.GetProperty("trust").GetString());
            Assert.StartsWith("127.0.0.4:", third.GetProperty("https").GetString(), StringComparison.Ordinal);
            var names = third.GetProperty("models").EnumerateArray().Select(m => m.GetProperty("name").GetString()).Order().ToList();
            Assert.Equal(["stories-node3", "stories260K"], names);
            Assert.All(third.GetProperty("models").EnumerateArray(), m => Assert.Equal(64, m.GetProperty("sha256").GetString()!.Length));
            Assert.Equal("EU", third.GetProperty("jurisdiction").GetString());
            var second = nodes[2].Directory.Peers.Single(p => p.Id.Equals(ids[1]));
            Assert.Equal(["stories260K"], second.Advert!.Models.Select(m => m.Name));

            // Kill node 3 (its serf agent is killed, no leave): both others mark it failed within the bound.
            var killed = Stopwatch.StartNew();
            await nodes[2].StopAsync();
            await Task.WhenAll(nodes.Take(2).Select(n => MeshCluster.WaitForAsync(n.Directory, p => p.Any(x => x.Id.Equals(ids[2]) && x.State == "failed"), TimeSpan.FromSeconds(45), $"{n.Name} to mark n3 failed")));
            var detected = killed.Elapsed;
            Console.WriteLine($"mesh formed in {formed.TotalSeconds:F1} s; killed node marked failed in {detected.TotalSeconds:F1} s");
            Assert.True(detected < TimeSpan.FromSeconds(30), $"failure detection took {detected}");
        }
        finally
        {
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }
        }
    }
}

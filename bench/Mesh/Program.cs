using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using InferenceMesh.Mesh.Configuration;
using InferenceMesh.Mesh.Identity;
using InferenceMesh.Mesh.Serf;
using Microsoft.Extensions.Logging.Abstractions;

// Mesh benchmarks (loopback only, bounded in count and time):
//  1. convergence: N real serf agents on 127.0.1.x; every agent but the seed joins the seed's address at once;
//     time until every agent sees N alive members. Then one agent is killed (SIGKILL, no leave): time until every
//     other agent reports it failed (serf's failure detector, memberlist LAN defaults).
//  2. peer hop: two real gateway processes A and B; B serves stories260K as "stories-b", A has no such model.
//     A request to B for stories-b (a local call) against the same request to A (one peer hop over mTLS to B),
//     interleaved, sequential, non-streamed, 8 greedy tokens; added latency = A − B.
// Settings (environment): MESH_SIZES=3,10  MESH_ROUNDS=3  MESH_REQUESTS=200  MESH_WARMUP=20
//   GATEWAY_BIN=path to the inference-mesh executable  MODEL=path to stories260K.gguf  MESH_SKIP_HOP=1  MESH_SKIP_SERF=1
var sizes = Env("MESH_SIZES", "3,10").Split(',').Select(int.Parse).ToArray();
var rounds = int.Parse(Env("MESH_ROUNDS", "3"), CultureInfo.InvariantCulture);
var requests = int.Parse(Env("MESH_REQUESTS", "200"), CultureInfo.InvariantCulture);
var warmup = int.Parse(Env("MESH_WARMUP", "20"), CultureInfo.InvariantCulture);
var work = Directory.CreateTempSubdirectory("bench-mesh-").FullName;
var table = new StringBuilder();
table.AppendLine("| measurement | n | median | min | max | samples |");
table.AppendLine("|---|---|---|---|---|---|");

try
{
    if (Env("MESH_SKIP_SERF", "") != "1")
    {
        foreach (var size in sizes)
        {
            var converge = new List<double>();
            var detect = new List<double>();
            for (var round = 0; round < rounds; round++)
            {
                var (c, d) = await ConvergeAndDetectAsync(size, Path.Combine(work, $"serf-{size}-{round}"));
                converge.Add(c);
                detect.Add(d);
                Console.Error.WriteLine($"  {size} nodes, round {round + 1}: converged {c:F2} s, dead peer detected {d:F2} s");
            }

            Row($"convergence from one bootstrap address (s)", size, converge, "F2");
            Row($"dead peer marked failed by every other node (s)", size, detect, "F2");
        }
    }

    if (Env("MESH_SKIP_HOP", "") != "1")
    {
        var (local, hop) = await PeerHopAsync(Path.Combine(work, "hop"), requests, warmup);
        Row("local call on B, request latency (ms)", 1, local, "F2");
        Row("A → peer hop → B, request latency (ms)", 2, hop, "F2");
        var added = Median(hop) - Median(local);
        table.AppendLine(CultureInfo.InvariantCulture, $"| added latency of one peer hop, median (ms) | 2 | {added:F2} | | | {requests} |");
        table.AppendLine(CultureInfo.InvariantCulture, $"| ratio hop / local, median | 2 | {Median(hop) / Median(local):F2} | | | {requests} |");
    }
}
finally
{
    try { Directory.Delete(work, recursive: true); } catch (IOException) { }
}

Console.WriteLine(table.ToString());
return 0;

void Row(string what, int n, List<double> samples, string format) =>
    table.AppendLine(CultureInfo.InvariantCulture,
        $"| {what} | {n} | {Median(samples).ToString(format, CultureInfo.InvariantCulture)} | {samples.Min().ToString(format, CultureInfo.InvariantCulture)} | {samples.Max().ToString(format, CultureInfo.InvariantCulture)} | {samples.Count} |");

static string Env(string name, string fallback) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : fallback;

static double Median(List<double> values)
{
    var sorted = values.Order().ToList();
    return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
}

static async Task<(double Converge, double Detect)> ConvergeAndDetectAsync(int size, string dir)
{
    var agents = new List<(SerfAgentSupervisor Agent, SerfRpcClient Rpc, string Name, IPEndPoint Bind)>();
    try
    {
        for (var i = 0; i < size; i++)
        {
            var ip = IPAddress.Parse($"127.0.1.{10 + i}");
            var bind = new IPEndPoint(ip, SerfAgentSupervisor.FreeTcpPort(ip, udpToo: true));
            var options = new MeshOptions { Listen = new IPEndPoint(ip, 0), DataDirectory = Path.Combine(dir, $"a{i}"), LeaveOnShutdown = false };
            var agent = new SerfAgentSupervisor(options, TimeProvider.System, NullLogger<SerfAgentSupervisor>.Instance);
            agent.Start(new SerfAgentSpec($"bench-{i}", bind, new Dictionary<string, string>()));
            agents.Add((agent, await ConnectAsync(agent), $"bench-{i}", bind));
        }

        var seed = agents[0].Bind.ToString();
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(agents.Skip(1).Select(a => a.Rpc.JoinAsync([seed], CancellationToken.None)));
        await WaitAsync(async () =>
        {
            foreach (var a in agents)
            {
                var (members, _) = await a.Rpc.MembersAsync(CancellationToken.None);
                if (members.Count(m => m.Status == "alive") < size) return false;
            }

            return true;
        }, TimeSpan.FromSeconds(120), "convergence");
        var converge = watch.Elapsed.TotalSeconds;

        var victim = agents[^1];
        Process.GetProcessById(victim.Agent.ProcessId!.Value).Kill();
        await victim.Agent.DisposeAsync(); // stops restarting it
        watch.Restart();
        await WaitAsync(async () =>
        {
            foreach (var a in agents.Take(size - 1))
            {
                var (members, _) = await a.Rpc.MembersAsync(CancellationToken.None);
                if (!members.Any(m => m.Name == victim.Name && m.Status == "failed")) return false;
            }

            return true;
        }, TimeSpan.FromSeconds(120), "failure detection");
        return (converge, watch.Elapsed.TotalSeconds);
    }
    finally
    {
        foreach (var a in agents)
        {
            await a.Rpc.DisposeAsync();
            await a.Agent.DisposeAsync();
        }
    }
}

static async Task<SerfRpcClient> ConnectAsync(SerfAgentSupervisor agent)
{
    var watch = Stopwatch.StartNew();
    while (true)
    {
        var (client, _, _) = await SerfRpcClient.ConnectAsync(agent.RpcEndpoint, agent.AuthKey, CancellationToken.None);
        if (client is not null) return client;
        if (watch.Elapsed > TimeSpan.FromSeconds(15)) throw new TimeoutException("serf agent RPC did not come up");
        await Task.Delay(50);
    }
}

static async Task WaitAsync(Func<Task<bool>> condition, TimeSpan limit, string what)
{
    var watch = Stopwatch.StartNew();
    while (!await condition())
    {
        if (watch.Elapsed > limit) throw new TimeoutException($"timed out waiting for {what}");
        await Task.Delay(25);
    }
}

static async Task<(List<double> Local, List<double> Hop)> PeerHopAsync(string dir, int requests, int warmup)
{
    var gateway = Env("GATEWAY_BIN", "");
    var model = Env("MODEL", "");
    if (!File.Exists(gateway) || !File.Exists(model))
    {
        throw new InvalidOperationException("GATEWAY_BIN and MODEL must name the gateway executable and stories260K.gguf");
    }

    var ips = new[] { "127.0.1.100", "127.0.1.101" };
    var ids = new NodeId[2];
    for (var i = 0; i < 2; i++)
    {
        using var identity = NodeIdentity.LoadOrCreate(Path.Combine(dir, $"n{i}", "data", MeshDefaults.KeyFileName));
        ids[i] = identity.Id;
    }

    var seed = $"{ips[1]}:{SerfAgentSupervisor.FreeTcpPort(IPAddress.Parse(ips[1]), udpToo: true)}";
    var processes = new List<Process>();
    var clients = new HttpClient[2];
    try
    {
        for (var i = 0; i < 2; i++)
        {
            var nodeDir = Path.Combine(dir, $"n{i}");
            var models = Path.Combine(nodeDir, "models");
            Directory.CreateDirectory(models);
            if (i == 1) File.Copy(model, Path.Combine(models, "stories-b.gguf"));
            var port = SerfAgentSupervisor.FreeTcpPort(IPAddress.Parse(ips[i]));
            File.WriteAllText(Path.Combine(nodeDir, "config.yaml"), $"""
                mesh:
                  listen: {ips[i]}:0
                {(i == 1 ? $"  gossip: {seed}" : $"  bootstrap: [{seed}]")}
                  dataDir: data
                  verifyShare: 0
                  trust:
                    - {"{"} id: {ids[1 - i]}, level: community {"}"}
                """);
            var start = new ProcessStartInfo(gateway) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = nodeDir };
            foreach (var arg in new[] { "--models", models, "--host", ips[i], "--port", port.ToString(CultureInfo.InvariantCulture), "--threads", "1", "--config", Path.Combine(nodeDir, "config.yaml") })
            {
                start.ArgumentList.Add(arg);
            }

            start.Environment["Logging__LogLevel__Default"] = "Warning";
            var process = Process.Start(start)!;
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            processes.Add(process);
            clients[i] = new HttpClient { BaseAddress = new Uri($"http://{ips[i]}:{port}"), Timeout = TimeSpan.FromSeconds(30) };
        }

        // A sees B alive with its advert.
        await WaitAsync(async () =>
        {
            try
            {
                var peers = await clients[0].GetFromJsonAsync<JsonElement>("/v1/mesh/peers");
                return peers.GetProperty("peers").EnumerateArray().Any(p => p.GetProperty("state").GetString() == "alive" && p.GetProperty("models").GetArrayLength() > 0);
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(60), "the two gateways to see each other");

        var body = """{"model":"stories-b","messages":[{"role":"user","content":"Once upon a time"}],"max_tokens":8,"temperature":0}""";
        async Task<double> TimeAsync(HttpClient client, string expectedBackend)
        {
            var watch = Stopwatch.StartNew();
            using var response = await client.PostAsync("/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));
            await response.Content.ReadAsByteArrayAsync();
            var elapsed = watch.Elapsed.TotalMilliseconds;
            var backend = string.Join(",", response.Headers.GetValues("X-InferenceMesh-Backend"));
            if (response.StatusCode != HttpStatusCode.OK || !backend.StartsWith(expectedBackend, StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"unexpected answer {response.StatusCode} from {backend}");
            }

            return elapsed;
        }

        for (var i = 0; i < warmup; i++)
        {
            await TimeAsync(clients[1], "local");
            await TimeAsync(clients[0], "peer-");
        }

        var local = new List<double>();
        var hop = new List<double>();
        for (var i = 0; i < requests; i++)
        {
            local.Add(await TimeAsync(clients[1], "local"));
            hop.Add(await TimeAsync(clients[0], "peer-"));
        }

        return (local, hop);
    }
    finally
    {
        foreach (var client in clients) client?.Dispose();
        foreach (var process in processes)
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }

            process.Dispose();
        }
    }
}

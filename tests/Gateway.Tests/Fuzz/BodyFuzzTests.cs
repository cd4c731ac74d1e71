using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using InferenceMesh.Gateway.Tests.Common;
using InferenceMesh.Gateway.Tests.Context;
using InferenceMesh.Gateway.Tests.Rag;
using InferenceMesh.ModelCache.Store;
using InferenceMesh.Tests;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace InferenceMesh.Gateway.Tests.Fuzz;

/// <summary>
/// A seeded, structure-aware fuzz of every JSON endpoint on the real gateway (stories260K, real SQLite, loopback HTTP):
/// a few hundred mutated bodies per endpoint (<see cref="JsonBodyMutator"/>), broken uploads (<see cref="MultipartBodyMutator"/>)
/// and hostile ids and list queries on every route (<see cref="FuzzRoutes"/>). Each answer must keep the promise of
/// <see cref="FuzzVerdict"/>; afterwards the gateway still answers, what it held before is all there, and its databases pass
/// <c>PRAGMA integrity_check</c>. The seed is fixed; INFERENCE_MESH_FUZZ_SEED runs another one (printed in every failure).
/// </summary>
public sealed class BodyFuzzTests(ITestOutputHelper output)
{
    private const int DefaultSeed = 20_260_101;

    /// <summary>Cases per unit of <see cref="FuzzTarget.Share"/>: about 160 per endpoint of the usual weight 4.</summary>
    private const int CasesPerShare = 40;

    private const int UploadCases = 150;

    [Fact]
    public async Task Hostile_bodies_paths_and_queries_get_clear_4xx_errors_and_nothing_is_lost()
    {
        var seed = Environment.GetEnvironmentVariable("INFERENCE_MESH_FUZZ_SEED") is { Length: > 0 } chosen ? int.Parse(chosen, System.Globalization.CultureInfo.InvariantCulture) : DefaultSeed;
        output.WriteLine($"fuzz seed {seed}");
        var models = TestPaths.NewTempDir("im-fuzz-models");
        var data = TestPaths.NewTempDir("im-fuzz-data");
        try
        {
            var store = ModelStoreFactory.Open(models);
            var imported = await store.ImportFileAsync(TestPaths.Stories260K, new ModelRegistration { Name = TestEnvironment.Stories }, CancellationToken.None);
            Assert.True(imported.Succeeded, imported.Message);

            await using (var gateway = await TestEnvironment.StartAsync(e =>
            {
                e.ModelsDirectory = models;
                e.DataDirectory = data;
                e.ContextLength = 512;
                // No BitTorrent engine: share and pull answer 503 torrent_engine_unavailable instead of starting one per case.
                e.ExtraArgs.AddRange(["--qbittorrent-nox", "/nonexistent/qbittorrent-nox"]);
            }))
            {
                using var http = new HttpClient { BaseAddress = gateway.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
                var resources = await CreateResourcesAsync(http);
                var kept = await SnapshotAsync(http, resources);
                var failures = new List<string>();
                var run = new FuzzRun(http, new FuzzVerdict([data, models, TestPaths.RepoRoot, Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) + "/"]), seed, failures);
                var clock = Stopwatch.StartNew();

                var targets = FuzzTargets.All(resources);
                for (var t = 0; t < targets.Count; t++)
                {
                    var target = targets[t];
                    var valid = await run.SendAsync(target.Name, HttpMethod.Post, target.Path, new Mutation("the valid body", Encoding.UTF8.GetBytes(target.Body.ToJsonString()), JsonBodyMutator.Json));
                    Assert.True(valid.Status == target.ValidStatus, $"{target.Name}: the valid body answered {valid.Status}, not {target.ValidStatus}: {valid.Body}");
                    var started = clock.Elapsed;
                    var mutator = new JsonBodyMutator(new Random(unchecked(seed + (7_919 * (t + 1))))); // not HashCode: it differs per process
                    for (var i = 0; i < target.Share * CasesPerShare; i++)
                    {
                        await run.SendAsync(target.Name, HttpMethod.Post, target.Path, mutator.Next(target.Body));
                    }

                    output.WriteLine($"{target.Name}: {target.Share * CasesPerShare} cases in {(clock.Elapsed - started).TotalSeconds:F1} s, {run.TakeStatusCounts()}");
                }

                var uploads = new MultipartBodyMutator(new Random(seed));
                Assert.Equal(200, (await run.SendAsync("files", HttpMethod.Post, "/v1/files", uploads.Valid())).Status);
                for (var i = 0; i < UploadCases; i++)
                {
                    await run.SendAsync("files", HttpMethod.Post, "/v1/files", uploads.Next());
                }

                foreach (var route in FuzzRoutes.All(resources))
                {
                    var body = route.Json is null ? null : new Mutation("route case", Encoding.UTF8.GetBytes(route.Json), JsonBodyMutator.Json);
                    await run.SendAsync("path " + route.Method, route.Method, route.Url, body, route.KestrelMayRefuse, route.ShowsFolders);
                }

                output.WriteLine($"{run.Count} requests in {clock.Elapsed.TotalSeconds:F1} s");
                foreach (var slow in run.Slow) output.WriteLine(slow);
                Assert.True(failures.Count == 0, $"{failures.Count} of {run.Count} answers broke the promise (seed {seed}):\n\n" + string.Join("\n\n", failures.Take(25)));

                await StillServingAsync(http);
                await NothingLostAsync(http, resources, kept);
            }

            var databases = Directory.EnumerateFiles(data, "*.db").Concat(Directory.EnumerateFiles(models, "*.db")).ToList();
            Assert.Contains(databases, d => Path.GetFileName(d) == "context.db");
            Assert.Contains(databases, d => Path.GetFileName(d) == "manifest.db");
            foreach (var database in databases)
            {
                Assert.True(IntegrityCheck(database) == "ok", $"{Path.GetFileName(database)}: {IntegrityCheck(database)}");
            }
        }
        finally
        {
            Directory.Delete(models, recursive: true);
            Directory.Delete(data, recursive: true);
        }
    }

    private static async Task<FuzzResources> CreateResourcesAsync(HttpClient http)
    {
        var keeper = await ContextHttp.CreateConversationAsync(http,
            """{"metadata":{"topic":"keep"},"items":[{"role":"user","content":"Keep me"},{"role":"assistant","content":"Kept"}]}""");
        var scratch = await ContextHttp.CreateConversationAsync(http);
        await ContextHttp.PostAsync(http, "/v1/presets", """{"name":"keeper","instructions":"Be kind.","model":"stories260K","max_tokens":1}""");
        await ContextHttp.PostAsync(http, "/v1/presets", """{"name":"scratch","model":"stories260K"}""");
        var file = (await RagHttp.UploadAsync(http, "notes.txt", MultipartBodyMutator.FileContent)).GetProperty("id").GetString()!;
        var vectorStore = (await ContextHttp.PostAsync(http, "/v1/vector_stores", $$"""{"name":"keeper","file_ids":["{{file}}"]}""")).GetProperty("id").GetString()!;
        var response = (await ContextHttp.PostAsync(http, "/v1/responses", """{"model":"stories260K","input":"Once upon a time","max_output_tokens":4,"temperature":0}"""))
            .GetProperty("id").GetString()!;
        return new FuzzResources(keeper, scratch, "keeper", "scratch", file, vectorStore, response);
    }

    /// <summary>The gateway still generates the model's known greedy text and reports itself healthy.</summary>
    private static async Task StillServingAsync(HttpClient http)
    {
        var greedy = await RawCompletions.GreedyAsync(http, maxTokens: 12, stream: false);
        Assert.StartsWith(greedy.Text, TestPaths.Stories260KGreedyContinuation, StringComparison.Ordinal);
        Assert.True(greedy.Text.Length > 20, greedy.Text);
        using var health = await http.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    /// <summary>What the run made before fuzzing and no case may change: each as the gateway answers it.</summary>
    private static IEnumerable<string> KeptUrls(FuzzResources r) =>
    [
        $"/v1/conversations/{r.KeeperConversation}", $"/v1/conversations/{r.KeeperConversation}/items?order=asc", $"/v1/presets/{r.KeeperPreset}",
        $"/v1/files/{r.FileId}", $"/v1/files/{r.FileId}/content", $"/v1/responses/{r.ResponseId}", $"/v1/responses/{r.ResponseId}/input_items",
    ];

    private static async Task<Dictionary<string, string>> SnapshotAsync(HttpClient http, FuzzResources r)
    {
        var snapshot = new Dictionary<string, string>();
        foreach (var url in KeptUrls(r))
        {
            using var response = await http.GetAsync(url);
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {url}: {(int)response.StatusCode} {body}");
            snapshot[url] = body;
        }

        return snapshot;
    }

    /// <summary>Everything kept answers exactly as before the run, and the kept store still holds its file.</summary>
    private static async Task NothingLostAsync(HttpClient http, FuzzResources r, Dictionary<string, string> before)
    {
        var after = await SnapshotAsync(http, r);
        foreach (var (url, body) in before)
        {
            Assert.True(body == after[url], $"GET {url} changed:\nbefore {body}\nafter  {after[url]}");
        }

        var files = await ContextHttp.GetAsync(http, $"/v1/vector_stores/{r.VectorStore}/files");
        Assert.Contains(files.GetProperty("data").EnumerateArray(), f => f.GetProperty("id").GetString() == r.FileId);
    }

    private static string IntegrityCheck(string database)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = database, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA integrity_check;";
        return Convert.ToString(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) ?? "";
    }

    /// <summary>Sends the cases one after another and records each broken promise with what reproduces it.</summary>
    private sealed class FuzzRun(HttpClient http, FuzzVerdict verdict, int seed, List<string> failures)
    {
        private readonly SortedDictionary<int, int> _statuses = [];

        public int Count { get; private set; }

        public List<string> Slow { get; } = [];

        /// <summary>How many answers had each status since the last call, e.g. "200×31 400×120".</summary>
        public string TakeStatusCounts()
        {
            var counts = string.Join(' ', _statuses.Select(s => $"{s.Key}×{s.Value}"));
            _statuses.Clear();
            return counts;
        }

        public async Task<(int Status, string Body)> SendAsync(string target, HttpMethod method, string url, Mutation? mutation, bool kestrelMayRefuse = false, bool showsFolders = false)
        {
            Count++;
            using var request = new HttpRequestMessage(method, url);
            if (mutation is not null)
            {
                request.Content = new ByteArrayContent(mutation.Body);
                if (mutation.ContentType is { } type && !request.Content.Headers.TryAddWithoutValidation("Content-Type", type))
                {
                    throw new InvalidOperationException($"Content-Type '{type}' could not be set.");
                }
            }

            var clock = Stopwatch.StartNew();
            try
            {
                using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
                var body = await response.Content.ReadAsByteArrayAsync();
                _statuses[(int)response.StatusCode] = _statuses.GetValueOrDefault((int)response.StatusCode) + 1;
                if (clock.ElapsedMilliseconds > 300) Slow.Add($"{clock.ElapsedMilliseconds} ms {target} {mutation?.Description} -> {(int)response.StatusCode}");
                if (verdict.Judge(response, body, kestrelMayRefuse, showsFolders) is { } broken)
                {
                    Fail(target, method, url, mutation, $"{broken}; answered {(int)response.StatusCode}: {Printable(body, 600)}");
                }

                return ((int)response.StatusCode, Encoding.UTF8.GetString(body));
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
            {
                Fail(target, method, url, mutation, $"no complete answer ({e.GetType().Name}: {e.Message})");
                return (0, "");
            }
        }

        private void Fail(string target, HttpMethod method, string url, Mutation? mutation, string what) =>
            failures.Add($"seed {seed}, {target}: {mutation?.Description ?? "no body"}\n  {method} {Printable(Encoding.UTF8.GetBytes(url), 200)}"
                + $" Content-Type {mutation?.ContentType ?? "none"}\n  body ({mutation?.Body.Length ?? 0} bytes): {Printable(mutation?.Body ?? [], 600)}\n  {what}");
    }

    /// <summary>The first <paramref name="max"/> bytes as text, bytes that are not printable ASCII as \xNN.</summary>
    private static string Printable(byte[] bytes, int max)
    {
        var text = new StringBuilder();
        foreach (var b in bytes.Take(max))
        {
            text.Append(b is >= 0x20 and < 0x7F ? ((char)b).ToString() : $"\\x{b:X2}");
        }

        return bytes.Length > max ? text.Append($"… ({bytes.Length} bytes)").ToString() : text.ToString();
    }
}

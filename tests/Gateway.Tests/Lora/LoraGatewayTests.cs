using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.Cli;
using InferenceMesh.Gateway.Tests.Common;
using InferenceMesh.Gateway.Tests.Routing;
using InferenceMesh.ModelCache.Store;
using InferenceMesh.Tests;
using InferenceMesh.Tests.Lora;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace InferenceMesh.Gateway.Tests.Lora;

/// <summary>
/// LoRA adapters through the real gateway: a models folder with stories260K as a stored blob, adapters added and removed
/// with the <c>models adapter</c> CLI while the gateway runs, the real engine, and a recording loopback upstream that is
/// the best-scoring backend for public chat requests (models "*") — it must receive nothing of a request that uses an
/// adapter, by field or by alias.
/// </summary>
public sealed class LoraGatewayTests : IAsyncLifetime
{
    private const string Base = TestEnvironment.Stories;
    private const string Prompt = "Once upon a time";
    private readonly string _models = TestPaths.NewTempDir("im-lora-models");
    private readonly string _files = TestPaths.NewTempDir("im-lora-adapters");
    private readonly string _config = TestPaths.NewTempDir("im-lora-config");
    private LoopbackOpenAiUpstream _cloud = null!;
    private TestEnvironment _gateway = null!;

    public async Task InitializeAsync()
    {
        var store = ModelStoreFactory.Open(_models);
        var imported = await store.ImportFileAsync(TestPaths.Stories260K, new ModelRegistration { Name = Base }, CancellationToken.None);
        Assert.True(imported.Succeeded, imported.Message);

        _cloud = await LoopbackOpenAiUpstream.StartAsync();
        var config = Path.Combine(_config, "gateway.yaml");
        await File.WriteAllTextAsync(config,
            $"backends:\n  - name: cloud-a\n    type: openai\n    baseUrl: {_cloud.BaseUrl}\n    sovereignty: 0.2\n    quality: 0.95\n    models: [\"*\"]\n");
        _gateway = await TestEnvironment.StartAsync(env =>
        {
            env.ModelsDirectory = _models;
            env.Slots = 4;
            env.ContextLength = 256;
            env.ExtraArgs.AddRange(["--config", config, "--policies", Path.Combine(TestPaths.RepoRoot, "policies")]);
        });
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _cloud.DisposeAsync();
        foreach (var dir in new[] { _models, _files, _config })
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task An_adapter_added_while_running_is_applied_by_field_and_by_alias_and_only_locally()
    {
        var baseText = await CompleteAsync(new JsonObject());
        Assert.Equal(baseText, await CompleteAsync(new JsonObject { ["user"] = "someone" })); // other extension fields: no adapter
        Assert.Equal(404, (int)(await PostAsync("/v1/completions", Completion(model: $"{Base}+style"))).StatusCode);

        await AddAdapterAsync("style", seed: 7, scale: 1f);

        var byField = await CompleteAsync(new JsonObject { ["lora"] = Lora(("style", 1.0)) });
        var byAlias = await CompleteAsync(new JsonObject(), model: $"{Base}+style");
        var zero = await CompleteAsync(new JsonObject { ["lora"] = Lora(("style", 0.0)) });
        Assert.NotEqual(baseText, byField);
        Assert.Equal(byField, byAlias);
        Assert.Equal(baseText, zero);

        // Responses: the prompt as one user message (no chat template: passed as is) with the same adapter gives the same text.
        var responded = await PostAsync("/v1/responses", new JsonObject { ["model"] = Base, ["input"] = Prompt, ["max_output_tokens"] = 24, ["temperature"] = 0, ["lora"] = Lora(("style", 1.0)) });
        var respondedBody = await responded.Content.ReadAsStringAsync();
        Assert.True(responded.StatusCode == HttpStatusCode.OK, respondedBody);
        Assert.Equal("local", RoutingHarness.BackendOf(responded));
        using (var json = JsonDocument.Parse(respondedBody))
        {
            Assert.Equal(byField, json.RootElement.GetProperty("output")[0].GetProperty("content")[0].GetProperty("text").GetString());
        }

        // Chat: public prompts would go to the cloud, which scores best; with an adapter they stay here.
        foreach (var body in new[]
        {
            Chat(Base, new JsonObject { ["lora"] = Lora(("style", 0.8)) }),
            Chat($"{Base}+style", new JsonObject()),
            Chat("auto", new JsonObject { ["lora"] = Lora(("style", 1.0)) }, stream: true),
        })
        {
            var response = await PostAsync("/v1/chat/completions", body);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, text);
            Assert.Equal("local", RoutingHarness.BackendOf(response));
        }

        // The same public chat without an adapter goes to the cloud: the cut is the adapter's doing.
        var plain = await PostAsync("/v1/chat/completions", Chat(Base, new JsonObject()));
        Assert.Equal("cloud-a", RoutingHarness.BackendOf(plain));
        var forwarded = Assert.Single(_cloud.ChatRequests);
        Assert.DoesNotContain("lora", forwarded.Body, StringComparison.Ordinal);

        // The dry run says why.
        var route = await PostAsync("/v1/route", Chat(Base, new JsonObject { ["lora"] = Lora(("style", 1.0)) }));
        var plan = await route.Content.ReadAsStringAsync();
        Assert.True(route.IsSuccessStatusCode, plan);
        Assert.Contains("LoRA adapters exist only on this machine", plan, StringComparison.Ordinal);

        // Offered in /v1/models under its alias; loaded once, counted in /metrics.
        var models = await _gateway.Http.GetStringAsync("/v1/models");
        Assert.Contains($"\"{Base}+style\"", models, StringComparison.Ordinal);
        var alias = await _gateway.Http.GetAsync($"/v1/models/{Base}+style");
        Assert.Equal(HttpStatusCode.OK, alias.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _gateway.Http.GetAsync($"/v1/models/{Base}+nope")).StatusCode);
        var metrics = await _gateway.Http.GetStringAsync("/metrics");
        Assert.Contains($"inference_mesh_lora_adapters_loaded{{model=\"{Base}\"}} 1", metrics, StringComparison.Ordinal);
        Assert.Single(_cloud.ChatRequests);
    }

    [Fact]
    public async Task Unknown_adapters_bad_scales_and_bad_shapes_are_clear_errors_that_never_leave_the_machine()
    {
        await AddAdapterAsync("style", seed: 7, scale: 1f);

        // A second model name (same bytes) with an adapter of its own: not applicable to the first.
        var store = ModelStoreFactory.Open(_models);
        Assert.True((await store.ImportFileAsync(TestPaths.Stories260K, new ModelRegistration { Name = "twin" }, CancellationToken.None)).Succeeded);
        await AddAdapterAsync("twin-style", seed: 8, scale: 1f, baseName: "twin");
        var cases = new (string Path, JsonObject Body, HttpStatusCode Status, string Param, string Code)[]
        {
            ("/v1/chat/completions", Chat(Base, new JsonObject { ["lora"] = Lora(("nope", 1.0)) }), HttpStatusCode.NotFound, "lora", "adapter_not_found"),
            ("/v1/chat/completions", Chat($"{Base}+nope", new JsonObject()), HttpStatusCode.NotFound, "model", "adapter_not_found"),
            ("/v1/completions", Completion(new JsonObject { ["lora"] = Lora(("nope", 1.0)) }), HttpStatusCode.NotFound, "lora", "adapter_not_found"),
            ("/v1/chat/completions", Chat(Base, new JsonObject { ["lora"] = Lora(("style", 4.5)) }), HttpStatusCode.BadRequest, "lora", "invalid_value"),
            ("/v1/completions", Completion(new JsonObject { ["lora"] = Lora(("style", -7.0)) }), HttpStatusCode.BadRequest, "lora", "invalid_value"),
            ("/v1/chat/completions", Chat(Base, new JsonObject { ["lora"] = "style" }), HttpStatusCode.BadRequest, "lora", "invalid_value"),
            ("/v1/chat/completions", Chat(Base, new JsonObject { ["lora"] = new JsonArray(new JsonObject { ["name"] = "style", ["weight"] = 1 }) }), HttpStatusCode.BadRequest, "lora", "invalid_value"),
            ("/v1/chat/completions", Chat(Base, new JsonObject { ["lora"] = Lora(("style", 1.0), ("style", 0.5)) }), HttpStatusCode.BadRequest, "lora", "invalid_value"),
            ("/v1/chat/completions", Chat(Base, new JsonObject { ["lora"] = Lora(("twin-style", 1.0)) }), HttpStatusCode.BadRequest, "lora", "adapter_base_mismatch"),
            ("/v1/completions", Completion(model: $"{Base}+twin-style"), HttpStatusCode.BadRequest, "model", "adapter_base_mismatch"),
            ("/v1/embeddings", new JsonObject { ["model"] = Base, ["input"] = Prompt, ["lora"] = Lora(("style", 1.0)) }, HttpStatusCode.BadRequest, "lora", "invalid_value"),
        };

        foreach (var (path, body, status, param, code) in cases)
        {
            var response = await PostAsync(path, body);
            await ApiAssert.ErrorAsync(response, status, param, code);
            Assert.NotEqual("cloud-a", RoutingHarness.BackendOf(response));
        }

        Assert.Empty(_cloud.ChatRequests.ToList());
    }

    [Fact]
    public async Task A_removed_adapter_is_no_longer_offered_and_is_freed_in_the_engine_without_disturbing_a_running_stream()
    {
        await AddAdapterAsync("style", seed: 7, scale: 1f);
        var expected = await CompleteAsync(new JsonObject { ["lora"] = Lora(("style", 1.0)) }, maxTokens: 48);
        Assert.Equal(1, LoadedAdapters());

        // A streamed request with the adapter has started when the adapter is removed. (That the engine frees an
        // adapter only after the last sequence using it ends is shown in Engine.Tests' LoraGenerationTests.)
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = ApiAssert.Json(Completion(new JsonObject { ["lora"] = Lora(("style", 1.0)), ["stream"] = true }, maxTokens: 48).ToJsonString()),
        };
        using var response = await _gateway.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var streamed = new StringBuilder();
        Append(await reader.ReadLineAsync(), streamed);

        var removed = await RunCliAsync("models", "adapter", "rm", "style", "--models", _models);
        Assert.True(removed.Exit == 0, removed.Err);

        // The next requests no longer find it, by field or by alias, and /v1/models stops offering it.
        await ApiAssert.ErrorAsync(await PostAsync("/v1/completions", Completion(new JsonObject { ["lora"] = Lora(("style", 1.0)) })), HttpStatusCode.NotFound, "lora", "adapter_not_found");
        await ApiAssert.ErrorAsync(await PostAsync("/v1/chat/completions", Chat($"{Base}+style", new JsonObject())), HttpStatusCode.NotFound, "model", "adapter_not_found");
        Assert.DoesNotContain($"{Base}+style", await _gateway.Http.GetStringAsync("/v1/models"), StringComparison.Ordinal);

        while (await reader.ReadLineAsync() is { } line)
        {
            Append(line, streamed);
        }

        Assert.Equal(expected, streamed.ToString());

        // The next request for the base model retires what the catalog no longer offers: the handle is freed.
        await CompleteAsync(new JsonObject());
        Assert.Equal(0, LoadedAdapters());
        Assert.Empty(_cloud.ChatRequests.ToList());
    }

    [Fact]
    public async Task The_cli_adds_lists_and_removes_adapters()
    {
        var file = Path.Combine(_files, "my-style.gguf");
        LoraAdapterFactory.Write(TestPaths.Stories260K, file, new LoraAdapterFactory.Options { Seed = 3 });

        var added = await RunCliAsync("models", "adapter", "add", file, "--base", Base, "--scale", "0.5", "--models", _models);
        Assert.True(added.Exit == 0, added.Err);
        Assert.Contains($"\"{Base}+my-style\"", added.Out, StringComparison.Ordinal);

        var list = await RunCliAsync("models", "list", "--json", "--models", _models);
        Assert.True(list.Exit == 0, list.Err);
        using var json = JsonDocument.Parse(list.Out);
        var entries = json.RootElement.EnumerateArray().ToDictionary(e => e.GetProperty("name").GetString()!);
        var adapter = entries["my-style"];
        Assert.Equal("adapter", adapter.GetProperty("kind").GetString());
        Assert.Equal(Base, adapter.GetProperty("base").GetString());
        Assert.Equal(0.5, adapter.GetProperty("scale").GetDouble());
        Assert.Equal(new FileInfo(file).Length, adapter.GetProperty("size").GetInt64());
        Assert.Equal(64, adapter.GetProperty("sha256").GetString()!.Length);
        Assert.True(File.Exists(adapter.GetProperty("path").GetString()));
        Assert.Equal("blob", entries[Base].GetProperty("kind").GetString());
        Assert.Equal("F32", entries[Base].GetProperty("quantization").GetString());

        var wrongBase = await RunCliAsync("models", "adapter", "add", file, "--base", "missing", "--models", _models);
        Assert.Equal(ModelsCliExit.Failed, wrongBase.Exit);
        Assert.Contains("no usable base model", wrongBase.Err, StringComparison.Ordinal);
        var badScale = await RunCliAsync("models", "adapter", "add", file, "--base", Base, "--scale", "9", "--models", _models);
        Assert.Equal(ModelsCliExit.Usage, badScale.Exit);
        var badName = await RunCliAsync("models", "adapter", "add", file, "--base", Base, "--name", "a+b", "--models", _models);
        Assert.Equal(ModelsCliExit.Usage, badName.Exit);

        var removed = await RunCliAsync("models", "adapter", "rm", "my-style", "--models", _models);
        Assert.True(removed.Exit == 0, removed.Err);
        Assert.Equal(ModelsCliExit.Failed, (await RunCliAsync("models", "adapter", "rm", "my-style", "--models", _models)).Exit);
    }

    private int LoadedAdapters() =>
        _gateway.App.Services.GetRequiredService<IModelHost>().GetLoadedStatus().Single(s => s.ModelId == Base).LoadedAdapters;

    private async Task AddAdapterAsync(string name, int seed, float scale, string baseName = Base)
    {
        var file = Path.Combine(_files, name + ".gguf");
        LoraAdapterFactory.Write(TestPaths.Stories260K, file, new LoraAdapterFactory.Options { Seed = seed });
        var added = await RunCliAsync("models", "adapter", "add", file, "--base", baseName, "--name", name,
            "--scale", scale.ToString(System.Globalization.CultureInfo.InvariantCulture), "--models", _models);
        Assert.True(added.Exit == 0, added.Err);
    }

    private static async Task<(int Exit, string Out, string Err)> RunCliAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await ModelsCli.RunAsync(args, output, error, new ModelsCliEnvironment(), CancellationToken.None);
        return (exit, output.ToString(), error.ToString());
    }

    private async Task<string> CompleteAsync(JsonObject extra, string model = Base, int maxTokens = 24)
    {
        var response = await PostAsync("/v1/completions", Completion(extra, model, maxTokens));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal("local", RoutingHarness.BackendOf(response));
        using var json = JsonDocument.Parse(body);
        return json.RootElement.GetProperty("choices")[0].GetProperty("text").GetString()!;
    }

    private Task<HttpResponseMessage> PostAsync(string path, JsonObject body) =>
        _gateway.Http.PostAsync(path, ApiAssert.Json(body.ToJsonString()));

    private static JsonObject Completion(JsonObject? extra = null, string model = Base, int maxTokens = 24)
    {
        var body = new JsonObject { ["model"] = model, ["prompt"] = Prompt, ["max_tokens"] = maxTokens, ["temperature"] = 0 };
        foreach (var (key, value) in extra ?? [])
        {
            body[key] = value?.DeepClone();
        }

        return body;
    }

    private static JsonObject Chat(string model, JsonObject extra, bool stream = false)
    {
        var body = new JsonObject
        {
            ["model"] = model,
            ["stream"] = stream,
            ["max_tokens"] = 16,
            ["temperature"] = 0,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = Prompt }),
        };
        foreach (var (key, value) in extra)
        {
            body[key] = value?.DeepClone();
        }

        return body;
    }

    private static JsonArray Lora(params (string Name, double Scale)[] adapters) =>
        [.. adapters.Select(a => (JsonNode)new JsonObject { ["name"] = a.Name, ["scale"] = a.Scale })];

    private static void Append(string? line, StringBuilder text)
    {
        if (line is null || !line.StartsWith("data: {", StringComparison.Ordinal))
        {
            return;
        }

        using var json = JsonDocument.Parse(line["data: ".Length..]);
        if (json.RootElement.GetProperty("choices") is { ValueKind: JsonValueKind.Array } choices && choices.GetArrayLength() > 0)
        {
            text.Append(choices[0].GetProperty("text").GetString());
        }
    }
}

using InferenceMesh.Gateway.Tests.Common;

namespace InferenceMesh.Gateway.Tests.Streaming;

/// <summary>Needs the real engine and catalog: a client leaving mid-stream frees its slot.</summary>
public sealed class DisconnectTests
{
    [Fact]
    public async Task Client_disconnect_mid_stream_returns_the_slot_to_idle()
    {
        await using var environment = await TestEnvironment.StartAsync(e => { e.ContextLength = 4096; e.Slots = 1; });

        // End-of-generation (token 2) is banned so the story runs to max_tokens unless cancelled.
        var body = """{"model":"stories260K","prompt":"Once upon a time","max_tokens":4000,"temperature":0,"logit_bias":{"2":-100},"stream":true}""";
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = ApiAssert.Json(body) })
        using (var response = await environment.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
        {
            response.EnsureSuccessStatusCode();
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            var line = await reader.ReadLineAsync();
            Assert.StartsWith("data: {", line);
        }

        var metrics = await SlotStates.WaitIdleAfterCancelAsync(environment);
        Assert.Equal(0, metrics.GetValueOrDefault("inference_mesh_generations_total{model=\"stories260K\",finish=\"length\"}"));
    }
}

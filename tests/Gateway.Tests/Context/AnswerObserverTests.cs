using System.Collections.Concurrent;
using System.Net;
using InferenceMesh.Classifier;
using InferenceMesh.Gateway.Context;
using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.Tests.Common;
using InferenceMesh.Gateway.Tests.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace InferenceMesh.Gateway.Tests.Context;

/// <summary>
/// The answer-observer contract of the context-stage hook, on every path that can write an answer: observers run
/// exactly once with the whole assistant text, the backend that gave it, the routed privacy level and the finish
/// reason; a request whose stage registers no observer gets no capture at all.
/// </summary>
public sealed class AnswerObserverTests
{
    /// <summary>Registers an observer that records every answer when the request carries "x_observe".</summary>
    private sealed class RecordingStage(ConcurrentQueue<ChatAnswer> answers) : IChatContextStage
    {
        public ValueTask<ApiError?> PrepareAsync(ChatContextFrame frame, CancellationToken cancellationToken)
        {
            if (frame.TakeExtension("x_observe") is not null)
            {
                frame.OnAnswer((answer, _) =>
                {
                    answers.Enqueue(answer);
                    return ValueTask.CompletedTask;
                });
            }

            return ValueTask.FromResult<ApiError?>(null);
        }
    }

    private static async Task<(RoutingHarness Harness, LoopbackOpenAiUpstream Upstream, ConcurrentQueue<ChatAnswer> Answers)> StartAsync()
    {
        var answers = new ConcurrentQueue<ChatAnswer>();
        var upstream = await LoopbackOpenAiUpstream.StartAsync();
        var harness = new RoutingHarness { Configure = b => b.Services.AddSingleton<IChatContextStage>(new RecordingStage(answers)) };
        harness.Clouds.Add(("cloud-a", upstream, 0.95, "sk-a"));
        await harness.StartAsync();
        return (harness, upstream, answers);
    }

    private static HttpRequestMessage Chat(bool stream, string? privacy = null, bool observe = true)
    {
        var request = RoutingHarness.Chat(RoutingHarness.PublicPrompt, stream, privacy: privacy);
        var field = observe ? ",\"x_observe\":true" : "";
        request.Content = ApiAssert.Json($$"""{"model":"auto","stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"{{RoutingHarness.PublicPrompt}}"}]{{field}}}""");
        return request;
    }

    [Theory]
    [InlineData(false, null, "from the cloud", "cloud-a", PrivacyLevel.Public)]
    [InlineData(true, null, "c0 c1 c2 ", "cloud-a", PrivacyLevel.Public)]
    [InlineData(false, "internal", "Hello world", "local", PrivacyLevel.Internal)]
    [InlineData(true, "confidential", "Hello world", "local", PrivacyLevel.Confidential)]
    public async Task Observers_run_once_with_the_whole_answer_its_backend_and_level(bool stream, string? privacy, string text, string backend, PrivacyLevel level)
    {
        var (harness, upstream, answers) = await StartAsync();
        await using var owned = harness;
        await using var ownedUpstream = upstream;

        var (response, body) = await harness.SendAsync(Chat(stream, privacy));

        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        var answer = Assert.Single(answers);
        Assert.Equal((text, backend, level, "stop"), (answer.Content, answer.Backend, answer.Privacy, answer.FinishReason));
        if (stream)
        {
            Assert.Equal(text, Sse.Text(Sse.ParseStrict(body))); // the client got exactly what was observed
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Only_a_request_with_an_observer_gets_a_capture(bool observe)
    {
        var (harness, upstream, answers) = await StartAsync();
        await using var owned = harness;
        await using var ownedUpstream = upstream;
        var routing = harness.Gateway.App.Services.GetRequiredService<InferenceMesh.Gateway.Routing.ChatRouting>();
        var http = new Microsoft.AspNetCore.Http.DefaultHttpContext { RequestServices = harness.Gateway.App.Services };
        http.Request.Body = await Chat(stream: true, observe: observe).Content!.ReadAsStreamAsync();

        var routed = await routing.ReadAndRouteAsync(http);

        Assert.Null(routed.Error);
        Assert.Equal(observe, routed.Value!.Chat.Capture is not null);
        Assert.Empty(answers);

        // And over HTTP the unobserved answer is the same stream, with nothing observed.
        var (response, body) = await harness.SendAsync(Chat(stream: true, observe: false));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("c0 c1 c2 ", Sse.Text(Sse.ParseStrict(body)));
        Assert.Empty(answers);
    }

    [Fact]
    public async Task A_cloud_answer_that_fails_before_the_first_byte_is_observed_from_the_backend_that_answered()
    {
        var (harness, upstream, answers) = await StartAsync();
        await using var owned = harness;
        await using var ownedUpstream = upstream;
        upstream.Behaviour = UpstreamBehaviour.Status500;

        var (response, body) = await harness.SendAsync(Chat(stream: true));

        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal("local", RoutingHarness.BackendOf(response));
        var answer = Assert.Single(answers);
        Assert.Equal(("Hello world", "local"), (answer.Content, answer.Backend));
    }
}

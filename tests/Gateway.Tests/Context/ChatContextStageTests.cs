using System.Net;
using InferenceMesh.Classifier;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.Context;
using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.Tests.Common;
using InferenceMesh.Gateway.Tests.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace InferenceMesh.Gateway.Tests.Context;

/// <summary>
/// The context-stage hook: what a stage adds is classified and routed with the rest of the prompt, a raised floor
/// keeps the request local, and our extension fields never reach a remote backend.
/// </summary>
public sealed class ChatContextStageTests
{
    /// <summary>Inserts the string in "x_history" as a first user message; raises the floor when "x_floor" names a level.</summary>
    private sealed class TestStage : IChatContextStage
    {
        public ValueTask<ApiError?> PrepareAsync(ChatContextFrame frame, CancellationToken cancellationToken)
        {
            if (frame.TakeExtension("x_history") is { } history)
            {
                frame.InsertMessages(0, [new ChatMessage("user", history.GetString()!)]);
            }

            if (frame.TakeExtension("x_floor") is { } floor)
            {
                frame.RaisePrivacyFloor(Enum.Parse<PrivacyLevel>(floor.GetString()!, ignoreCase: true));
            }

            return ValueTask.FromResult<ApiError?>(null);
        }
    }

    private static async Task<(RoutingHarness Harness, LoopbackOpenAiUpstream Upstream)> StartAsync()
    {
        var upstream = await LoopbackOpenAiUpstream.StartAsync();
        var harness = new RoutingHarness { Configure = b => b.Services.AddSingleton<IChatContextStage, TestStage>() };
        harness.Clouds.Add(("cloud-a", upstream, 0.95, "sk-a"));
        await harness.StartAsync();
        return (harness, upstream);
    }

    private static HttpRequestMessage Chat(string extraFields) => new(HttpMethod.Post, "/v1/chat/completions")
    {
        Content = ApiAssert.Json($$"""{"model":"auto","messages":[{"role":"user","content":"{{RoutingHarness.PublicPrompt}}"}]{{extraFields}}}"""),
    };

    [Fact]
    public async Task Added_public_history_is_forwarded_without_our_extension_fields()
    {
        var (harness, upstream) = await StartAsync();
        await using var _ = harness;
        await using var __ = upstream;

        var (response, body) = await harness.SendAsync(Chat(""","x_history":"Earlier we talked about Paris." """));

        Assert.True(response.StatusCode == HttpStatusCode.OK, body + harness.Logs.All);
        Assert.Equal("cloud-a", RoutingHarness.BackendOf(response));
        var sent = Assert.Single(upstream.ChatRequests).Body;
        Assert.Contains("Earlier we talked about Paris.", sent, StringComparison.Ordinal);
        Assert.True(sent.IndexOf("Earlier we talked", StringComparison.Ordinal) < sent.IndexOf("capital of France", StringComparison.Ordinal), sent);
        Assert.DoesNotContain("x_history", sent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Added_history_with_a_card_number_is_classified_and_stays_local()
    {
        var (harness, upstream) = await StartAsync();
        await using var _ = harness;
        await using var __ = upstream;

        var (response, body) = await harness.SendAsync(Chat($$""","x_history":"my card is {{RoutingHarness.Card}}" """));

        Assert.True(response.StatusCode == HttpStatusCode.OK, body + harness.Logs.All);
        Assert.Equal("local", RoutingHarness.BackendOf(response));
        Assert.Contains(response.Headers.GetValues("X-InferenceMesh-Privacy").Single(), new[] { "confidential", "restricted" });
        Assert.Empty(upstream.Requests);
    }

    [Fact]
    public async Task A_raised_floor_keeps_a_public_prompt_local_and_the_header_cannot_lower_it()
    {
        var (harness, upstream) = await StartAsync();
        await using var _ = harness;
        await using var __ = upstream;

        var request = Chat(""","x_floor":"confidential" """);
        request.Headers.Add("X-InferenceMesh-Privacy", "public");
        var (response, body) = await harness.SendAsync(request);

        Assert.True(response.StatusCode == HttpStatusCode.OK, body + harness.Logs.All);
        Assert.Equal("local", RoutingHarness.BackendOf(response));
        Assert.Equal("confidential", response.Headers.GetValues("X-InferenceMesh-Privacy").Single());
        Assert.Empty(upstream.Requests);

        // Without the floor the same prompt goes to the cloud: the floor is what kept it local.
        var (plain, _) = await harness.SendAsync(Chat(""));
        Assert.Equal("cloud-a", RoutingHarness.BackendOf(plain));
    }
}

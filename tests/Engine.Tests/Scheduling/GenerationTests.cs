using System.Text;
using InferenceMesh.Tests;

namespace InferenceMesh.Engine.Tests.Scheduling;

public class GenerationTests
{
    [Fact]
    public async Task Greedy_completion_of_stories260K_matches_the_known_text()
    {
        await using var engine = await EngineHarness.StartAsync();

        var (text, outcome) = await engine.CompleteAsync(EngineHarness.Greedy("Once upon a time", 40));

        Assert.StartsWith(TestPaths.Stories260KGreedyContinuation, text);
        Assert.Equal(FinishReason.Length, outcome.FinishReason);
        Assert.Equal(40, outcome.CompletionTokens);
        Assert.Null(outcome.Failure);
        Assert.True(outcome.PromptTokens > 1);
    }

    [Fact]
    public async Task A_stop_string_that_spans_tokens_ends_the_text_right_before_it()
    {
        await using var engine = await EngineHarness.StartAsync();

        var (text, outcome) = await engine.CompleteAsync(EngineHarness.Greedy("Once upon a time", 60, "little girl"));

        Assert.Equal(", there was a ", text);
        Assert.Equal(FinishReason.Stop, outcome.FinishReason);
    }

    [Fact]
    public async Task A_stop_requested_by_the_reader_finishes_after_the_next_token_as_a_stop_string_would()
    {
        await using var engine = await EngineHarness.StartAsync(new() { Slots = 1, SlotContextLength = 512, MaxQueuedRequests = 4 });
        // The one slot is taken: the second request waits in the queue, where its stop is requested.
        var (whole, wholeOutcome) = await engine.CompleteAsync(EngineHarness.Greedy("Once upon a time", 400));
        Assert.Equal(FinishReason.Length, wholeOutcome.FinishReason); // greedy never ends by itself here: the first keeps the slot
        var first = await engine.Model.StartGenerationAsync(EngineHarness.Greedy("Once upon a time", 400));
        var second = await engine.Model.StartGenerationAsync(EngineHarness.Greedy("Once upon a time", 400));
        Assert.True(first.Succeeded && second.Succeeded);

        second.Value!.RequestStop();
        await first.Value!.DisposeAsync();
        var text = new StringBuilder();
        await foreach (var piece in second.Value.ReadTextAsync())
        {
            text.Append(piece);
        }

        var outcome = await second.Value.Completion;
        await second.Value.DisposeAsync();

        // Admitted, its prompt read, its first token taken: then it ends, normally, with its tokens counted.
        Assert.Equal((FinishReason.Stop, null, 1), (outcome.FinishReason, outcome.Failure, outcome.CompletionTokens));
        Assert.StartsWith(text.ToString(), whole);
        Assert.NotEmpty(text.ToString());
        Assert.Equal(0, engine.Model.GetStatus().ActiveSequences);
        // Its cells stay reusable and consistent: the next request on the same prompt gives the same text.
        Assert.Equal(whole, (await engine.CompleteAsync(EngineHarness.Greedy("Once upon a time", 400))).Text);
    }

    [Fact]
    public async Task Eight_concurrent_greedy_requests_give_the_text_of_one_alone()
    {
        await using var engine = await EngineHarness.StartAsync(new() { Slots = 8, SlotContextLength = 256 });
        var (alone, _) = await engine.CompleteAsync(EngineHarness.Greedy("Once upon a time", 48));

        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => engine.CompleteAsync(EngineHarness.Greedy("Once upon a time", 48))));

        Assert.All(results, r => Assert.Equal(alone, r.Text));
        Assert.True(engine.Model.GetStatus().DecodeCalls > 0);
    }

    [Fact]
    public async Task More_requests_than_slots_queue_and_all_complete()
    {
        await using var engine = await EngineHarness.StartAsync(new() { Slots = 2, SlotContextLength = 256, MaxQueuedRequests = 32 });
        var prompts = new[] { "Once upon a time", "The cat", "Lily and Tom went", "One day" };

        var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(i =>
            engine.CompleteAsync(EngineHarness.Greedy(prompts[i % prompts.Length], 1 + (i * 7 % 60)))));

        for (var i = 0; i < results.Length; i++)
        {
            var (_, outcome) = results[i];
            Assert.Null(outcome.Failure);
            Assert.True(outcome.CompletionTokens is > 0 and <= 60);
        }

        var status = engine.Model.GetStatus();
        Assert.Equal(0, status.ActiveSequences);
        Assert.Equal(0, status.QueuedSequences);
    }

    [Fact]
    public async Task A_full_queue_refuses_with_overloaded()
    {
        await using var engine = await EngineHarness.StartAsync(new() { Slots = 1, SlotContextLength = 512, MaxQueuedRequests = 1 });
        var first = await engine.Model.StartGenerationAsync(EngineHarness.Greedy("Once upon a time", 400));
        var second = await engine.Model.StartGenerationAsync(EngineHarness.Greedy("Once upon a time", 400));
        var third = await engine.Model.StartGenerationAsync(EngineHarness.Greedy("Once upon a time", 400));

        Assert.True(first.Succeeded);
        Assert.True(second.Succeeded);
        Assert.False(third.Succeeded);
        Assert.Equal(EngineError.Overloaded, third.Failure!.Error);
        await first.Value!.DisposeAsync();
        await second.Value!.DisposeAsync();
    }

    [Fact]
    public async Task A_prompt_longer_than_the_slot_context_is_refused_naming_the_limit()
    {
        await using var engine = await EngineHarness.StartAsync(new() { Slots = 1, SlotContextLength = 32 });
        var prompt = string.Join(' ', Enumerable.Repeat("Once upon a time", 20));

        var result = await engine.Model.StartGenerationAsync(EngineHarness.Greedy(prompt, 10));

        Assert.False(result.Succeeded);
        Assert.Equal(EngineError.PromptTooLong, result.Failure!.Error);
        Assert.Equal(32, result.Failure.Limit);
        Assert.Contains("32", result.Failure.Message);
    }

    [Fact]
    public async Task Generation_stops_with_length_when_the_slot_context_is_full()
    {
        await using var engine = await EngineHarness.StartAsync(new() { Slots = 1, SlotContextLength = 24 });

        var (_, outcome) = await engine.CompleteAsync(EngineHarness.Greedy("Once upon a time", 1000));

        Assert.Equal(FinishReason.Length, outcome.FinishReason);
        Assert.Equal(24, outcome.PromptTokens + outcome.CompletionTokens);
    }

    [Theory]
    [InlineData(-0.5f, 1f, "temperature")]
    [InlineData(3f, 1f, "temperature")]
    [InlineData(1f, 0f, "top_p")]
    [InlineData(1f, 1.5f, "top_p")]
    public async Task Invalid_sampling_parameters_are_refused_naming_them(float temperature, float topP, string param)
    {
        await using var engine = await EngineHarness.StartAsync();

        var result = await engine.Model.StartGenerationAsync(new GenerationRequest
        {
            Prompt = "Once upon a time",
            Sampling = new SamplingOptions { Temperature = temperature, TopP = topP },
        });

        Assert.Equal(EngineError.InvalidParameter, result.Failure?.Error);
        Assert.Equal(param, result.Failure!.Param);
    }

    [Fact]
    public async Task The_same_seed_gives_the_same_sampled_text_and_logit_bias_bans_a_token()
    {
        await using var engine = await EngineHarness.StartAsync();
        var sampled = new SamplingOptions { Temperature = 0.9f, TopP = 0.95f, TopK = 40, Seed = 1234 };
        GenerationRequest Request(SamplingOptions s) => new() { Prompt = "Once upon a time", MaxTokens = 30, Sampling = s };

        var (a, _) = await engine.CompleteAsync(Request(sampled));
        var (b, _) = await engine.CompleteAsync(Request(sampled));
        Assert.Equal(a, b);

        var comma = engine.Model.Tokenize("Once upon a time,", addSpecial: false, parseSpecial: false)[^1];
        var (banned, _) = await engine.CompleteAsync(Request(SamplingOptions.Greedy with { LogitBias = new Dictionary<int, float> { [comma] = -100 } }));
        Assert.DoesNotContain(",", banned);
        Assert.NotEmpty(banned);
    }
}

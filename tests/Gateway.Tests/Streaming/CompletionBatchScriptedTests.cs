using System.Net;
using System.Runtime.CompilerServices;
using System.Text.Json;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.Tests.Common;

namespace InferenceMesh.Gateway.Tests.Streaming;

/// <summary>
/// A completions batch against a scripted engine (real host, real Kestrel): the choices' chunks interleave as they are
/// generated; one choice failing ends the whole answer (an error status before the stream, an error event then [DONE]
/// in it) and cancels the choices still running.
/// </summary>
public sealed class CompletionBatchScriptedTests
{
    private static async Task<(TestEnvironment Environment, FakeEngine Engine)> StartAsync(int slots)
    {
        var engine = new FakeEngine();
        engine.Model.Slots = slots;
        var environment = await TestEnvironment.StartAsync(e => e.ConfigureBuilder = engine.Register);
        return (environment, engine);
    }

    private static StringContent Body(bool stream) => ApiAssert.Json(
        $$"""{"model":"{{FakeEngine.ModelId}}","prompt":["good","bad"],"stream":{{(stream ? "true" : "false")}}}""");

    [Fact]
    public async Task Streamed_choices_interleave_as_their_text_comes_each_chunk_naming_its_choice()
    {
        var (environment, engine) = await StartAsync(slots: 2);
        await using var _ = environment;
        // "good" writes its second piece only once "bad"'s first was read, and "bad" its second only after that.
        var firstOfSecondRead = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var secondOfFirstRead = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        engine.Model.OnStart = request => EngineResult<IGeneration>.Ok(request.Prompt == "good"
            ? new SteppedGeneration(["A1", "A2"], afterFirst: firstOfSecondRead.Task, onSecondRead: secondOfFirstRead)
            : new SteppedGeneration(["B1", "B2"], afterFirst: secondOfFirstRead.Task, onFirstRead: firstOfSecondRead));

        using var response = await environment.Http.PostAsync("/v1/completions", Body(stream: true));

        var chunks = Sse.ParseStrict(await response.Content.ReadAsStringAsync()).Select(e => e.GetProperty("choices")[0])
            .Where(c => c.GetProperty("text").GetString()!.Length > 0)
            .Select(c => (c.GetProperty("index").GetInt32(), c.GetProperty("text").GetString())).ToList();
        Assert.Equal((0, "A2"), chunks[2]);
        Assert.Equal((1, "B2"), chunks[3]);
        Assert.Equal([(0, "A1"), (1, "B1")], chunks.Take(2).Order());
    }

    /// <summary>Yields its pieces, waiting before the second for <paramref name="afterFirst"/>; signals when its pieces were read.</summary>
    private sealed class SteppedGeneration(string[] pieces, Task afterFirst, TaskCompletionSource? onFirstRead = null, TaskCompletionSource? onSecondRead = null) : IGeneration
    {
        public int PromptTokens => 1;

        public Task<GenerationOutcome> Completion { get; } = Task.FromResult(new GenerationOutcome(FinishReason.Stop, 1, 2));

        public async IAsyncEnumerable<GenerationDelta> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            yield return new GenerationDelta(pieces[0]);
            onFirstRead?.TrySetResult(); // runs once the reader asks for the next piece: the first was handed on
            await afterFirst.WaitAsync(cancellationToken);
            yield return new GenerationDelta(pieces[1]);
            onSecondRead?.TrySetResult();
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_choice_that_fails_ends_the_answer_and_cancels_the_others(bool stream)
    {
        var (environment, engine) = await StartAsync(slots: 2);
        await using var _ = environment;
        var good = new FakeGeneration(["first"], new GenerationOutcome(FinishReason.Stop, 1, 1), endless: true);
        var bad = new FakeGeneration(["a"], new GenerationOutcome(FinishReason.Stop, 1, 1, new EngineFailure(EngineError.DecodeFailed, "llama_decode returned 1")));
        engine.Model.OnStart = request => EngineResult<IGeneration>.Ok(request.Prompt == "good" ? good : bad);

        using var response = await environment.Http.PostAsync("/v1/completions", Body(stream));

        if (stream)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var body = await response.Content.ReadAsStringAsync();
            ApiAssert.NoLeak(body);
            var events = Sse.ParseStrict(body);
            var error = events[^1].GetProperty("error");
            Assert.Equal("decode_failed", error.GetProperty("code").GetString());
            Assert.All(events.SkipLast(1), e => Assert.Null(e.GetProperty("choices")[0].GetProperty("finish_reason").GetString()));
        }
        else
        {
            await ApiAssert.ErrorAsync(response, HttpStatusCode.InternalServerError, code: "decode_failed");
        }

        await good.Cancelled.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await good.Disposed.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await bad.Disposed.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task A_choice_that_cannot_start_before_the_stream_is_the_http_error_and_frees_those_started()
    {
        var (environment, engine) = await StartAsync(slots: 2);
        await using var _ = environment;
        var good = new FakeGeneration(["first"], new GenerationOutcome(FinishReason.Stop, 1, 1), endless: true);
        engine.Model.OnStart = request => request.Prompt == "good" ? EngineResult<IGeneration>.Ok(good) : EngineResult<IGeneration>.Fail(EngineError.Overloaded, "queue full");

        using var response = await environment.Http.PostAsync("/v1/completions", Body(stream: true));

        await ApiAssert.ErrorAsync(response, HttpStatusCode.ServiceUnavailable, code: "overloaded");
        Assert.NotNull(response.Headers.RetryAfter);
        await good.Disposed.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task A_choice_that_cannot_start_once_the_stream_runs_is_an_error_event_then_done()
    {
        // One slot: "bad" starts only after "good" finished, when the stream has begun.
        var (environment, engine) = await StartAsync(slots: 1);
        await using var _ = environment;
        engine.Model.OnStart = request => request.Prompt == "good"
            ? EngineResult<IGeneration>.Ok(new FakeGeneration(["Hello", " world"], new GenerationOutcome(FinishReason.Stop, 3, 2)))
            : EngineResult<IGeneration>.Fail(EngineError.Overloaded, "queue full");

        using var response = await environment.Http.PostAsync("/v1/completions", Body(stream: true));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var events = Sse.ParseStrict(await response.Content.ReadAsStringAsync());
        Assert.Equal("Hello world", Sse.Text(events.SkipLast(1)));
        Assert.Equal("overloaded", events[^1].GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(JsonValueKind.Null, events[^1].GetProperty("error").GetProperty("param").ValueKind);
    }
}

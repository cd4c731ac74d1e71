using InferenceMesh.Engine;
using InferenceMesh.Gateway.Inference;
using InferenceMesh.Gateway.OpenAi;
using InferenceMesh.Gateway.Streaming;

namespace InferenceMesh.Gateway.Routing;

/// <summary>
/// A chat request with <c>n</c> above 1 on the local model: n choices of the one prompt, run by the completions batch's
/// machinery (<see cref="CompletionBatch"/>, <see cref="CompletionRun"/>): separate sequences, at most as many at once as
/// the model has slots (the rest queue in the run, never refused as overload), the shared prompt prefilled once and its
/// cells copied (the engine's prefix reuse). With a <c>seed</c>, choice k samples with seed + k: the choices differ and
/// repeat; at temperature 0 they are all the greedy answer. Each choice has its own finish reason, its own tool calls
/// (tools) and its own log probabilities; a JSON <c>response_format</c> constrains each. The usage counts the prompt once
/// and sums the completions' tokens, as OpenAI does.
/// </summary>
internal static class LocalChatChoices
{
    /// <param name="request">The one choice's generation request (prompt, grammar, adapters, log probabilities).</param>
    /// <param name="toolStops">With tools (the model writes the tool envelope, each choice read as a tool answer), the
    /// request's stop strings, which end a choice's text only, never its envelope or a call; null without tools. Each
    /// choice is generated to its end and the stop strings are applied as it is read (its completion tokens count all of
    /// it), since the engine is not given them.</param>
    /// <param name="streamTrailer">For a stream: bytes written before [DONE] from the final usage (a mesh receipt); null for none.</param>
    public static async Task<IResult> RunAsync(
        InferenceService inference, ILoadedModel model, GenerationRequest request, IReadOnlyList<string>? toolStops, GenerationSettings settings,
        (string Id, long Created) answer, Func<Usage, ReadOnlyMemory<byte>>? streamTrailer, CancellationToken cancellationToken)
    {
        var jobs = CompletionBatch.Plan([new PromptInput("messages", request.Prompt, null)], settings.Choices, echo: false, request, model, inference);
        if (jobs.Error is { } planError) return planError;

        var started = await CompletionRun.StartAsync(inference, model, jobs.Value!, cancellationToken);
        if (started.Error is { } startError) return startError;
        var run = started.Value!;

        if (settings.Stream)
        {
            var format = new ChatChoicesStreamFormat(answer.Id, answer.Created, model.Id, settings.Choices, toolStops);
            return new ChoiceStreamResult(run, format, settings.IncludeUsage, inference, streamTrailer);
        }

        await using (run)
        {
            var collected = await run.CollectAsync(request.TopLogProbs is not null, cancellationToken);
            if (collected.Error is { } failure) return failure;
            var (choices, usage) = collected.Value!;
            return new JsonOk<ChatCompletionResponse>(
                new ChatCompletionResponse(
                    answer.Id, answer.Created, model.Id,
                    [.. choices.Select(c => LocalChat.Choice(c.Job.Index, c.Text, c.LogProbs, c.Outcome.FinishReason, toolStops))],
                    usage),
                OpenAiJsonContext.Default.ChatCompletionResponse);
        }
    }
}

/// <summary>
/// The chat chunks of n choices, interleaved as they are generated: each choice's role chunk first, then its content (or
/// its tool calls, <see cref="ToolCallStreamFormat"/>) with its log probabilities, then its own finish chunk; each chunk
/// carries its choice's <c>index</c>. One usage chunk for all.
/// </summary>
internal sealed class ChatChoicesStreamFormat : IChoiceStreamFormat
{
    private readonly ChatStreamFormat[] _choices;
    private readonly ToolCallStreamFormat?[] _tools;

    public ChatChoicesStreamFormat(string id, long created, string model, int choices, IReadOnlyList<string>? toolStops)
    {
        _choices = [.. Enumerable.Range(0, choices).Select(index => new ChatStreamFormat(id, created, model, includeUsage: false, index))];
        _tools = [.. _choices.Select(choice => toolStops is null ? null : new ToolCallStreamFormat(choice, null, toolStops))];
    }

    public void WriteStart(SseWriter writer)
    {
        foreach (var choice in _choices)
        {
            choice.WriteStart(writer);
        }
    }

    public void Write(SseWriter writer, CompletionEvent item)
    {
        var index = item.Job.Index;
        switch (item)
        {
            case CompletionText text:
                ((IStreamFormat?)_tools[index] ?? _choices[index]).WriteText(writer, text.Delta);
                break;
            case CompletionFinished finished:
                var reason = finished.Outcome.FinishReason;
                _choices[index].WriteFinishChunk(writer, _tools[index]?.WriteRest(writer, reason) ?? RunningGeneration.FinishReasonText(reason));
                break;
        }
    }

    public void WriteUsage(SseWriter writer, Usage usage) => _choices[0].WriteUsageChunk(writer, usage);
}

using System.Text;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.Apis;
using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.Inference;
using InferenceMesh.Gateway.OpenAi;

namespace InferenceMesh.Gateway.Streaming;

/// <summary>
/// The Responses API's stream: named events (<c>event: {type}</c>), each carrying its <c>type</c> and a
/// <c>sequence_number</c> from 0. response.created, response.in_progress, response.output_item.added,
/// response.content_part.added, one response.output_text.delta per piece of text, then response.output_text.done,
/// response.content_part.done, response.output_item.done and response.completed (response.incomplete when the token
/// budget ran out). A failure after the first byte is an <c>error</c> event and response.failed. No [DONE].
/// </summary>
/// <param name="response">The response in progress (id, creation time, echoed settings; no output yet).</param>
internal sealed class ResponseStreamFormat(ResponseObject response, string messageId) : IStreamFormat
{
    private const int OutputIndex = 0, ContentIndex = 0;

    private readonly StringBuilder _text = new();
    private List<ChatTokenLogProb>? _logProbs;
    private int _sequence;

    public Task WriteStartAsync(SseWriter writer, CancellationToken cancellationToken)
    {
        Write(writer, "response.created", e => e with { Response = response });
        Write(writer, "response.in_progress", e => e with { Response = response });
        Write(writer, "response.output_item.added", e => e with { OutputIndex = OutputIndex, Item = ResponsesApi.Message(messageId, "in_progress", null) });
        Write(writer, "response.content_part.added", e => Part(e) with { Part = new ResponseOutputText(string.Empty) });
        return writer.FlushAsync(cancellationToken);
    }

    public void WriteText(SseWriter writer, GenerationDelta delta)
    {
        _text.Append(delta.Text);
        var logProbs = LogProbs.ForChat(delta.LogProbs)?.Content;
        if (logProbs is not null)
        {
            (_logProbs ??= []).AddRange(logProbs);
        }

        Write(writer, "response.output_text.delta", e => Part(e) with { Delta = delta.Text, Logprobs = logProbs });
    }

    public Task WriteFinishAsync(SseWriter writer, FinishReason finishReason, Usage usage, CancellationToken cancellationToken)
    {
        var text = new ResponseOutputText(_text.ToString(), _logProbs);
        var finished = ResponsesApi.Finished(response, messageId, text, finishReason, usage);
        Write(writer, "response.output_text.done", e => Part(e) with { Text = text.Text, Logprobs = text.Logprobs });
        Write(writer, "response.content_part.done", e => Part(e) with { Part = text });
        Write(writer, "response.output_item.done", e => e with { OutputIndex = OutputIndex, Item = finished.Output[0] });
        Write(writer, finished.Status == "incomplete" ? "response.incomplete" : "response.completed", e => e with { Response = finished });
        return writer.FlushAsync(cancellationToken);
    }

    public Task WriteErrorAsync(SseWriter writer, ApiError error, CancellationToken cancellationToken)
    {
        writer.WriteEvent("error", new ResponseErrorEvent(error.Code ?? error.Type, error.Message, error.Param, _sequence++), OpenAiJsonContext.Default.ResponseErrorEvent);
        var failed = response with
        {
            Status = "failed",
            Error = new ResponseError(error.Code ?? error.Type, error.Message),
            Output = [ResponsesApi.Message(messageId, "incomplete", new ResponseOutputText(_text.ToString(), _logProbs))],
        };
        Write(writer, "response.failed", e => e with { Response = failed });
        return writer.FlushAsync(cancellationToken);
    }

    public Task WriteEndAsync(SseWriter writer, CancellationToken cancellationToken) => Task.CompletedTask;

    private void Write(SseWriter writer, string type, Func<ResponseStreamEvent, ResponseStreamEvent> fill) =>
        writer.WriteEvent(type, fill(new ResponseStreamEvent(type, _sequence++)), OpenAiJsonContext.Default.ResponseStreamEvent);

    private ResponseStreamEvent Part(ResponseStreamEvent e) => e with { ItemId = messageId, OutputIndex = OutputIndex, ContentIndex = ContentIndex };
}

using System.Text;
using InferenceMesh.Gateway.OpenAi;

namespace InferenceMesh.Gateway.Context;

/// <summary>
/// Collects the assistant text of one answer while it is written to the client, for the context stages' answer
/// observers. It exists only for a request that has observers (<c>ChatExecution.Capture</c> is null otherwise, and
/// every writer skips it at the cost of one null check). Each path marks it complete only after the whole answer
/// was produced and written (local JSON or stream, a forwarded OpenAI body or event stream, a translated Anthropic
/// answer, or a broken stream finished locally); a client that leaves or an answer that fails leaves it incomplete,
/// and then nothing is observed. It never delays the stream: the text is appended as it passes.
/// Holds answer text: never log it. Not thread-safe (one request, one writer at a time).
/// </summary>
public sealed class ChatAnswerCapture
{
    private readonly StringBuilder _text = new();
    private readonly ToolCallAssembly _toolCalls = new();

    /// <summary>True once the whole answer was written.</summary>
    public bool Completed { get; private set; }

    /// <summary>The finish_reason of the answer, when known.</summary>
    public string? FinishReason { get; private set; }

    /// <summary>
    /// The backend to record when it is not simply the one named by <c>X-InferenceMesh-Backend</c>: a remote stream
    /// finished by the local model is recorded as <c>&lt;backend&gt;+local</c>.
    /// </summary>
    public string? Backend { get; private set; }

    public string Text => _text.ToString();

    /// <summary>The answer's tool calls (message <c>tool_calls</c>, or stream deltas assembled by index).</summary>
    public IReadOnlyList<AnsweredToolCall> ToolCalls => _toolCalls.Calls;

    /// <summary>Adds tool calls or stream deltas of them as they are written.</summary>
    public void AddToolCalls(IReadOnlyList<ChatToolCall>? calls) => _toolCalls.Add(calls);

    /// <summary>Adds a wire <c>tool_calls</c> array (a forwarded message's or stream delta's).</summary>
    public void AddToolCalls(System.Text.Json.JsonElement calls) => _toolCalls.Add(calls);

    /// <summary>Takes the tool calls a relay assembled.</summary>
    public void AddToolCalls(IReadOnlyList<AnsweredToolCall> calls) =>
        _toolCalls.Add([.. calls.Select(c => new ChatToolCall(null, c.Id, "function", new ChatFunctionCall(c.Name, c.Arguments)))]);

    /// <summary>Appends a piece of the answer as it is written.</summary>
    public void Append(string text) => _text.Append(text);

    /// <summary>
    /// Replaces the text so far (e.g. with what a broken remote stream had sent before the local model continues) and
    /// forgets the tool calls (a broken stream's calls may be cut; the continuation is text).
    /// </summary>
    public void Reset(string text)
    {
        _text.Clear().Append(text);
        _toolCalls.Clear();
    }

    /// <summary>Marks the answer complete (call after its last byte was written).</summary>
    public void Complete(string? finishReason, string? backend = null)
    {
        Completed = true;
        FinishReason = finishReason;
        Backend = backend;
    }

    /// <summary>The whole answer's text at once (a non-streamed response), marked complete; tool calls added before are kept.</summary>
    public void CompleteWith(string text, string? finishReason, string? backend = null)
    {
        _text.Clear().Append(text);
        Complete(finishReason, backend);
    }
}

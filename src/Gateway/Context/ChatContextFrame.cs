using System.Text.Json;
using System.Text.Json.Nodes;
using InferenceMesh.Classifier;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.OpenAi;

namespace InferenceMesh.Gateway.Context;

/// <summary>
/// One chat request as the context stages see it. Holds prompt text: never log it. <see cref="Messages"/> feeds the
/// classifier and the local engine; <see cref="Body"/> is what a remote backend receives. The editing methods keep
/// both in step, and extension fields of ours are removed from the forwarded body by <see cref="TakeExtension"/>.
/// </summary>
internal sealed class ChatContextFrame
{
    private readonly byte[] _rawBody;
    private readonly List<ChatMessage> _messages;
    private readonly List<Func<ChatAnswer, CancellationToken, ValueTask>> _observers = [];
    private JsonObject? _body;

    public ChatContextFrame(HttpContext http, ChatCompletionRequest request, byte[] rawBody, IReadOnlyList<ChatMessage> messages)
    {
        Http = http;
        Request = request;
        _rawBody = rawBody;
        _messages = [.. messages];
    }

    public HttpContext Http { get; }

    /// <summary>The typed request after every stage's edits (messages, model, defaults): what the executor and translators see.</summary>
    public ChatCompletionRequest Request { get; private set; }

    /// <summary>True once a stage changed <see cref="Request"/>'s model or parameters (the settings are then validated again).</summary>
    public bool RequestChanged { get; private set; }

    /// <summary>The messages after every stage's edits: what is classified and what the local engine sees.</summary>
    public IReadOnlyList<ChatMessage> Messages => _messages;

    /// <summary>The lowest privacy level the request may be routed at (null: no floor). Only ever raised.</summary>
    public PrivacyLevel? PrivacyFloor { get; private set; }

    /// <summary>True once a stage edited the body; the forwarded body is then <see cref="Body"/>, not the raw bytes.</summary>
    public bool BodyChanged { get; private set; }

    /// <summary>The request body as JSON, parsed on first use.</summary>
    public JsonObject Body => _body ??= JsonNode.Parse(_rawBody)!.AsObject();

    /// <summary>Callbacks run once the answer is complete (see <see cref="ChatAnswer"/>).</summary>
    public IReadOnlyList<Func<ChatAnswer, CancellationToken, ValueTask>> AnswerObservers => _observers;

    /// <summary>
    /// An extension field of ours (e.g. "conversation"), or null when absent. Present or not, it is removed from the
    /// body a remote backend receives: our fields are never forwarded.
    /// </summary>
    public JsonElement? TakeExtension(string name)
    {
        if (Request.Extensions is not { } extensions || !extensions.TryGetValue(name, out var value))
        {
            return null;
        }

        if (Body.Remove(name))
        {
            BodyChanged = true;
        }

        return value;
    }

    /// <summary>Inserts messages at <paramref name="index"/> in both the messages and the forwarded body.</summary>
    public void InsertMessages(int index, IReadOnlyList<ChatMessage> messages) =>
        InsertMessages(index, [.. messages.Select(m => new ContextMessage(m.Role, m.Content))]);

    /// <summary>
    /// Inserts messages, with an assistant's <c>tool_calls</c> and a tool message's <c>tool_call_id</c>, at
    /// <paramref name="index"/> in the messages, the typed request and the forwarded body. An assistant message with
    /// calls and no text has <c>content: null</c> on the wire, as OpenAI writes it.
    /// </summary>
    public void InsertMessages(int index, IReadOnlyList<ContextMessage> messages)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(index, _messages.Count);
        if (messages.Count == 0)
        {
            return;
        }

        _messages.InsertRange(index, messages.Select(m => new ChatMessage(m.Role, m.Content)));
        var wire = Body["messages"]!.AsArray();
        var typed = new List<ChatMessageWire?>(Request.Messages ?? []);
        for (var i = 0; i < messages.Count; i++)
        {
            var message = messages[i];
            var node = message.ToWire();
            wire.Insert(index + i, node);
            typed.Insert(index + i, JsonSerializer.Deserialize(node, OpenAiJsonContext.Default.ChatMessageWire));
        }

        // The typed messages too: translated backends (Anthropic) and the local prompt's earlier calls read them.
        Request = Request with { Messages = typed };
        BodyChanged = true;
    }

    /// <summary>
    /// Routes the request with <paramref name="model"/> instead of the model the client named (a preset's target). The
    /// forwarded body names the model of the plan step that answers, as for any request.
    /// </summary>
    public void SetModel(string model)
    {
        ArgumentException.ThrowIfNullOrEmpty(model);
        Request = Request with { Model = model };
        Body["model"] = model;
        BodyChanged = true;
        RequestChanged = true;
    }

    /// <summary>Sets each given parameter the request leaves unset, in the typed request and the forwarded body (the request's own values win).</summary>
    public void ApplyDefaults(double? temperature, double? topP, int? maxTokens)
    {
        if (temperature is { } t && Request.Temperature is null)
        {
            Request = Request with { Temperature = t };
            Body["temperature"] = t;
            BodyChanged = RequestChanged = true;
        }

        if (topP is { } p && Request.TopP is null)
        {
            Request = Request with { TopP = p };
            Body["top_p"] = p;
            BodyChanged = RequestChanged = true;
        }

        if (maxTokens is { } m && Request.MaxTokens is null && Request.MaxCompletionTokens is null)
        {
            Request = Request with { MaxTokens = m };
            Body["max_tokens"] = m;
            BodyChanged = RequestChanged = true;
        }
    }

    /// <summary>Raises the privacy floor to <paramref name="level"/> (never lowers it).</summary>
    public void RaisePrivacyFloor(PrivacyLevel level)
    {
        if (PrivacyFloor is not { } current || level > current)
        {
            PrivacyFloor = level;
        }
    }

    /// <summary>
    /// Registers a callback for the complete answer; it runs once after the whole answer was written, whatever backend
    /// wrote it (see <see cref="ChatAnswerCapture"/>), and not at all when the client left or the answer failed.
    /// </summary>
    public void OnAnswer(Func<ChatAnswer, CancellationToken, ValueTask> observer) => _observers.Add(observer);

}

/// <summary>A complete answer: the assistant's text and tool calls, the backend that gave it and the privacy level the request was routed at.</summary>
internal sealed record ChatAnswer(string Content, string Backend, PrivacyLevel Privacy, string? FinishReason, IReadOnlyList<AnsweredToolCall> ToolCalls);

/// <summary>A message a context stage puts before the client's: text, and an assistant's tool calls or the call a tool message answers.</summary>
internal sealed record ContextMessage(string Role, string Content, IReadOnlyList<AnsweredToolCall>? ToolCalls = null, string? ToolCallId = null)
{
    /// <summary>The message as a chat request writes it.</summary>
    public JsonObject ToWire()
    {
        var node = new JsonObject { ["role"] = Role };
        if (ToolCallId is not null)
        {
            node["tool_call_id"] = ToolCallId;
        }

        if (ToolCalls is { Count: > 0 } calls)
        {
            node["content"] = Content.Length > 0 ? Content : null;
            node["tool_calls"] = new JsonArray([.. calls.Select(c => (JsonNode)new JsonObject
            {
                ["id"] = c.Id,
                ["type"] = "function",
                ["function"] = new JsonObject { ["name"] = c.Name, ["arguments"] = c.Arguments },
            })]);
        }
        else
        {
            node["content"] = Content;
        }

        return node;
    }
}

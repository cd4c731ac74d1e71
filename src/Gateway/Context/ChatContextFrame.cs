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

    public ChatCompletionRequest Request { get; }

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
    public void InsertMessages(int index, IReadOnlyList<ChatMessage> messages)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(index, _messages.Count);
        if (messages.Count == 0)
        {
            return;
        }

        _messages.InsertRange(index, messages);
        var wire = Body["messages"]!.AsArray();
        for (var i = 0; i < messages.Count; i++)
        {
            wire.Insert(index + i, new JsonObject { ["role"] = messages[i].Role, ["content"] = messages[i].Content });
        }

        BodyChanged = true;
    }

    /// <summary>Raises the privacy floor to <paramref name="level"/> (never lowers it).</summary>
    public void RaisePrivacyFloor(PrivacyLevel level)
    {
        if (PrivacyFloor is not { } current || level > current)
        {
            PrivacyFloor = level;
        }
    }

    /// <summary>Registers a callback for the complete answer; it runs after the response is written, whatever backend wrote it.</summary>
    public void OnAnswer(Func<ChatAnswer, CancellationToken, ValueTask> observer) => _observers.Add(observer);
}

/// <summary>A complete answer: the assistant's text, the backend that gave it and the privacy level the request was routed at.</summary>
internal sealed record ChatAnswer(string Content, string Backend, PrivacyLevel Privacy, string? FinishReason);

using System.Text;
using InferenceMesh.Engine.Text;

namespace InferenceMesh.Gateway.Inference;

/// <summary>What a piece of a tool envelope adds for the client.</summary>
public enum ToolEnvelopeEventKind
{
    /// <summary>Decoded text of <c>response</c>.</summary>
    Content,

    /// <summary>A call whose name is now known (<see cref="ToolEnvelopeEvent.Text"/> is the name).</summary>
    CallStarted,

    /// <summary>A fragment of a started call's <c>arguments</c>, as the model wrote it (raw JSON text).</summary>
    Arguments,
}

/// <param name="Index">The call's position among the calls (0 for content).</param>
public readonly record struct ToolEnvelopeEvent(ToolEnvelopeEventKind Kind, int Index, string Text);

/// <summary>
/// Reads the local tool envelope (<see cref="LocalTools"/>: <c>{"tool_calls":[{"name","arguments"}]}</c> or
/// <c>{"response":"…"}</c>) as its text arrives, so a stream can pass the answer on while it is generated: the response
/// string decoded (escapes, <c>\uXXXX</c> and surrogate pairs, split anywhere between pieces), each call once its name is
/// read, then its arguments as the raw JSON text the model writes. Concatenated, a call's fragments are the exact text of
/// its arguments value. The grammar guarantees the shape; text that leaves it (never expected) stops the reading and is
/// reported as <see cref="Malformed"/>. A lone surrogate in a decoded string becomes U+FFFD. Stop strings, when given,
/// apply to the decoded response text only, never to the envelope or a call: the text ends before the first one
/// (<see cref="Stopped"/>; nothing after it is read), and text that could still begin one is held back until it cannot.
/// Not thread-safe.
/// </summary>
/// <param name="stops">The request's stop strings (the engine then gets none); null or empty for none.</param>
public sealed class ToolEnvelopeReader(IReadOnlyList<string>? stops = null)
{
    private enum State { Value, ValueOrEnd, KeyOrEnd, Key, Colon, AfterValue, String, Escape, Unicode, Scalar, Done, Malformed }

    private enum Role { Root, Calls, Call, Other }

    private enum StringRole { Other, Key, Response, Name }

    private readonly List<(bool IsObject, Role Role)> _frames = [];
    private readonly StringBuilder _text = new();
    private readonly StringBuilder _response = new();
    private readonly StringBuilder _token = new(); // a key or a name being decoded
    private readonly StringBuilder _content = new(); // response text decoded from the current piece
    private readonly StringBuilder _pendingArguments = new(); // arguments read before their call's name (not the grammar's order)
    private readonly List<(string Name, StringBuilder Arguments)> _calls = [];
    private List<ToolEnvelopeEvent>? _events; // where the current piece's events go
    private State _state = State.Value;
    private StringRole _stringRole;
    private bool _stringIsKey;
    private string? _key; // the key whose value comes next, in the envelope's own objects
    private int _unicodeDigits;
    private int _unicodeValue;
    private char? _high; // a decoded high surrogate waiting for its low half
    private int _call = -1; // the started call whose object is open, or -1
    private bool _capturing; // inside a call's arguments value
    private int _captureDepth;
    private string _rawCarry = string.Empty; // a raw high surrogate held back at the end of a piece
    private readonly StopStringMatcher? _stops = stops is { Count: > 0 } ? new StopStringMatcher(stops) : null;

    /// <summary>Which answer the envelope holds, once its first key says so.</summary>
    public LocalToolAnswerKind Kind { get; private set; }

    /// <summary>True once the envelope's object closed.</summary>
    public bool Completed => _state == State.Done;

    /// <summary>True when the text left the envelope's shape; nothing from that point on was read.</summary>
    public bool Malformed => _state == State.Malformed;

    /// <summary>True once a stop string was found in the response text: the answer ends before it, and nothing more is read.</summary>
    public bool Stopped { get; private set; }

    /// <summary>True when anything was given out (response text or a started call).</summary>
    public bool HasOutput => _response.Length > 0 || _calls.Count > 0;

    /// <summary>All the text read so far, as it came.</summary>
    public string Text => _text.ToString();

    /// <summary>The response text decoded so far.</summary>
    public string Content => _response.ToString();

    /// <summary>The started calls: name and arguments text so far.</summary>
    public IReadOnlyList<(string Name, string Arguments)> Calls => [.. _calls.Select(c => (c.Name, c.Arguments.ToString()))];

    /// <summary>The answer so far: the calls begun, else the response text, else (text that is no envelope) the text as it is.</summary>
    public LocalTools.Answer Answer() =>
        _calls.Count > 0 ? new LocalTools.Answer(null, Calls, Completed)
        : Malformed && !HasOutput ? new LocalTools.Answer(Text, null, Completed)
        : new LocalTools.Answer(Content, null, Completed, Stopped);

    /// <summary>Reads one piece of the envelope, adding what it gives out to <paramref name="events"/> (when given), merged per kind and call.</summary>
    public void Append(ReadOnlySpan<char> piece, List<ToolEnvelopeEvent>? events = null)
    {
        if (Stopped)
        {
            return; // the answer ended at its stop string: what the model wrote after it is not the client's
        }

        _text.Append(piece);
        _events = events;
        var captureFrom = 0;
        var end = piece.Length;
        for (var i = 0; i < piece.Length; i++)
        {
            var c = piece[i];
            if (_state == State.Scalar)
            {
                if (char.IsAsciiLetterOrDigit(c) || c is '-' or '+' or '.')
                {
                    continue;
                }

                if (EndValue())
                {
                    EmitArguments(piece[captureFrom..i]);
                }
            }

            var wasCapturing = _capturing;
            Step(c);
            if (_state == State.Malformed)
            {
                end = i;
                break;
            }

            if (!wasCapturing && _capturing)
            {
                captureFrom = i;
            }
            else if (wasCapturing && !_capturing)
            {
                EmitArguments(piece[captureFrom..(i + 1)]);
            }
        }

        FlushContent();
        if (_capturing)
        {
            EmitArguments(piece[Math.Min(captureFrom, end)..end], holdHighSurrogate: !Malformed);
        }

        _events = null;
    }

    /// <summary>At the end of the generation: gives out the response text held back because it could have begun a stop string.</summary>
    public void Finish(List<ToolEnvelopeEvent>? events = null)
    {
        _events = events;
        ReleaseHeld();
        _events = null;
    }

    private void Step(char c)
    {
        switch (_state)
        {
            case State.String:
                if (c == '"')
                {
                    EndString();
                }
                else if (c == '\\')
                {
                    _state = State.Escape;
                }
                else
                {
                    Decoded(c);
                }

                return;
            case State.Escape:
                _state = State.String;
                switch (c)
                {
                    case '"' or '\\' or '/': Decoded(c); break;
                    case 'b': Decoded('\b'); break;
                    case 'f': Decoded('\f'); break;
                    case 'n': Decoded('\n'); break;
                    case 'r': Decoded('\r'); break;
                    case 't': Decoded('\t'); break;
                    case 'u': (_state, _unicodeDigits, _unicodeValue) = (State.Unicode, 0, 0); break;
                    default: _state = State.Malformed; break;
                }

                return;
            case State.Unicode:
                if (!char.IsAsciiHexDigit(c))
                {
                    _state = State.Malformed;
                    return;
                }

                _unicodeValue = (_unicodeValue << 4) | (c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
                if (++_unicodeDigits == 4)
                {
                    _state = State.String;
                    Decoded((char)_unicodeValue);
                }

                return;
            case State.Done or State.Malformed:
                return; // nothing follows the envelope in the grammar: stray text is not the client's
        }

        if (c is ' ' or '\t' or '\n' or '\r')
        {
            return; // whitespace between tokens (inside arguments it is captured with them)
        }

        switch (_state)
        {
            case State.ValueOrEnd when c == ']':
                Close(isObject: false);
                break;
            case State.Value or State.ValueOrEnd:
                StartValue(c);
                break;
            case State.KeyOrEnd when c == '}':
                Close(isObject: true);
                break;
            case State.KeyOrEnd or State.Key when c == '"':
                StartString(_frames[^1].Role is Role.Root or Role.Call ? StringRole.Key : StringRole.Other, isKey: true);
                break;
            case State.Colon when c == ':':
                _state = State.Value;
                break;
            case State.AfterValue when c == ',':
                _state = _frames[^1].IsObject ? State.Key : State.Value;
                break;
            case State.AfterValue when c == '}' || c == ']':
                Close(isObject: c == '}');
                break;
            default:
                _state = State.Malformed;
                break;
        }
    }

    private void StartValue(char c)
    {
        var key = _key;
        _key = null;
        if (_frames.Count == 0)
        {
            if (c == '{')
            {
                Open(isObject: true, Role.Root);
            }
            else
            {
                _state = State.Malformed;
            }

            return;
        }

        var parent = _frames[^1].Role;
        if (parent == Role.Call && key == "arguments" && !_capturing)
        {
            _capturing = true;
            _captureDepth = _frames.Count;
        }

        switch (c)
        {
            case '"' when parent == Role.Root && key == "response" && Kind != LocalToolAnswerKind.ToolCalls:
                Kind = LocalToolAnswerKind.Response;
                StartString(StringRole.Response, isKey: false);
                break;
            case '"' when parent == Role.Call && key == "name" && _call < 0:
                StartString(StringRole.Name, isKey: false);
                break;
            case '"':
                StartString(StringRole.Other, isKey: false);
                break;
            case '[' when parent == Role.Root && key == "tool_calls" && Kind != LocalToolAnswerKind.Response:
                Kind = LocalToolAnswerKind.ToolCalls;
                Open(isObject: false, Role.Calls);
                break;
            case '{' when parent == Role.Calls:
                Open(isObject: true, Role.Call);
                break;
            case '{' or '[':
                Open(isObject: c == '{', Role.Other);
                break;
            case '-' or (>= '0' and <= '9') or 't' or 'f' or 'n':
                _state = State.Scalar;
                break;
            default:
                _state = State.Malformed;
                break;
        }
    }

    private void Open(bool isObject, Role role)
    {
        _frames.Add((isObject, role));
        _state = isObject ? State.KeyOrEnd : State.ValueOrEnd;
        if (role == Role.Call)
        {
            _call = -1;
            _pendingArguments.Clear();
        }
    }

    private void Close(bool isObject)
    {
        if (_frames[^1].IsObject != isObject)
        {
            _state = State.Malformed;
            return;
        }

        if (_frames[^1].Role == Role.Call)
        {
            _call = -1;
        }

        _frames.RemoveAt(_frames.Count - 1);
        EndValue();
    }

    private void StartString(StringRole role, bool isKey)
    {
        (_stringRole, _stringIsKey, _state, _high) = (role, isKey, State.String, null);
        _token.Clear();
    }

    private void EndString()
    {
        if (_high is not null)
        {
            _high = null;
            Output('\uFFFD');
        }

        if (_stringRole == StringRole.Response)
        {
            // The response text is whole: what was held back can no longer begin a stop string within it.
            FlushContent();
            ReleaseHeld();
        }

        if (_stringIsKey)
        {
            _key = _stringRole == StringRole.Key ? _token.ToString() : null;
            _state = State.Colon;
            return;
        }

        if (_stringRole == StringRole.Name)
        {
            _calls.Add((_token.ToString(), new StringBuilder()));
            _call = _calls.Count - 1;
            Add(new ToolEnvelopeEvent(ToolEnvelopeEventKind.CallStarted, _call, _calls[_call].Name));
            if (_pendingArguments.Length > 0)
            {
                var pending = _pendingArguments.ToString();
                _pendingArguments.Clear();
                EmitArguments(pending);
            }
        }

        EndValue();
    }

    /// <summary>Ends the value just read; returns true when it was a call's arguments.</summary>
    private bool EndValue()
    {
        _state = _frames.Count == 0 ? State.Done : State.AfterValue;
        if (_capturing && _frames.Count == _captureDepth)
        {
            _capturing = false;
            return true;
        }

        return false;
    }

    private void Decoded(char c)
    {
        if (_stringRole == StringRole.Other)
        {
            return;
        }

        if (_high is { } high)
        {
            _high = null;
            if (char.IsLowSurrogate(c))
            {
                Output(high);
                Output(c);
                return;
            }

            Output('\uFFFD');
        }

        if (char.IsHighSurrogate(c))
        {
            _high = c;
        }
        else
        {
            Output(char.IsLowSurrogate(c) ? '\uFFFD' : c);
        }
    }

    private void Output(char c)
    {
        if (_stringRole == StringRole.Response)
        {
            _content.Append(c);
        }
        else
        {
            _token.Append(c);
        }
    }

    private void FlushContent()
    {
        if (_content.Length == 0 || Stopped)
        {
            _content.Clear();
            return;
        }

        var text = _content.ToString();
        _content.Clear();
        if (_stops is not null)
        {
            text = _stops.Push(text, out var stopped);
            Stopped = stopped;
        }

        GiveOut(text);
    }

    private void ReleaseHeld()
    {
        if (_stops is not null && !Stopped)
        {
            GiveOut(_stops.Flush());
        }
    }

    private void GiveOut(string text)
    {
        if (text.Length > 0)
        {
            _response.Append(text);
            Add(new ToolEnvelopeEvent(ToolEnvelopeEventKind.Content, 0, text));
        }
    }

    /// <param name="holdHighSurrogate">At the end of a piece: a high surrogate at the end waits for its low half.</param>
    private void EmitArguments(ReadOnlySpan<char> raw, bool holdHighSurrogate = false)
    {
        var fragment = _rawCarry + raw.ToString();
        _rawCarry = string.Empty;
        if (holdHighSurrogate && fragment.Length > 0 && char.IsHighSurrogate(fragment[^1]))
        {
            (_rawCarry, fragment) = (fragment[^1..], fragment[..^1]);
        }

        if (fragment.Length == 0)
        {
            return;
        }

        if (_call < 0)
        {
            _pendingArguments.Append(fragment);
            return;
        }

        _calls[_call].Arguments.Append(fragment);
        Add(new ToolEnvelopeEvent(ToolEnvelopeEventKind.Arguments, _call, fragment));
    }

    private void Add(ToolEnvelopeEvent next)
    {
        if (_events is not { } events)
        {
            return;
        }

        if (next.Kind != ToolEnvelopeEventKind.CallStarted && events.Count > 0 && events[^1] is var last && last.Kind == next.Kind && last.Index == next.Index)
        {
            events[^1] = last with { Text = last.Text + next.Text };
            return;
        }

        events.Add(next);
    }
}

/// <summary>Which answer a tool envelope holds.</summary>
public enum LocalToolAnswerKind
{
    /// <summary>Not known yet (or the text is not an envelope).</summary>
    Unknown,

    /// <summary><c>{"response": "…"}</c>: text.</summary>
    Response,

    /// <summary><c>{"tool_calls": […]}</c>: calls.</summary>
    ToolCalls,
}

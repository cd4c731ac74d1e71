using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace InferenceMesh.Gateway.OpenAi;

/// <summary>
/// JSON strings that may hold an unpaired surrogate escape (<c>"\ud800"</c> alone). JSON's grammar allows it, but it is
/// not text: <see cref="JsonElement.GetString"/>, <see cref="JsonElement.TryGetProperty(string, out JsonElement)"/> (on
/// any name of the object) and <see cref="Utf8JsonReader.GetString"/> refuse it with an <see cref="InvalidOperationException"/>,
/// which must never become a 500. They refuse bytes that are not UTF-8 (a Latin-1 "é") the same way, and the reader does
/// not check the inside of strings, so such a body parses. A client's body is checked once as it is read
/// (<see cref="FindUnreadableString"/>, a 400 naming where); an upstream's answer is read leniently, the lone unit kept (<see cref="GetLenient(JsonElement)"/>, or
/// <see cref="LenientStringJsonConverter"/> on a deserialised record), because a server
/// that splits an emoji's surrogate pair across two stream chunks must not cost the client its answer, and the two halves
/// join again in the text kept of it (a unit that stays alone becomes U+FFFD where the text is encoded as UTF-8: the
/// context store, the engine).
/// </summary>
public static class JsonText
{
    /// <summary>
    /// The 400 for a client's JSON body holding a string or name that is not text (an unpaired surrogate escape, or bytes
    /// that are not UTF-8), naming where; null when every string is text.
    /// </summary>
    /// <summary>
    /// The length of a leading UTF-8 byte order mark (3), else 0. RFC 8259 lets a parser ignore one, and editors that save
    /// "UTF-8 with BOM" (Notepad, PowerShell 5's Out-File) put one before a body sent with <c>curl --data-binary @file</c>;
    /// System.Text.Json refuses it, so readers of client bodies skip it.
    /// </summary>
    public static int ByteOrderMarkLength(ReadOnlySpan<byte> body) => body.StartsWith("\uFEFF"u8) ? 3 : 0;

    public static Errors.ApiError? RefuseUnreadableText(ReadOnlySpan<byte> body) =>
        FindUnreadableString(body) switch
        {
            { Problem: UnreadableText.InvalidUtf8 } found => Errors.ApiErrors.InvalidUtf8(found.Path),
            { } found => Errors.ApiErrors.UnpairedSurrogate(found.Path),
            null => null,
        };

    /// <summary>
    /// Where <paramref name="utf8"/> (a JSON document) first holds a string or property name that is not text: the path in
    /// the API's <c>param</c> notation (<c>messages[0].content</c>; "" for the top level) and what is wrong with it, or null
    /// when there is none (or the JSON is malformed, which its deserialisation reports). Bodies that are UTF-8 without a
    /// surrogate escape, almost all of them, cost two vectorised passes.
    /// </summary>
    public static (string Path, UnreadableText Problem)? FindUnreadableString(ReadOnlySpan<byte> utf8)
    {
        var invalidUtf8 = !Utf8.IsValid(utf8);
        if (!invalidUtf8 && !MayHoldSurrogateEscape(utf8))
        {
            return null;
        }

        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        var path = new List<(string? Name, int Index)>(); // one entry per open container: the current property name, or the array index
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        path[^1] = (null, -2); // the object itself, until the name is read
                        if (!TryRead(ref reader, out var name))
                        {
                            return (Format(path), Problem(ref reader));
                        }

                        path[^1] = (name, -1);
                        break;
                    case JsonTokenType.StartObject or JsonTokenType.StartArray:
                        Advance(path);
                        path.Add((null, reader.TokenType == JsonTokenType.StartArray ? -1 : -2));
                        break;
                    case JsonTokenType.EndObject or JsonTokenType.EndArray:
                        path.RemoveAt(path.Count - 1);
                        break;
                    default:
                        Advance(path);
                        if (reader.TokenType == JsonTokenType.String && (reader.ValueIsEscaped || invalidUtf8) && !TryRead(ref reader, out _))
                        {
                            return (Format(path), Problem(ref reader));
                        }

                        break;
                }
            }
        }
        catch (JsonException)
        {
            return null;
        }

        return null;

        // A value in an array moves its index on; values in objects are named by their property.
        static void Advance(List<(string? Name, int Index)> path)
        {
            if (path.Count > 0 && path[^1] is { Name: null, Index: >= -1 } array)
            {
                path[^1] = (null, array.Index + 1);
            }
        }
    }

    /// <summary>Why the string at <paramref name="reader"/> could not be read: its raw bytes are not UTF-8, or an escape is a lone surrogate.</summary>
    private static UnreadableText Problem(ref Utf8JsonReader reader) =>
        Utf8.IsValid(reader.ValueSpan) ? UnreadableText.UnpairedSurrogate : UnreadableText.InvalidUtf8;

    private static bool TryRead(ref Utf8JsonReader reader, out string? value)
    {
        try
        {
            value = reader.GetString();
            return true;
        }
        catch (InvalidOperationException)
        {
            value = null;
            return false;
        }
    }

    private static string Format(List<(string? Name, int Index)> path)
    {
        var text = new StringBuilder();
        foreach (var (name, index) in path)
        {
            if (name is not null)
            {
                text.Append(text.Length == 0 ? "" : ".").Append(name);
            }
            else if (index >= 0)
            {
                text.Append('[').Append(index.ToString(CultureInfo.InvariantCulture)).Append(']');
            }
        }

        return text.ToString();
    }

    /// <summary>Whether <paramref name="utf8"/> holds <c>\u</c> followed by D8-DF (either case): the only spelling of a surrogate in JSON.</summary>
    private static bool MayHoldSurrogateEscape(ReadOnlySpan<byte> utf8)
    {
        var at = 0;
        while (true)
        {
            var found = utf8[at..].IndexOf("\\u"u8);
            if (found < 0)
            {
                return false;
            }

            at += found + 2;
            if (at + 1 < utf8.Length && utf8[at] is (byte)'d' or (byte)'D' && utf8[at + 1] is (>= (byte)'8' and <= (byte)'9') or (>= (byte)'a' and <= (byte)'f') or (>= (byte)'A' and <= (byte)'F'))
            {
                return true;
            }
        }
    }

    /// <summary>The string value of <paramref name="element"/> (a JSON string), or false when it holds an unpaired surrogate escape.</summary>
    private static bool TryGetString(JsonElement element, [NotNullWhen(true)] out string? value)
    {
        try
        {
            value = element.GetString() ?? throw new InvalidOperationException("The JSON value is not a string.");
            return true;
        }
        catch (InvalidOperationException) when (element.ValueKind == JsonValueKind.String)
        {
            value = null;
            return false;
        }
    }

    /// <summary>The string value of <paramref name="element"/> (a JSON string), an unpaired surrogate escape read as that lone UTF-16 unit.</summary>
    public static string GetLenient(JsonElement element) =>
        TryGetString(element, out var value) ? value : Unescape(element.GetRawText().AsSpan()[1..^1]);

    /// <summary>The string at <paramref name="reader"/> (a JSON string token), an unpaired surrogate escape read as that lone UTF-16 unit.</summary>
    public static string GetLenient(ref Utf8JsonReader reader) =>
        TryRead(ref reader, out var value) && value is not null
            ? value
            : Unescape(Encoding.UTF8.GetString(reader.HasValueSequence ? reader.ValueSequence.ToArray() : reader.ValueSpan));

    /// <summary>Unescapes the inside of a JSON string (no quotes) that the reader already found well-formed, keeping unpaired surrogates as UTF-16 units.</summary>
    private static string Unescape(ReadOnlySpan<char> raw)
    {
        var text = new StringBuilder(raw.Length);
        for (var i = 0; i < raw.Length; i++)
        {
            var c = raw[i];
            if (c != '\\')
            {
                text.Append(c);
                continue;
            }

            c = raw[++i];
            switch (c)
            {
                case 'b': text.Append('\b'); break;
                case 'f': text.Append('\f'); break;
                case 'n': text.Append('\n'); break;
                case 'r': text.Append('\r'); break;
                case 't': text.Append('\t'); break;
                case 'u':
                    // Each unit as it is, a lone surrogate included: a pair split across two chunks joins again once
                    // both are appended.
                    text.Append((char)ushort.Parse(raw.Slice(i + 1, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture));
                    i += 4;
                    break;
                default: text.Append(c); break; // \" \\ \/
            }
        }

        return text.ToString();
    }
}

/// <summary>What makes a string of a client's JSON body unreadable as text.</summary>
public enum UnreadableText
{
    /// <summary>A <c>\uD800</c>-<c>\uDFFF</c> escape without its other half.</summary>
    UnpairedSurrogate,

    /// <summary>Raw bytes that are not UTF-8 (e.g. a Latin-1 encoded body).</summary>
    InvalidUtf8,
}

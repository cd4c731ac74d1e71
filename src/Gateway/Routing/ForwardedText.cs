using System.Text;
using System.Text.Json;

namespace InferenceMesh.Gateway.Routing;

/// <summary>
/// The text of a chat request that a remote backend receives besides the messages' content: a forwarded body is the
/// client's own bytes, so tool calls and their arguments, tool definitions, message names, <c>user</c>, <c>metadata</c>,
/// response formats, stop strings and any other field go upstream too, and must be classified with the content.
/// Skipped: what is already classified (string content and text parts), what the router replaces (<c>model</c>),
/// message roles and part types, <c>logit_bias</c> (token ids and numbers) and <c>stream_options</c> (flags). One pass
/// of a reader over the body; a request with only model, messages, flags and numbers yields nothing.
/// </summary>
internal static class ForwardedText
{
    /// <summary>
    /// Every other string value of the body and every property name below the top level (in free-form objects such as
    /// a tool's parameter schema or <c>metadata</c>, a name can carry text), one per line; empty when there is none.
    /// The body was parsed once already, so it is valid JSON.
    /// </summary>
    public static string Extract(ReadOnlySpan<byte> body)
    {
        var reader = new Utf8JsonReader(body);
        StringBuilder? text = null;
        string? field = null;     // the current top-level property
        string? inMessage = null; // the current property of a message (messages[i].*)
        while (reader.Read())
        {
            var depth = reader.CurrentDepth;
            if (reader.TokenType == JsonTokenType.PropertyName)
            {
                if (depth == 1)
                {
                    field = reader.GetString();
                    continue;
                }

                if (field == "messages" && depth == 3)
                {
                    inMessage = reader.GetString();
                    continue;
                }
            }
            else if (reader.TokenType != JsonTokenType.String)
            {
                continue;
            }

            if (Skips(field, inMessage, depth))
            {
                continue;
            }

            text ??= new StringBuilder();
            if (text.Length > 0)
            {
                text.Append('\n');
            }

            text.Append(reader.GetString());
        }

        return text?.ToString() ?? string.Empty;
    }

    private static bool Skips(string? field, string? inMessage, int depth) => field switch
    {
        "model" or "logit_bias" or "stream_options" => true, // stream_options holds only flags (include_usage)
        // A message's role, its string content (depth 3), and a content part's type and text (depth 5).
        "messages" => inMessage is "role" || (inMessage is "content" && depth is 3 or 4 or 5),
        _ => false,
    };
}

using System.Text.Json;
using System.Text.Json.Serialization;

namespace InferenceMesh.Gateway.OpenAi;

// llama-server's tokenizer endpoints (POST /tokenize, /detokenize, /apply-template; tools/server/server-context.cpp of
// v0.5.0), with our "model" field added: serialised by the same context as the OpenAI types (snake_case, a key given
// twice refused).

/// <summary>POST /tokenize body.</summary>
public sealed record TokenizeRequest
{
    /// <summary>The model whose vocabulary to use; optional when the models folder holds exactly one.</summary>
    public string? Model { get; init; }

    /// <summary>A string, or an array mixing strings and token ids (llama-server's <c>tokenize_mixed</c>).</summary>
    public JsonElement? Content { get; init; }

    /// <summary>Add BOS/EOS as the model asks. The default value is false (llama-server's).</summary>
    public bool? AddSpecial { get; init; }

    /// <summary>Read control-token text (<c>&lt;s&gt;</c>) as that token. The default value is true (llama-server's).</summary>
    public bool? ParseSpecial { get; init; }

    /// <summary>Each token as <c>{"id", "piece"}</c> instead of a bare id. The default value is false.</summary>
    public bool? WithPieces { get; init; }
}

public sealed record TokenizeResponse(IReadOnlyList<int> Tokens);

public sealed record TokenizePiecesResponse(IReadOnlyList<TokenWithPiece> Tokens);

/// <summary>One token of <c>with_pieces</c>: its id and its bytes (<see cref="TokenPieceBytes"/>).</summary>
public sealed record TokenWithPiece(int Id, TokenPieceBytes Piece);

/// <summary>A token's bytes, written as a string when they are valid UTF-8, else as an array of byte values (as llama-server writes them).</summary>
[JsonConverter(typeof(TokenPieceBytesConverter))]
public readonly record struct TokenPieceBytes(byte[] Bytes);

internal sealed class TokenPieceBytesConverter : JsonConverter<TokenPieceBytes>
{
    private static readonly System.Text.UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public override TokenPieceBytes Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        throw new NotSupportedException("Token pieces are only written.");

    public override void Write(Utf8JsonWriter writer, TokenPieceBytes value, JsonSerializerOptions options)
    {
        if (System.Text.Unicode.Utf8.IsValid(value.Bytes))
        {
            writer.WriteStringValue(Strict.GetString(value.Bytes));
            return;
        }

        writer.WriteStartArray();
        foreach (var b in value.Bytes)
        {
            writer.WriteNumberValue(b);
        }

        writer.WriteEndArray();
    }
}

/// <summary>POST /detokenize body.</summary>
public sealed record DetokenizeRequest
{
    /// <summary>The model whose vocabulary to use; optional when the models folder holds exactly one.</summary>
    public string? Model { get; init; }

    /// <summary>An array of token ids of the model.</summary>
    public JsonElement? Tokens { get; init; }
}

public sealed record DetokenizeResponse(string Content);

/// <summary>POST /apply-template answer: the prompt the local chat step would give the model (the body is a chat-completions request).</summary>
public sealed record ApplyTemplateResponse(string Prompt);

using System.Text.Json.Serialization;
using InferenceMesh.Gateway.OpenAi;

namespace InferenceMesh.Gateway.Backends.Anthropic;

/// <summary>
/// Source-generated serialisation of the Anthropic Messages wire types (snake_case, nulls omitted). Every string is
/// read leniently (<see cref="LenientStringJsonConverter"/>): an unpaired surrogate escape in anything an upstream sends
/// (text, and also model, stop reason or an error message) is kept as that lone UTF-16 unit instead of making the event
/// malformed and cutting the stream; requests are written as usual (a client's lone surrogate is refused before).
/// </summary>
[JsonSourceGenerationOptions(
    Converters = [typeof(LenientStringJsonConverter)],
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(AnthropicMessagesRequest))]
[JsonSerializable(typeof(AnthropicMessagesResponse))]
[JsonSerializable(typeof(AnthropicStreamEvent))]
[JsonSerializable(typeof(AnthropicErrorResponse))]
[JsonSerializable(typeof(IReadOnlyList<AnthropicContentBlock>))]
public sealed partial class AnthropicJsonContext : JsonSerializerContext;

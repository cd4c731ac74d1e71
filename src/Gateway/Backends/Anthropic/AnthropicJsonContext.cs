using System.Text.Json.Serialization;

namespace InferenceMesh.Gateway.Backends.Anthropic;

/// <summary>Source-generated serialisation of the Anthropic Messages wire types (snake_case, nulls omitted).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(AnthropicMessagesRequest))]
[JsonSerializable(typeof(AnthropicMessagesResponse))]
[JsonSerializable(typeof(AnthropicStreamEvent))]
[JsonSerializable(typeof(AnthropicErrorResponse))]
[JsonSerializable(typeof(IReadOnlyList<AnthropicContentBlock>))]
public sealed partial class AnthropicJsonContext : JsonSerializerContext;

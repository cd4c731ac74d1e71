using System.Text.Json.Serialization;

namespace InferenceMesh.Gateway.OpenAi;

/// <summary>
/// Source-generated serialisation of every OpenAI wire type (snake_case, nulls omitted unless marked). A request holding a
/// key twice in one object is refused: the router classifies the copy it reads (the last), but a forwarded body is the
/// client's own bytes, so the other copy would reach the backend unclassified (and an upstream may read the first).
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.Strict,
    AllowDuplicateProperties = false)]
[JsonSerializable(typeof(ChatCompletionRequest))]
[JsonSerializable(typeof(ChatCompletionResponse))]
[JsonSerializable(typeof(ChatCompletionChunk))]
[JsonSerializable(typeof(CompletionRequest))]
[JsonSerializable(typeof(CompletionResponse))]
[JsonSerializable(typeof(ResponseRequest))]
[JsonSerializable(typeof(ResponseObject))]
[JsonSerializable(typeof(ResponseStreamEvent))]
[JsonSerializable(typeof(ResponseErrorEvent))]
[JsonSerializable(typeof(ResponseDeleted))]
[JsonSerializable(typeof(System.Text.Json.Nodes.JsonNode))]
[JsonSerializable(typeof(Context.ListWire<System.Text.Json.JsonElement>))]
[JsonSerializable(typeof(EmbeddingRequest))]
[JsonSerializable(typeof(EmbeddingResponse))]
[JsonSerializable(typeof(ModelList))]
[JsonSerializable(typeof(ModelInfo))]
[JsonSerializable(typeof(TokenizeRequest))]
[JsonSerializable(typeof(TokenizeResponse))]
[JsonSerializable(typeof(TokenizePiecesResponse))]
[JsonSerializable(typeof(DetokenizeRequest))]
[JsonSerializable(typeof(DetokenizeResponse))]
[JsonSerializable(typeof(ApplyTemplateResponse))]
[JsonSerializable(typeof(ErrorResponse))]
public sealed partial class OpenAiJsonContext : JsonSerializerContext;

using System.Text.Json;
using System.Text.Json.Serialization;

namespace InferenceMesh.Gateway.OpenAi;

/// <summary>
/// Reads a string property of an upstream's answer leniently (<see cref="JsonText.GetLenient(ref Utf8JsonReader)"/>): an
/// unpaired surrogate escape is kept as that lone UTF-16 unit instead of failing the whole document, so a server that
/// splits an emoji's surrogate pair across two stream events does not cost the client its answer. Put it on the
/// properties that carry generated text; writes as usual.
/// </summary>
public sealed class LenientStringJsonConverter : JsonConverter<string>
{
    public override string Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.String ? JsonText.GetLenient(ref reader) : throw new JsonException($"Expected a string, got {reader.TokenType}.");

    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);
}

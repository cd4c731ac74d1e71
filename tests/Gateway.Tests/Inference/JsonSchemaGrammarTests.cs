using System.Text.Json;
using System.Text.RegularExpressions;
using InferenceMesh.Gateway.Inference;

namespace InferenceMesh.Gateway.Tests.Inference;

public class JsonSchemaGrammarTests
{
    private static (string? Grammar, string? Error) Convert(string schema)
    {
        using var document = JsonDocument.Parse(schema);
        return JsonSchemaGrammar.Convert(document.RootElement);
    }

    [Theory]
    [InlineData("""{"type":"string","pattern":"^a+$"}""", "#: 'pattern' is not supported by the local model's structured output")]
    [InlineData("""{"type":"object","properties":{"when":{"type":"string","format":"date-time"}}}""", "#.properties.when: 'format' is not supported by the local model's structured output")]
    [InlineData("""{"type":"integer","minimum":3}""", "#: 'minimum' is not supported by the local model's structured output")]
    [InlineData("""{"type":"date"}""", "#.type: must be one of object, array, string, number, integer, boolean, null")]
    [InlineData("""{"$ref":"#/$defs/missing"}""", "#.$ref: '#/$defs/missing' is not '#', '#/$defs/NAME' or '#/definitions/NAME' of this schema")]
    [InlineData("""{"$ref":"https://example.invalid/schema.json"}""", "#.$ref: 'https://example.invalid/schema.json' is not '#', '#/$defs/NAME' or '#/definitions/NAME' of this schema")]
    [InlineData("""{"type":"object","properties":{"a":{"type":"string"}},"required":["b"]}""", "#.required: 'b' is not among the properties")]
    [InlineData("""{"type":"array","minItems":3,"maxItems":2}""", "#.maxItems: smaller than minItems")]
    [InlineData("""{"type":"string","maxLength":-1}""", "#.maxLength: must be an integer from 0 to 2000")]
    [InlineData("""{"type":"string","minLength":2001}""", "#.minLength: must be an integer from 0 to 2000")] // llama.cpp refuses it: "The grammar does not parse" before
    [InlineData("""{"type":"array","maxItems":2001}""", "#.maxItems: must be an integer from 0 to 2000")] // llama.cpp reads it as no maximum
    [InlineData("""{"enum":[]}""", "#.enum: must be a non-empty array")]
    [InlineData("""[1]""", "#: a schema must be an object or true")]
    // Left recursion: llama.cpp refuses the grammar, which was a 400 "The grammar does not parse." naming 'grammar' (found by fuzzing).
    [InlineData("""{"$ref":"#"}""", "#.$ref: '#' refers to itself before any of its value is written, which no answer can end")]
    [InlineData("""{"anyOf":[{"type":"string"},{"$ref":"#"}]}""", "#.anyOf[1].$ref: '#' refers to itself before any of its value is written, which no answer can end")]
    [InlineData("""{"$defs":{"a":{"allOf":[{"$ref":"#/$defs/b"}]},"b":{"oneOf":[{"$ref":"#/$defs/a"}]}},"$ref":"#/$defs/a"}""", "#/$defs/b.oneOf[0].$ref: '#/$defs/a' refers to itself before any of its value is written, which no answer can end")]
    public void What_it_cannot_honour_is_refused_with_its_path(string schema, string error)
    {
        var (grammar, refused) = Convert(schema);

        Assert.Null(grammar);
        Assert.Equal(error, refused);
    }

    [Fact]
    public void A_schema_nested_deeper_than_the_limit_is_refused_not_a_stack_overflow()
    {
        var schema = string.Concat(Enumerable.Repeat("""{"type":"array","items":""", 5_000)) + "true" + new string('}', 5_000);
        using var document = JsonDocument.Parse(schema, new JsonDocumentOptions { MaxDepth = 20_000 });

        var (grammar, error) = JsonSchemaGrammar.Convert(document.RootElement);

        Assert.Null(grammar);
        Assert.EndsWith($": nested deeper than {JsonSchemaGrammar.MaxDepth} levels", error);
    }

    // Found while fuzzing: an enum of 100,000 values (a 1.3 MB body) held a core for 24 s in llama.cpp's grammar before the first token.
    [Theory]
    [InlineData(1_001, 0)]
    [InlineData(600, 401)]
    public void More_enum_values_than_openai_allows_are_refused(int first, int second)
    {
        static string Schema(int a, int b) =>
            "{\"type\":\"object\",\"properties\":{\"a\":{\"enum\":[" + Values(a, "a") + "]}"
            + (b > 0 ? ",\"b\":{\"enum\":[" + Values(b, "b") + "]}" : "") + "}}";
        static string Values(int count, string prefix) => string.Join(',', Enumerable.Range(0, count).Select(i => $"\"{prefix}{i}\""));

        var (grammar, refused) = Convert(Schema(first, second));

        Assert.Null(grammar);
        Assert.Equal($"#.properties.{(second == 0 ? "a" : "b")}.enum: the schema holds more than 1000 enum values", refused);
        Assert.Null(Convert(second == 0 ? Schema(first - 1, 0) : Schema(first, second - 1)).Error); // 1000 in all
    }

    [Fact]
    public void A_recursive_reference_becomes_a_recursive_rule()
    {
        var (grammar, error) = Convert("""
            {"$defs":{"node":{"type":"object","properties":{"name":{"type":"string"},"children":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["name"]}},
             "$ref":"#/$defs/node"}
            """);

        Assert.Null(error);
        var lines = grammar!.Split('\n');
        var root = Regex.Match(lines[0], @"^root ::= (r\d+)$");
        Assert.True(root.Success, lines[0]);
        var node = root.Groups[1].Value; // the definition's own rule
        Assert.Single(lines, l => l.StartsWith(node + " ::= ", StringComparison.Ordinal)); // converted once
        var next = Assert.Single(lines, l => l.EndsWith($" ::= \",\" ws {node}", StringComparison.Ordinal)).Split(' ')[0]; // "," and one more node
        Assert.Contains(lines, l => l.Contains($"[\" ws ( {node} {next}{{0,}} )?", StringComparison.Ordinal)); // the children: a list of nodes
    }

    [Fact]
    public void Literals_are_the_values_JSON_text_escaped_for_GBNF()
    {
        var (grammar, error) = Convert("""{"enum":["say \"hi\"", "a\\b", 7, null]}""");

        Assert.Null(error);
        Assert.Contains("""root ::= ( "\"say \\u0022hi\\u0022\"" ws | "\"a\\\\b\"" ws | "7" ws | "null" ws )""", grammar);
    }
}

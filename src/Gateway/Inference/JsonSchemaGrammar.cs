using System.Globalization;
using System.Text;
using System.Text.Json;

namespace InferenceMesh.Gateway.Inference;

/// <summary>
/// Turns the JSON Schema of OpenAI's <c>response_format: {"type": "json_schema"}</c> into a GBNF grammar for the local
/// engine (<see cref="Engine.SamplingOptions.Grammar"/>), so every answer parses and conforms.
/// <para>
/// Supported: <c>type</c> (one or a list) of object, array, string, number, integer, boolean and null; <c>properties</c>
/// (written in the schema's order), <c>required</c>, <c>additionalProperties</c> (extra properties are never
/// generated, which every value of it allows); <c>items</c>, <c>minItems</c>, <c>maxItems</c>; <c>minLength</c>,
/// <c>maxLength</c>; <c>enum</c>, <c>const</c>; <c>anyOf</c>, <c>oneOf</c> (as any of); <c>allOf</c> of one schema;
/// <c>$ref</c> to <c>#</c>, <c>#/$defs/…</c> or <c>#/definitions/…</c> (recursion included); annotations
/// (<c>title</c>, <c>description</c>, <c>default</c>, <c>examples</c>, <c>$schema</c>, <c>$id</c>, <c>$comment</c>,
/// <c>strict</c>, <c>deprecated</c>, <c>readOnly</c>, <c>writeOnly</c>) are read past.
/// </para>
/// <para>
/// Anything else (<c>pattern</c>, <c>format</c>, <c>minimum</c>, <c>patternProperties</c>, …) is refused with its
/// path: an answer that ignored it might not conform, and a client asked for conformance.
/// </para>
/// </summary>
public static class JsonSchemaGrammar
{
    /// <summary>The deepest nesting of schemas converted (a hostile schema must not exhaust the stack).</summary>
    public const int MaxDepth = 32;

    /// <summary>At most this many grammar rules (a schema that needs more is refused).</summary>
    public const int MaxRules = 2_000;

    /// <summary>
    /// The largest <c>minItems</c>, <c>maxItems</c>, <c>minLength</c> and <c>maxLength</c>: llama.cpp's grammar parser
    /// (MAX_REPETITION_THRESHOLD) refuses a larger minimum, and reads a larger maximum as none, which would not conform.
    /// </summary>
    public const int MaxRepetitions = 2_000;

    /// <summary>
    /// At most this many <c>enum</c> values in a schema, OpenAI's own limit: llama.cpp keeps one parse stack per alternative
    /// and compares them pairwise, so 100,000 values cost 24 s of a core before the first token (10,000: 0.4 s).
    /// </summary>
    public const int MaxEnumValues = 1_000;

    private static readonly HashSet<string> Annotations =
        ["title", "description", "default", "examples", "$schema", "$id", "$comment", "strict", "deprecated", "readOnly", "writeOnly", "$defs", "definitions"];

    private static readonly HashSet<string> Handled =
        ["type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems", "minLength", "maxLength", "enum", "const", "anyOf", "oneOf", "allOf", "$ref"];

    private const string Primitives = """
        ws ::= | " " | "\n" [ \t]{0,20}
        char ::= [^"\\\x7F\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} )
        string ::= "\"" char* "\"" ws
        number ::= "-"? ( "0" | [1-9] [0-9]{0,15} ) ( "." [0-9]+ )? ( [eE] [-+]? [0-9]{1,4} )? ws
        integer ::= "-"? ( "0" | [1-9] [0-9]{0,15} ) ws
        boolean ::= ( "true" | "false" ) ws
        null ::= "null" ws
        value ::= object | array | string | number | boolean | null
        object ::= "{" ws ( string ":" ws value ( "," ws string ":" ws value )* )? "}" ws
        array ::= "[" ws ( value ( "," ws value )* )? "]" ws
        """;

    /// <summary>The grammar (start rule <c>root</c>), or the path of what cannot be converted and why.</summary>
    /// <param name="lenient">
    /// Read past what is not supported instead of refusing it (a schema that does not promise conformance: a tool
    /// without <c>strict</c>); the answer then keeps the supported part, e.g. the type but not the <c>format</c>.
    /// </param>
    public static (string? Grammar, string? Error) Convert(JsonElement schema, bool lenient = false)
    {
        var converter = new Converter(schema, lenient);
        try
        {
            var root = converter.Rule(schema, "#", 0);
            converter.Rules.Insert(0, $"root ::= {root}");
            return (string.Join('\n', converter.Rules) + "\n" + Primitives, null);
        }
        catch (SchemaNotSupportedException ex)
        {
            return (null, ex.Message);
        }
    }

    private sealed class SchemaNotSupportedException(string message) : Exception(message);

    private sealed class Converter(JsonElement document, bool lenient)
    {
        private readonly Dictionary<string, string> _refs = [];
        private int _named;
        private int _enumValues;

        // The references being converted since the last "{" or "[" was written: one of them reached again would be a rule
        // that starts with itself (left recursion), which llama.cpp refuses ("The grammar does not parse").
        private HashSet<string> _leading = [];

        public List<string> Rules { get; } = [];

        /// <summary>A GBNF expression for the schema at <paramref name="path"/>; adds the rules it needs.</summary>
        public string Rule(JsonElement schema, string path, int depth)
        {
            if (depth > MaxDepth)
            {
                throw new SchemaNotSupportedException($"{path}: nested deeper than {MaxDepth} levels");
            }

            if (schema.ValueKind == JsonValueKind.True)
            {
                return "value";
            }

            if (schema.ValueKind != JsonValueKind.Object)
            {
                throw new SchemaNotSupportedException($"{path}: a schema must be an object or true");
            }

            foreach (var property in schema.EnumerateObject())
            {
                if (!lenient && !Handled.Contains(property.Name) && !Annotations.Contains(property.Name))
                {
                    throw new SchemaNotSupportedException($"{path}: '{property.Name}' is not supported by the local model's structured output");
                }
            }

            if (schema.TryGetProperty("$ref", out var reference))
            {
                return Reference(reference, path, depth);
            }

            if (schema.TryGetProperty("const", out var constant))
            {
                return Literal(constant);
            }

            if (schema.TryGetProperty("enum", out var values))
            {
                if (values.ValueKind != JsonValueKind.Array || values.GetArrayLength() == 0)
                {
                    throw new SchemaNotSupportedException($"{path}.enum: must be a non-empty array");
                }

                _enumValues += values.GetArrayLength();
                if (_enumValues > MaxEnumValues)
                {
                    throw new SchemaNotSupportedException(string.Create(CultureInfo.InvariantCulture, $"{path}.enum: the schema holds more than {MaxEnumValues} enum values"));
                }

                return Group(values.EnumerateArray().Select(Literal));
            }

            foreach (var keyword in (ReadOnlySpan<string>)["anyOf", "oneOf"])
            {
                if (schema.TryGetProperty(keyword, out var options))
                {
                    if (options.ValueKind != JsonValueKind.Array || options.GetArrayLength() == 0)
                    {
                        throw new SchemaNotSupportedException($"{path}.{keyword}: must be a non-empty array");
                    }

                    return Group(options.EnumerateArray().Select((option, i) => Rule(option, $"{path}.{keyword}[{i}]", depth + 1)));
                }
            }

            if (schema.TryGetProperty("allOf", out var all))
            {
                if (all.ValueKind != JsonValueKind.Array || all.GetArrayLength() != 1)
                {
                    throw new SchemaNotSupportedException($"{path}.allOf: only a list of one schema is supported");
                }

                return Rule(all[0], $"{path}.allOf[0]", depth + 1);
            }

            if (!schema.TryGetProperty("type", out var type))
            {
                return schema.TryGetProperty("properties", out _) ? Object(schema, path, depth) : "value";
            }

            if (type.ValueKind == JsonValueKind.Array)
            {
                return Group(type.EnumerateArray().Select(t => Typed(schema, t, path, depth)));
            }

            return Typed(schema, type, path, depth);
        }

        private string Typed(JsonElement schema, JsonElement type, string path, int depth) =>
            (type.ValueKind == JsonValueKind.String ? type.GetString() : null) switch
            {
                "object" => Object(schema, path, depth),
                "array" => Array(schema, path, depth),
                "string" => String(schema, path),
                "number" => "number",
                "integer" => "integer",
                "boolean" => "boolean",
                "null" => "null",
                _ => throw new SchemaNotSupportedException($"{path}.type: must be one of object, array, string, number, integer, boolean, null"),
            };

        private string Object(JsonElement schema, string path, int depth)
        {
            if (!schema.TryGetProperty("properties", out var properties) || properties.ValueKind != JsonValueKind.Object)
            {
                // No declared properties: any object (additionalProperties' schema, if any, is not applied).
                return !lenient && schema.TryGetProperty("additionalProperties", out var extra) && extra.ValueKind == JsonValueKind.Object
                    ? throw new SchemaNotSupportedException($"{path}.additionalProperties: a schema for additional properties is not supported")
                    : "object";
            }

            var required = new HashSet<string>(StringComparer.Ordinal);
            if (schema.TryGetProperty("required", out var names))
            {
                if (names.ValueKind != JsonValueKind.Array || names.EnumerateArray().Any(n => n.ValueKind != JsonValueKind.String))
                {
                    throw new SchemaNotSupportedException($"{path}.required: must be an array of property names");
                }

                required.UnionWith(names.EnumerateArray().Select(n => n.GetString()!));
            }

            var mandatory = new List<string>();
            var optional = new List<string>();
            foreach (var property in properties.EnumerateObject())
            {
                var member = NewRule($"{Literal(property.Name)} \":\" ws {Inside(() => Rule(property.Value, $"{path}.properties.{property.Name}", depth + 1))}");
                (required.Contains(property.Name) ? mandatory : optional).Add(member);
            }

            var missing = required.FirstOrDefault(name => !properties.TryGetProperty(name, out _));
            if (missing is not null)
            {
                throw new SchemaNotSupportedException($"{path}.required: '{missing}' is not among the properties");
            }

            // Optional members keep their order; any subset of them may follow: S(i) ::= m_i ("," ws S(i+1))? | S(i+1).
            string? optionalTail = null;
            for (var i = optional.Count - 1; i >= 0; i--)
            {
                optionalTail = optionalTail is null
                    ? optional[i]
                    : NewRule($"{optional[i]} ( \",\" ws {optionalTail} )? | {optionalTail}");
            }

            var body = string.Join(" \",\" ws ", mandatory);
            var inner = (body.Length > 0, optionalTail) switch
            {
                (true, null) => body,
                (true, { } tail) => $"{body} ( \",\" ws {tail} )?",
                (false, { } tail) => $"( {tail} )?",
                (false, null) => "",
            };
            return NewRule($"\"{{\" ws {inner} \"}}\" ws");
        }

        private string Array(JsonElement schema, string path, int depth)
        {
            var item = schema.TryGetProperty("items", out var items) ? Inside(() => Rule(items, $"{path}.items", depth + 1)) : "value";
            var min = Count(schema, "minItems", path) ?? 0;
            var max = Count(schema, "maxItems", path);
            if (max < min)
            {
                throw new SchemaNotSupportedException($"{path}.maxItems: smaller than minItems");
            }

            if (max == 0)
            {
                return NewRule("\"[\" ws \"]\" ws");
            }

            // The repeated element is a rule of its own: llama.cpp counts the rules inside a repeated group times the
            // repetitions against the same limit, so an inline group of alternatives (an enum) could not be repeated 2000 times.
            var more = $"{NewRule($"\",\" ws {item}")}{Repeat(Math.Max(min - 1, 0), max - 1)}";
            var list = $"{item} {more}";
            return NewRule(min == 0 ? $"\"[\" ws ( {list} )? \"]\" ws" : $"\"[\" ws {list} \"]\" ws");
        }

        private string String(JsonElement schema, string path)
        {
            var min = Count(schema, "minLength", path);
            var max = Count(schema, "maxLength", path);
            if (min is null && max is null)
            {
                return "string";
            }

            if (max < min)
            {
                throw new SchemaNotSupportedException($"{path}.maxLength: smaller than minLength");
            }

            return NewRule($"\"\\\"\" char{Repeat(min ?? 0, max)} \"\\\"\" ws");
        }

        private string Reference(JsonElement reference, string path, int depth)
        {
            var target = reference.ValueKind == JsonValueKind.String ? reference.GetString()! : "";
            if (_leading.Contains(target))
            {
                throw new SchemaNotSupportedException($"{path}.$ref: '{target}' refers to itself before any of its value is written, which no answer can end");
            }

            if (_refs.TryGetValue(target, out var known))
            {
                return known;
            }

            JsonElement resolved;
            if (target == "#")
            {
                resolved = document;
            }
            else if ((target.StartsWith("#/$defs/", StringComparison.Ordinal) || target.StartsWith("#/definitions/", StringComparison.Ordinal))
                && target.Split('/') is [_, var section, var name]
                && document.ValueKind == JsonValueKind.Object
                && document.TryGetProperty(section, out var definitions) && definitions.ValueKind == JsonValueKind.Object
                && definitions.TryGetProperty(name.Replace("~1", "/").Replace("~0", "~"), out var definition))
            {
                resolved = definition;
            }
            else
            {
                throw new SchemaNotSupportedException($"{path}.$ref: '{target}' is not '#', '#/$defs/NAME' or '#/definitions/NAME' of this schema");
            }

            // Named before it is converted, so a recursive reference finds the rule.
            var rule = Name();
            _refs[target] = rule;
            var index = Rules.Count;
            Rules.Add("");
            _leading.Add(target);
            Rules[index] = $"{rule} ::= {Rule(resolved, target, depth + 1)}";
            _leading.Remove(target);
            return rule;
        }

        /// <summary>Converts a schema whose value is written after a "{" or "[": a reference there may be one being converted.</summary>
        private string Inside(Func<string> convert)
        {
            var outside = _leading;
            _leading = [];
            try
            {
                return convert();
            }
            finally
            {
                _leading = outside;
            }
        }

        private static int? Count(JsonElement schema, string keyword, string path)
        {
            if (!schema.TryGetProperty(keyword, out var value))
            {
                return null;
            }

            return value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var count) && count is >= 0 and <= MaxRepetitions
                ? count
                : throw new SchemaNotSupportedException(string.Create(CultureInfo.InvariantCulture, $"{path}.{keyword}: must be an integer from 0 to {MaxRepetitions}"));
        }

        private static string Repeat(int min, int? max) => max is { } upper
            ? string.Create(CultureInfo.InvariantCulture, $"{{{min},{upper}}}")
            : string.Create(CultureInfo.InvariantCulture, $"{{{min},}}");

        private static string Group(IEnumerable<string> alternatives) => $"( {string.Join(" | ", alternatives)} )";

        /// <summary>The exact JSON text of a value (as JSON writes it), as a GBNF literal followed by optional whitespace.</summary>
        private static string Literal(JsonElement value) => $"{Quote(JsonSerializer.Serialize(value))} ws";

        private static string Literal(string name) => Quote(JsonSerializer.Serialize(name));

        private static string Quote(string text)
        {
            var quoted = new StringBuilder("\"");
            foreach (var c in text)
            {
                quoted.Append(c switch
                {
                    '"' => "\\\"",
                    '\\' => "\\\\",
                    < ' ' => string.Create(CultureInfo.InvariantCulture, $"\\x{(int)c:X2}"),
                    _ => c.ToString(),
                });
            }

            return quoted.Append('"').ToString();
        }

        private string NewRule(string body)
        {
            var name = Name();
            Rules.Add($"{name} ::= {body}");
            return name;
        }

        private string Name()
        {
            if (Rules.Count >= MaxRules)
            {
                throw new SchemaNotSupportedException($"#: needs more than {MaxRules} grammar rules");
            }

            return string.Create(CultureInfo.InvariantCulture, $"r{_named++}");
        }
    }
}

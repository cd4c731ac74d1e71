using System.Text;

namespace InferenceMesh.Gateway.Tests.Fuzz;

/// <summary>
/// The raw JSON text (UTF-8 bytes, not always valid JSON or valid UTF-8) the fuzzer puts where a body had a value or a
/// key: every JSON type, numbers no .NET type holds, strings that are not text, and nesting deeper than any parser allows.
/// </summary>
internal static class HostileJson
{
    /// <summary>Deep enough to overflow any recursive reader (System.Text.Json stops at 64 by default).</summary>
    public const int DeepNesting = 10_000;

    public static IReadOnlyList<(string Name, byte[] Json)> Values { get; } = BuildValues();

    public static IReadOnlyList<(string Name, byte[] Json)> Keys { get; } = BuildKeys();

    /// <summary>
    /// JSON Schemas that are valid JSON but hard on a grammar: self-reference, repetitions at and over llama.cpp's limit,
    /// huge enums, nesting, keywords the grammar cannot keep. Put where a body holds a schema.
    /// </summary>
    public static IReadOnlyList<(string Name, byte[] Json)> Schemas { get; } = BuildSchemas();

    /// <summary>Field names a request may carry beyond the base body's (OpenAI's and ours), added with a hostile value.</summary>
    public static IReadOnlyList<string> ExtraFieldNames { get; } =
    [
        "model", "messages", "prompt", "input", "content", "tokens", "stream", "stream_options", "max_tokens", "max_completion_tokens",
        "max_output_tokens", "n", "stop", "logprobs", "top_logprobs", "echo", "suffix", "best_of", "logit_bias", "seed", "tools",
        "tool_choice", "parallel_tool_calls", "response_format", "functions", "function_call", "audio", "modalities", "lora",
        "conversation", "retrieval", "store", "previous_response_id", "truncation", "reasoning", "text", "include", "metadata",
        "user", "name", "items", "file_ids", "chunking_strategy", "expires_after", "privacy", "embedding_model", "file_id",
        "attributes", "query", "filters", "ranking_options", "max_num_results", "rewrite_query", "source", "sha256",
        "instructions", "encoding_format", "dimensions", "add_special", "parse_special", "with_pieces", "temperature", "top_p",
        "top_k", "min_p", "repeat_penalty", "presence_penalty", "frequency_penalty", "reasoning_effort", "verbosity",
    ];

    private static List<(string, byte[])> BuildValues()
    {
        var values = new List<(string, byte[])>();
        void Add(string name, string json) => values.Add((name, Encoding.UTF8.GetBytes(json)));
        void AddBytes(string name, params byte[][] parts) => values.Add((name, [.. parts.SelectMany(p => p)]));

        foreach (var literal in (string[])["null", "true", "false", "0", "-0", "-0.0", "1", "-1", "0.5", "-2.5", "1e309", "-1e309", "1e-400",
            "4.9e-324", "1.7976931348623157e308", "2147483647", "2147483648", "-2147483649", "4294967296", "9223372036854775807",
            "9223372036854775808", "-9223372036854775809", "18446744073709551616", "123456789012345678901234567890.5", "1E2", "1.0", "100000000000000000000"])
        {
            Add("number " + literal, literal);
        }

        foreach (var bare in (string[])["NaN", "Infinity", "-Infinity", "undefined", "01", "+1", ".5", "1.", "0x10", "1e", "--1", "tru", "nul"])
        {
            Add("bare " + bare, bare);
        }

        foreach (var text in (string[])["\"\"", "\" \"", "\"NaN\"", "\"Infinity\"", "\"1e309\"", "\"-1\"", "\"0\"", "\"true\"", "\"null\"", "\"\\u0000\"",
            "\"a\\u0000b\"", "\"\\ud800\"", "\"\\udfff\"", "\"\\udc00\\ud800\"", "\"x\\ud83d\"", "\"\\ud83d\\ude00\"", "\"\\uffff\"", "\"\\ufeff\"",
            "\"\\u202e\"", "\"\\n\\r\\t\\b\\f\\\\\\/\\\"\"", "\"\\x41\"", "\"\\u12\"", "\"../../../../etc/passwd\"", "\"%00%ff\"", "\"' OR '1'='1\"",
            "\"<script>alert(1)</script>\"", "\"${jndi:ldap://127.0.0.1:1/a}\"", "\"{{7*7}}\"", "\"C:\\\\Windows\\\\System32\"",
            "\"\\r\\n\\r\\nHTTP/1.1 200 OK\"", "\"magnet:?xt=urn:btih:\"", "\"magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&tr=http://169.254.169.254/a\"",
            "\"http://169.254.169.254/latest/meta-data\"", "\"http://127.0.0.1:1/x.torrent\"", "\"file:///etc/passwd\"", "\"data:;base64,AAAA\"",
            "\"AAAA\"", "\"conv_00000000000000000000000000000000\"", "\"conv_../../x\"", "\"resp_00000000000000000000000000000000\"",
            "\"file-0\"", "\"vs_0\"", "\"preset:\"", "\"preset:../x\"", "\"preset:nope\"", "\"stories260K+nope\"", "\"auto\"", "\"stories260K\"",
            "\"user\"", "\"system\"", "\"tool\"", "\"function\"", "\"json_schema\"", "\"json_object\"", "\"required\"", "\"none\"", "\"text\"",
            "\"input_text\"", "\"image_url\"", "\"function_call\"", "\"function_call_output\"", "\"static\"", "\"base64\"", "\"float\"",
            "\"restricted\"", "\"😀\"", "\"日本語\""])
        {
            Add("string " + text, text);
        }

        Add("string 256 KiB", "\"" + new string('a', 256 * 1024) + "\"");
        Add("string 4000 emoji", "\"" + string.Concat(Enumerable.Repeat("😀", 4000)) + "\"");
        Add("string 2000 escapes", "\"" + string.Concat(Enumerable.Repeat("\\u0041\\n", 2000)) + "\"");
        AddBytes("raw control byte in string", "\"a"u8.ToArray(), [0x01], "b\""u8.ToArray());
        AddBytes("raw NUL byte in string", "\"a"u8.ToArray(), [0x00], "b\""u8.ToArray());
        AddBytes("raw newline in string", "\"a\nb\""u8.ToArray());
        AddBytes("invalid UTF-8 FF", "\"a"u8.ToArray(), [0xFF], "\""u8.ToArray());
        AddBytes("invalid UTF-8 C3 28", "\""u8.ToArray(), [0xC3, 0x28], "\""u8.ToArray());
        AddBytes("overlong UTF-8 C0 AF", "\""u8.ToArray(), [0xC0, 0xAF], "\""u8.ToArray());
        AddBytes("UTF-8 encoded surrogate ED A0 80", "\""u8.ToArray(), [0xED, 0xA0, 0x80], "\""u8.ToArray());
        AddBytes("UTF-8 above U+10FFFF F4 90 80 80", "\""u8.ToArray(), [0xF4, 0x90, 0x80, 0x80], "\""u8.ToArray());
        AddBytes("truncated UTF-8 E2 82", "\"abc"u8.ToArray(), [0xE2, 0x82], "\""u8.ToArray());
        AddBytes("unterminated string", "\"abc"u8.ToArray());

        foreach (var structure in (string[])["{}", "[]", "[null]", "[[]]", "[{}]", "[\"\"]", "[1,2,3]", "[-1]", "[1e309]", "[\"a\",1,null,true,{},[]]",
            "{\"a\":1}", "{\"\":\"\"}", "{\"type\":\"text\",\"text\":\"hi\"}", "{\"id\":\"x\"}", "{\"type\":null}", "[{\"role\":\"user\",\"content\":\"hi\"}]",
            "[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]", "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\",\"schema\":{\"$ref\":\"#\"}}}",
            "{\"type\":\"object\",\"properties\":{\"a\":{\"$ref\":\"#\"}}}", "[2147483647]", "[-2147483648]", "[9223372036854775808]",
            "{\"a\":1,\"a\":2}", "[1,]", "{\"a\":1,}", "[", "{", "]", "}", "{\"a\"}", "{\"a\":}", "[,]", "{,}", "/* c */ 1", "1 // c"])
        {
            Add("structure " + structure, structure);
        }

        Add($"array nested {DeepNesting} deep", new string('[', DeepNesting) + new string(']', DeepNesting));
        Add($"object nested {DeepNesting} deep", string.Concat(Enumerable.Repeat("{\"a\":", DeepNesting)) + "1" + new string('}', DeepNesting));
        Add("array nested 63 deep", new string('[', 63) + new string(']', 63));
        Add("array nested 65 deep", new string('[', 65) + new string(']', 65));
        Add($"unclosed {DeepNesting} arrays", new string('[', DeepNesting));
        Add("array of 100000 zeros", "[" + string.Join(',', Enumerable.Repeat("0", 100_000)) + "]");
        Add("array of 20000 strings", "[" + string.Join(',', Enumerable.Repeat("\"Once\"", 20_000)) + "]");
        Add("array of 3000 objects", "[" + string.Join(',', Enumerable.Repeat("{\"role\":\"user\",\"content\":\"hi\"}", 3000)) + "]");
        Add("object of 5000 keys", "{" + string.Join(',', Enumerable.Range(0, 5000).Select(i => $"\"k{i}\":\"v\"")) + "}");
        Add("object with a 100000-character key", "{\"" + new string('k', 100_000) + "\":1}");
        return values;
    }

    private static List<(string, byte[])> BuildSchemas()
    {
        string Enum(int count) => "{\"enum\":[" + string.Join(',', Enumerable.Range(0, count).Select(i => $"\"v{i}\"")) + "]}";
        string Nested(int depth) => string.Concat(Enumerable.Repeat("{\"type\":\"array\",\"items\":", depth)) + "true" + new string('}', depth);
        (string, string)[] schemas =
        [
            ("$ref to the root", "{\"$ref\":\"#\"}"),
            ("anyOf holding itself", "{\"anyOf\":[{\"type\":\"string\"},{\"$ref\":\"#\"}]}"),
            ("allOf of itself through $defs", "{\"$defs\":{\"a\":{\"allOf\":[{\"$ref\":\"#/$defs/a\"}]}},\"$ref\":\"#/$defs/a\"}"),
            ("recursive tree", "{\"$defs\":{\"n\":{\"type\":\"object\",\"properties\":{\"c\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/n\"}}}}},\"$ref\":\"#/$defs/n\"}"),
            ("minLength 2001", "{\"type\":\"string\",\"minLength\":2001}"),
            ("minLength 2000", "{\"type\":\"string\",\"minLength\":2000}"),
            ("enum list of 2000", "{\"type\":\"array\",\"items\":{\"enum\":[\"a\",\"b\"]},\"minItems\":2000}"),
            ("maxItems 2^31", "{\"type\":\"array\",\"maxItems\":2147483648}"),
            ("minItems 1e309", "{\"type\":\"array\",\"minItems\":1e309}"),
            ("maxLength -1", "{\"type\":\"string\",\"maxLength\":-1}"),
            ("enum of 1000", Enum(1000)),
            ("enum of 20000", Enum(20_000)),
            ("array schemas 60 deep", Nested(60)),
            ("pattern", "{\"type\":\"string\",\"pattern\":\"^(a+)+$\"}"),
            ("format", "{\"type\":\"string\",\"format\":\"date-time\"}"),
            ("type list of everything", "{\"type\":[\"object\",\"array\",\"string\",\"number\",\"integer\",\"boolean\",\"null\"]}"),
            ("unknown type", "{\"type\":\"date\"}"),
            ("required missing", "{\"type\":\"object\",\"properties\":{},\"required\":[\"a\"]}"),
            ("true", "true"),
            ("false", "false"),
        ];
        return [.. schemas.Select(s => ("schema " + s.Item1, Encoding.UTF8.GetBytes(s.Item2)))];
    }

    private static List<(string, byte[])> BuildKeys()
    {
        var keys = new List<(string, byte[])>();
        void Add(string name, string json) => keys.Add((name, Encoding.UTF8.GetBytes(json)));
        void AddBytes(string name, params byte[][] parts) => keys.Add((name, [.. parts.SelectMany(p => p)]));

        Add("empty key", "\"\"");
        Add("100000-character key", "\"" + new string('k', 100_000) + "\"");
        Add("key \\u0000", "\"\\u0000\"");
        Add("key with NUL escape inside", "\"mo\\u0000del\"");
        Add("key \\ud800", "\"\\ud800\"");
        Add("key \\udfff\\ud800", "\"\\udfff\\ud800\"");
        Add("key escaped as \\u006d\\u006f\\u0064\\u0065\\u006c", "\"\\u006d\\u006f\\u0064\\u0065\\u006c\"");
        Add("key $type", "\"$type\"");
        Add("key $id", "\"$id\"");
        Add("key $ref", "\"$ref\"");
        Add("key __proto__", "\"__proto__\"");
        Add("key MODEL", "\"MODEL\"");
        Add("key with space", "\" model\"");
        Add("key 😀", "\"😀\"");
        AddBytes("key invalid UTF-8 FF", "\"k"u8.ToArray(), [0xFF], "\""u8.ToArray());
        AddBytes("key UTF-8 encoded surrogate", "\""u8.ToArray(), [0xED, 0xB0, 0x80], "\""u8.ToArray());
        AddBytes("key raw NUL byte", "\"k"u8.ToArray(), [0x00], "\""u8.ToArray());
        Add("key not a string", "1");
        Add("key unquoted", "model");
        Add("key single-quoted", "'model'");
        return keys;
    }
}

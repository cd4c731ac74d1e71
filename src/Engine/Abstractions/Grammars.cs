namespace InferenceMesh.Engine;

/// <summary>Grammars for <see cref="SamplingOptions.Grammar"/>.</summary>
public static class Grammars
{
    /// <summary>
    /// One JSON object (RFC 8259), as OpenAI's <c>response_format: {"type": "json_object"}</c> promises. After
    /// llama.cpp's <c>grammars/json.gbnf</c> (MIT), with two limits that keep a small model from wandering: whitespace
    /// between tokens is at most one newline and 20 spaces or tabs, and an exponent has at most four digits. A string
    /// or an object can still run on: <c>max_tokens</c> bounds it, and a text cut there is not complete JSON.
    /// </summary>
    public const string JsonObject = """
        root   ::= object
        value  ::= object | array | string | number | ("true" | "false" | "null") ws
        object ::= "{" ws ( string ":" ws value ( "," ws string ":" ws value )* )? "}" ws
        array  ::= "[" ws ( value ( "," ws value )* )? "]" ws
        string ::= "\"" ( [^"\\\x7F\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} ) )* "\"" ws
        number ::= "-"? ( "0" | [1-9] [0-9]{0,15} ) ( "." [0-9]+ )? ( [eE] [-+]? [0-9]{1,4} )? ws
        ws     ::= | " " | "\n" [ \t]{0,20}
        """;
}

using System.Text.Json.Nodes;
using InferenceMesh.Gateway.Tests.Common;

namespace InferenceMesh.Gateway.Tests.Fuzz;

/// <summary>One JSON endpoint under fuzz: its path, a valid body (each generation capped at one token) and what that body answers.</summary>
internal sealed record FuzzTarget(string Name, string Path, string ValidBody, int ValidStatus, int Share = 4)
{
    public JsonObject Body => (JsonObject)JsonNode.Parse(ValidBody)!;
}

/// <summary>What the fuzzed gateway holds before the run, made with valid requests: the targets name it, and it must all be there after.</summary>
internal sealed record FuzzResources(
    string KeeperConversation, string ScratchConversation, string KeeperPreset, string ScratchPreset, string FileId, string VectorStore, string ResponseId);

/// <summary>
/// Every POST endpoint the gateway maps that reads a JSON body (grep MapPost in src/Gateway), each with a valid body that
/// uses as many of its fields as it can, so that mutations reach deep validation (tools, schemas, token prompts, streams,
/// conversations, retrieval, stored responses). <see cref="FuzzTarget.Share"/> weighs the cases an endpoint gets.
/// </summary>
internal static class FuzzTargets
{
    private const string Model = TestEnvironment.Stories;

    private const string Messages = """
        [{"role":"system","content":"You tell stories."},{"role":"user","content":[{"type":"text","text":"Once upon a time"}]},
         {"role":"assistant","content":"there was"},{"role":"user","content":"go on","name":"kid"}]
        """;

    private const string Tools = """
        [{"type":"function","function":{"name":"get_weather","description":"The weather of a city","parameters":{"type":"object",
          "properties":{"city":{"type":"string","enum":["Oslo","Rome"]},"days":{"type":"integer","minimum":1},"units":{"type":["string","null"]}},
          "required":["city"],"additionalProperties":false},"strict":false}}]
        """;

    public static IReadOnlyList<FuzzTarget> All(FuzzResources r) =>
        [.. Targets.Select(t => t with { Path = Fill(t.Path, r), ValidBody = Fill(t.ValidBody, r) })];

    /// <summary>The placeholders of <see cref="Targets"/> (<c>@model</c>, <c>@file</c>, …) replaced by the run's model and resources.</summary>
    private static string Fill(string text, FuzzResources r) => text
        .Replace("@messages", Messages, StringComparison.Ordinal).Replace("@tools", Tools, StringComparison.Ordinal)
        .Replace("@model", Model, StringComparison.Ordinal).Replace("@keeperPreset", r.KeeperPreset, StringComparison.Ordinal)
        .Replace("@scratchPreset", r.ScratchPreset, StringComparison.Ordinal).Replace("@scratchConversation", r.ScratchConversation, StringComparison.Ordinal)
        .Replace("@vectorStore", r.VectorStore, StringComparison.Ordinal).Replace("@response", r.ResponseId, StringComparison.Ordinal)
        .Replace("@file", r.FileId, StringComparison.Ordinal);

    private static readonly FuzzTarget[] Targets =
    [
        new("chat", "/v1/chat/completions", """
            {"model":"@model","messages":@messages,"max_tokens":1,"temperature":0,"top_p":1,"n":1,"stop":"\n","seed":7,
             "presence_penalty":0,"frequency_penalty":0,"logit_bias":{"5":1},"logprobs":true,"top_logprobs":2,"top_k":40,"min_p":0.05,
             "repeat_penalty":1.1,"user":"fuzzer","metadata":{"k":"v"},"modalities":["text"],"stream":false}
            """, 200, Share: 8),
        new("chat-tools", "/v1/chat/completions", """
            {"model":"@model","messages":[{"role":"user","content":"Weather in Oslo?"},
              {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}]},
              {"role":"tool","tool_call_id":"call_1","content":"sunny"}],
             "tools":@tools,"tool_choice":{"type":"function","function":{"name":"get_weather"}},"parallel_tool_calls":false,"max_completion_tokens":1,"temperature":0}
            """, 200, Share: 6),
        new("chat-schema-stream", "/v1/chat/completions", """
            {"model":"@model","messages":[{"role":"user","content":"A person"}],"response_format":{"type":"json_schema","json_schema":{"name":"person",
              "strict":true,"schema":{"type":"object","properties":{"name":{"type":"string","maxLength":20},"age":{"type":"integer"},
              "tags":{"type":"array","items":{"type":"string"},"minItems":1},"kind":{"anyOf":[{"const":"a"},{"type":"number"}]}},
              "required":["name","age","tags","kind"],"additionalProperties":false}}},
             "stream":true,"stream_options":{"include_usage":true},"max_tokens":1,"temperature":0}
            """, 200, Share: 6),
        new("chat-context", "/v1/chat/completions", """
            {"model":"preset:@keeperPreset","messages":[{"role":"user","content":"Tell me about Lily's ball"}],"conversation":{"id":"@scratchConversation"},
             "retrieval":{"vector_store_ids":["@vectorStore"],"max_num_results":2},"max_tokens":1,"temperature":0}
            """, 200, Share: 5),
        new("route", "/v1/route", """
            {"model":"auto","messages":@messages,"tools":@tools,"max_tokens":1,"stop":["a","b"],"user":"u"}
            """, 200, Share: 5),
        new("completions", "/v1/completions", """
            {"model":"@model","prompt":"Once upon a time","max_tokens":1,"temperature":0,"top_p":1,"n":2,"stop":["\n","."],"seed":3,
             "presence_penalty":0,"frequency_penalty":0,"logit_bias":{"5":-1},"logprobs":2,"echo":true,"best_of":1,"suffix":"",
             "top_k":40,"min_p":0.05,"repeat_penalty":1.1,"user":"u"}
            """, 200, Share: 6),
        new("completions-tokens-stream", "/v1/completions", """
            {"model":"@model","prompt":[[1,300,301],"Once upon",[1,5]],"max_tokens":1,"temperature":0,"stream":true,
             "stream_options":{"include_usage":true},"logprobs":1}
            """, 200, Share: 6),
        new("embeddings", "/v1/embeddings", """
            {"model":"@model","input":["Once upon a time","the end"],"encoding_format":"base64","user":"u"}
            """, 200),
        new("embeddings-tokens", "/v1/embeddings", """
            {"model":"@model","input":[[1,300,301],[1,5]],"encoding_format":"float"}
            """, 200),
        new("responses", "/v1/responses", """
            {"model":"@model","input":[{"role":"user","content":[{"type":"input_text","text":"Once upon a time"}]},
              {"type":"message","role":"assistant","content":[{"type":"output_text","text":"there was"}]}],
             "instructions":"Tell a story.","max_output_tokens":1,"temperature":0,"top_p":1,"metadata":{"k":"v"},"store":true,
             "previous_response_id":"@response","truncation":"auto","text":{"format":{"type":"json_schema","name":"story","schema":{"type":"object","properties":{"s":{"type":"string"}}}},"verbosity":"low"},
             "reasoning":{"effort":"low"},"user":"u","include":["message.output_text.logprobs"],"top_logprobs":1}
            """, 200, Share: 8),
        new("responses-tools-stream", "/v1/responses", """
            {"model":"@model","input":[{"role":"user","content":"Weather in Oslo?"},
              {"type":"function_call","call_id":"call_1","name":"get_weather","arguments":"{\"city\":\"Oslo\"}"},
              {"type":"function_call_output","call_id":"call_1","output":"sunny"}],
             "tools":[{"type":"function","name":"get_weather","description":"d","parameters":{"type":"object","properties":{"city":{"type":"string"}},
              "required":["city"]},"strict":false}],"tool_choice":"auto","stream":true,"store":false,"max_output_tokens":1}
            """, 200, Share: 6),
        new("responses-cancel", "/v1/responses/@response/cancel", "{}", 400, Share: 1),
        new("tokenize", "/tokenize", """
            {"model":"@model","content":["Once",300,"upon"],"add_special":true,"parse_special":false,"with_pieces":true}
            """, 200),
        new("v1-tokenize", "/v1/tokenize", """{"model":"@model","content":"Once upon a time"}""", 200, Share: 1),
        new("detokenize", "/detokenize", """{"model":"@model","tokens":[1,300,301]}""", 200),
        new("v1-detokenize", "/v1/detokenize", """{"model":"@model","tokens":[300]}""", 200, Share: 1),
        new("apply-template", "/apply-template", """{"model":"@model","messages":@messages,"tools":@tools}""", 200),
        new("v1-apply-template", "/v1/apply-template", """{"model":"@model","messages":[{"role":"user","content":"hi"}]}""", 200, Share: 1),
        new("conversations", "/v1/conversations", """
            {"metadata":{"topic":"fuzz"},"items":[{"type":"message","role":"user","content":"hello"},
              {"type":"message","role":"assistant","content":[{"type":"output_text","text":"hi"}]},
              {"type":"function_call","call_id":"c1","name":"f","arguments":"{\"a\":1}"},{"type":"function_call_output","call_id":"c1","output":"ok"}]}
            """, 200),
        new("conversation-update", "/v1/conversations/@scratchConversation", """{"metadata":{"topic":"updated","n":"1"}}""", 200, Share: 2),
        new("conversation-items", "/v1/conversations/@scratchConversation/items", """
            {"items":[{"type":"message","role":"developer","content":[{"type":"input_text","text":"a"},{"type":"text","text":"b"}]},
              {"type":"function_call_output","call_id":"c9","output":"done"}]}
            """, 200),
        new("presets", "/v1/presets", """
            {"name":"fuzz-created","instructions":"Be kind.","model":"@model","temperature":0.5,"top_p":0.9,"max_tokens":1,"metadata":{"k":"v"}}
            """, 200, Share: 2),
        new("preset-update", "/v1/presets/@scratchPreset", """
            {"name":"@scratchPreset","instructions":"Be brief.","model":"@model","temperature":0,"top_p":1,"max_tokens":1,"metadata":{"a":"b"}}
            """, 200, Share: 2),
        new("vector-stores", "/v1/vector_stores", """
            {"name":"notes","file_ids":["@file"],"metadata":{"k":"v"},"privacy":"internal","embedding_model":"@model",
             "chunking_strategy":{"type":"static","static":{"max_chunk_size_tokens":100,"chunk_overlap_tokens":20}}}
            """, 200, Share: 3),
        new("vector-store-files", "/v1/vector_stores/@vectorStore/files", """
            {"file_id":"@file","attributes":{"k":"v","n":1,"b":true},"chunking_strategy":{"type":"auto"}}
            """, 200, Share: 3),
        new("vector-store-search", "/v1/vector_stores/@vectorStore/search", """
            {"query":["Lily","ball"],"max_num_results":3,"ranking_options":{"ranker":"auto","score_threshold":0.0},"rewrite_query":false}
            """, 200),
        new("models-share", "/v1/models/share", """{"name":"@model"}""", 503, Share: 1),
        new("models-pull", "/v1/models/pull", """
            {"source":"magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=pulled","name":"pulled",
             "sha256":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
            """, 503, Share: 2),
    ];
}

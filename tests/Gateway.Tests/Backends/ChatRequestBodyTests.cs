using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using InferenceMesh.Gateway.Backends;

namespace InferenceMesh.Gateway.Tests.Backends;

/// <summary>The forwarded body: the client's bytes with only the model's value replaced, or the client's array itself.</summary>
public sealed class ChatRequestBodyTests
{
    private static byte[] Utf8(string json) => Encoding.UTF8.GetBytes(json);

    private static string Text(byte[] bytes) => Encoding.UTF8.GetString(bytes);

    [Fact]
    public void Same_model_forwards_the_clients_array_itself()
    {
        var raw = Utf8("""{"model":"auto", "messages":[{"role":"user","content":"hi"}], "x_vendor":{"a":[1,2]}}""");

        Assert.Same(raw, ChatRequestBody.FromRaw(raw).WithModel("auto"));
    }

    [Fact]
    public void Other_model_replaces_only_the_value_and_keeps_every_other_byte()
    {
        // Spacing, field order, number spelling and unknown fields are the client's, byte for byte.
        var raw = Utf8("""{ "messages" : [{"role":"user","content":"caf\u00e9 \"model\": 1"}],"model" : "auto","temperature":1.50,"x":{"model":"inner"} }""");

        var sent = Text(ChatRequestBody.FromRaw(raw).WithModel("gpt-4o-mini"));

        Assert.Equal("""{ "messages" : [{"role":"user","content":"caf\u00e9 \"model\": 1"}],"model" : "gpt-4o-mini","temperature":1.50,"x":{"model":"inner"} }""", sent);
    }

    [Fact]
    public void Every_top_level_model_is_replaced_and_an_escaped_name_counts()
    {
        var raw = Utf8("""{"model":"a","mod\u0065l":"b","messages":[],"model":"c"}""");

        using var sent = JsonDocument.Parse(ChatRequestBody.FromRaw(raw).WithModel("up"));

        var models = sent.RootElement.EnumerateObject().Where(p => p.Name == "model").Select(p => p.Value.GetString()).ToList();
        Assert.Equal(["up", "up", "up"], models);
    }

    [Fact]
    public void The_new_model_is_escaped_as_json()
    {
        var raw = Utf8("""{"model":"auto","messages":[]}""");

        using var sent = JsonDocument.Parse(ChatRequestBody.FromRaw(raw).WithModel("we\"ird\\name</x>é"));

        Assert.Equal("we\"ird\\name</x>é", sent.RootElement.GetProperty("model").GetString());
    }

    [Fact]
    public void A_body_without_a_model_gets_one()
    {
        using var sent = JsonDocument.Parse(ChatRequestBody.FromRaw(Utf8("""{"messages":[]}""")).WithModel("up"));

        Assert.Equal("up", sent.RootElement.GetProperty("model").GetString());
        Assert.Equal(JsonValueKind.Array, sent.RootElement.GetProperty("messages").ValueKind);
    }

    [Fact]
    public void An_edited_body_is_written_in_order_with_the_model_replaced_and_is_not_changed()
    {
        var edited = JsonNode.Parse("""{"model":"preset:x","messages":[{"role":"system","content":"be brief"}],"temperature":0.2,"n":null}""")!.AsObject();

        var sent = Text(ChatRequestBody.FromJson(edited).WithModel("up"));

        Assert.Equal("""{"model":"up","messages":[{"role":"system","content":"be brief"}],"temperature":0.2,"n":null}""", sent);
        Assert.Equal("preset:x", edited["model"]!.GetValue<string>());
    }
}

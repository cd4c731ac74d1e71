using System.Text;
using System.Text.Json;
using InferenceMesh.Tests;

namespace InferenceMesh.Engine.Tests.Scheduling;

public class GrammarTests
{
    [Fact]
    public async Task The_json_grammar_keeps_stories260K_inside_one_JSON_object()
    {
        await using var engine = await EngineHarness.StartAsync();
        var free = EngineHarness.Greedy("Once upon a time", 80);

        var (text, outcome) = await engine.CompleteAsync(free with { Sampling = free.Sampling with { Grammar = Grammars.JsonObject } });

        Assert.Null(outcome.Failure);
        Assert.StartsWith("{", text);
        AssertJsonPrefix(text);
        if (outcome.FinishReason == FinishReason.Stop)
        {
            using var parsed = JsonDocument.Parse(text); // ended by the model: the whole object
            Assert.Equal(JsonValueKind.Object, parsed.RootElement.ValueKind);
        }

        // Without it the same request is the story, which is no JSON at all.
        var (story, _) = await engine.CompleteAsync(free);
        Assert.StartsWith(TestPaths.Stories260KGreedyContinuation, story);
    }

    [Fact]
    public async Task A_grammar_that_does_not_parse_is_an_invalid_parameter_and_the_engine_still_serves()
    {
        await using var engine = await EngineHarness.StartAsync();
        var request = EngineHarness.Greedy("Once upon a time", 8);

        var started = await engine.Model.StartGenerationAsync(request with { Sampling = request.Sampling with { Grammar = "root ::= [unclosed" } }, CancellationToken.None);

        Assert.False(started.Succeeded);
        Assert.Equal((EngineError.InvalidParameter, "grammar"), (started.Failure!.Error, started.Failure.Param));
        var (text, _) = await engine.CompleteAsync(request);
        Assert.StartsWith(TestPaths.Stories260KGreedyContinuation[..10], text);
    }

    /// <summary>Reads every JSON token of the text as the start of a document; throws when it is not one.</summary>
    private static void AssertJsonPrefix(string text)
    {
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(text), isFinalBlock: false, state: default);
        var tokens = 0;
        while (reader.Read())
        {
            tokens++;
        }

        Assert.True(tokens > 0, $"no JSON token in a text of {text.Length} characters");
    }
}

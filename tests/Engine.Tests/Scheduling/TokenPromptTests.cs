using InferenceMesh.Tests;

namespace InferenceMesh.Engine.Tests.Scheduling;

/// <summary>Prompts and embedding inputs given as the model's own token ids, on the real stories260K.</summary>
public sealed class TokenPromptTests
{
    [Fact]
    public async Task A_token_prompt_is_used_as_given_and_continues_as_its_text_does()
    {
        await using var engine = await EngineHarness.StartAsync();
        var tokens = engine.Model.Tokenize("Once upon a time", addSpecial: true, parseSpecial: true);

        var (fromText, textOutcome) = await engine.CompleteAsync(EngineHarness.Greedy("Once upon a time", 24));
        var (fromTokens, tokenOutcome) = await engine.CompleteAsync(EngineHarness.Greedy("ignored", 24) with { PromptTokens = tokens });
        var (withoutBos, withoutBosOutcome) = await engine.CompleteAsync(EngineHarness.Greedy("Once upon a time", 24) with { PromptTokens = tokens[1..] });

        Assert.StartsWith(TestPaths.Stories260KGreedyContinuation[..20], fromText);
        Assert.Equal(fromText, fromTokens);
        Assert.Equal(textOutcome.PromptTokens, tokenOutcome.PromptTokens);
        Assert.Equal(tokens.Length - 1, withoutBosOutcome.PromptTokens); // no BOS added to a token prompt
        Assert.False(string.IsNullOrEmpty(withoutBos));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(512)]
    public async Task A_token_outside_the_vocabulary_is_refused_naming_the_prompt(int token)
    {
        await using var engine = await EngineHarness.StartAsync();

        var started = await engine.Model.StartGenerationAsync(EngineHarness.Greedy("x", 4) with { PromptTokens = [1, token] });

        Assert.Equal(512, engine.Model.VocabularySize);
        Assert.Equal(EngineError.InvalidParameter, started.Failure?.Error);
        Assert.Equal("prompt", started.Failure?.Param);
        Assert.Contains("Token 1", started.Failure?.Message);
    }

    [Fact]
    public async Task Detokenize_gives_the_text_back_without_bos_or_the_sentencepiece_space()
    {
        await using var engine = await EngineHarness.StartAsync();
        var tokens = engine.Model.Tokenize("Once upon a time", addSpecial: true, parseSpecial: true);

        Assert.Equal("Once upon a time", engine.Model.Detokenize(tokens));
        Assert.Equal("Once upon a time", engine.Model.Detokenize(tokens[1..]));
        Assert.Equal("upon a time", engine.Model.Detokenize(tokens[2..])); // any first word loses the space, as in llama_detokenize
        Assert.Throws<ArgumentOutOfRangeException>(() => engine.Model.Detokenize([1, 512]));
    }

    [Fact]
    public async Task Token_inputs_embed_as_their_text_and_a_bad_one_is_named_by_its_index()
    {
        await using var engine = await EngineHarness.StartAsync();
        var tokens = engine.Model.Tokenize("Once upon a time", addSpecial: true, parseSpecial: false);

        var fromText = await engine.Model.EmbedAsync(["Once upon a time"]);
        var fromTokens = await engine.Model.EmbedTokensAsync([tokens]);
        var outOfVocabulary = await engine.Model.EmbedTokensAsync([tokens, [1, 600]]);
        var empty = await engine.Model.EmbedTokensAsync([tokens, []]);

        Assert.True(fromTokens.Succeeded, fromTokens.Failure?.Message);
        Assert.Equal(fromText.Value!.PromptTokens, fromTokens.Value!.PromptTokens);
        Assert.All(fromText.Value.Vectors[0].Zip(fromTokens.Value.Vectors[0]), pair => Assert.Equal(pair.First, pair.Second, 5));
        Assert.Equal(("input[1]", EngineError.InvalidParameter), (outOfVocabulary.Failure?.Param, outOfVocabulary.Failure!.Error));
        Assert.Equal(("input[1]", EngineError.InvalidParameter), (empty.Failure?.Param, empty.Failure!.Error));
    }
}

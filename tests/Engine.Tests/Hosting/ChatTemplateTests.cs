using InferenceMesh.Engine.Hosting;
using InferenceMesh.Engine.Native;
using InferenceMesh.Engine.Tests.Scheduling;
using Microsoft.Extensions.Logging.Abstractions;

namespace InferenceMesh.Engine.Tests.Hosting;

public class ChatTemplateTests
{
    private const string ChatMlJinja =
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    [Fact]
    public void A_template_from_gguf_metadata_is_applied_by_llama_cpp()
    {
        LlamaLibrary.Initialize(NullLogger.Instance);

        var prompt = LlamaLoadedModel.ApplyLlamaTemplate(ChatMlJinja, [new("system", "Be brief."), new("user", "Hi ünïcode")]);

        Assert.Equal("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi ünïcode<|im_end|>\n<|im_start|>assistant\n", prompt);
    }

    [Fact]
    public void An_unrecognised_template_gives_null_so_the_fallback_applies()
    {
        LlamaLibrary.Initialize(NullLogger.Instance);

        Assert.Null(LlamaLoadedModel.ApplyLlamaTemplate("{{ something no known model uses }}", [new("user", "Hi")]));
    }

    [Fact]
    public void The_fallback_passes_a_single_user_message_as_is_and_makes_a_transcript_otherwise()
    {
        Assert.Equal("Once upon a time", ChatTemplateFallback.Apply([new("user", "Once upon a time")]));
        Assert.Equal(
            "System: Be kind.\n\nUser: Hello\n\nAssistant: Hi!\n\nUser: A story?\n\nAssistant:",
            ChatTemplateFallback.Apply([new("system", "Be kind."), new("user", "Hello"), new("assistant", "Hi!"), new("user", "A story?")]));
    }

    [Fact]
    public async Task A_model_without_a_template_uses_the_fallback_and_chat_continues_the_story()
    {
        await using var engine = await EngineHarness.StartAsync();

        Assert.False(engine.Model.HasChatTemplate);
        var prompt = engine.Model.ApplyChatTemplate([new("user", "Once upon a time")]);
        Assert.Equal("Once upon a time", prompt.Value);
    }
}

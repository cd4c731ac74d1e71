using System.Text;
using InferenceMesh.Engine.Native;
using Microsoft.Extensions.Logging;

namespace InferenceMesh.Engine.Tests.Native;

public sealed class LlamaLogBridgeTests
{
    [Fact]
    public void Loading_a_model_logs_through_the_bridge_and_our_callback_is_installed()
    {
        NativeTestEnvironment.EnsureInitialized();
        var logger = new CapturingLogger();
        using (LlamaLogBridge.AddListener(logger))
        {
            using var model = NativeTestEnvironment.LoadStories();
        }

        Assert.Contains(logger.Entries, e => e.EventId.Id == 1010 && e.Message.Contains("llama_model_load", StringComparison.Ordinal));
        Assert.All(logger.Entries, e => Assert.DoesNotContain("\n", e.Message, StringComparison.Ordinal));

        // Whatever llama.cpp or ggml logs goes to the bridge, never to their default stderr printer.
        Assert.True(LlamaLogBridge.IsInstalled(), "llama_log_get does not return the bridge's callback");
    }

    [Fact]
    public void Fragments_are_joined_into_lines_and_levels_are_mapped()
    {
        var marker = Guid.NewGuid().ToString("N");
        var logger = new CapturingLogger();
        using (LlamaLogBridge.AddListener(logger))
        {
            LlamaLogBridge.Append(GgmlLogLevel.Info, Utf8($"{marker} loading"));
            LlamaLogBridge.Append(GgmlLogLevel.Cont, Utf8("."));
            LlamaLogBridge.Append(GgmlLogLevel.Cont, Utf8(". done\n"));
            LlamaLogBridge.Append(GgmlLogLevel.Warn, Utf8($"{marker} first\n{marker} second\n"));
            LlamaLogBridge.Append(GgmlLogLevel.Error, Utf8($"{marker} unterminated"));
            LlamaLogBridge.Append(GgmlLogLevel.Debug, Utf8($"{marker} next message flushes the previous one\n"));
        }

        var mine = logger.Entries.Where(e => e.Message.Contains(marker, StringComparison.Ordinal)).ToList();
        Assert.Equal(
            new[]
            {
                (LogLevel.Debug, $"{marker} loading.. done"),
                (LogLevel.Warning, $"{marker} first"),
                (LogLevel.Warning, $"{marker} second"),
                (LogLevel.Error, $"{marker} unterminated"),
                (LogLevel.Trace, $"{marker} next message flushes the previous one"),
            },
            mine.Select(e => (e.Level, e.Message)));
        Assert.All(mine, e => Assert.Equal(1010, e.EventId.Id));
    }

    [Fact]
    public void Lines_nobody_listens_to_are_dropped_without_decoding_and_do_not_cut_the_next_message()
    {
        // The primary logger of this test process is NullLogger (NativeTestEnvironment); the listener wants warnings.
        NativeTestEnvironment.EnsureInitialized();
        var marker = Guid.NewGuid().ToString("N");
        var logger = new CapturingLogger { MinimumLevel = LogLevel.Warning };
        var info = Utf8("llama_model_quantize_impl: [  1/ 111] token_embd.weight - [  768, 32000], type = f16, ");
        var cont = Utf8("converting to q8_0 .. size = 46.88 MiB -> 24.90 MiB\n");
        using (LlamaLogBridge.AddListener(logger))
        {
            LlamaLogBridge.Append(GgmlLogLevel.Info, info);
            LlamaLogBridge.Append(GgmlLogLevel.Cont, cont);
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < 1000; i++)
            {
                LlamaLogBridge.Append(GgmlLogLevel.Info, info);
                LlamaLogBridge.Append(GgmlLogLevel.Cont, cont);
            }

            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(allocated == 0, $"2000 unwanted fragments allocated {allocated} bytes: they were decoded");

            LlamaLogBridge.Append(GgmlLogLevel.Info, Utf8("dropped start"));
            LlamaLogBridge.Append(GgmlLogLevel.Warn, Utf8($"{marker} wanted"));
            LlamaLogBridge.Append(GgmlLogLevel.Cont, Utf8(" and whole\n"));
            LlamaLogBridge.Append(GgmlLogLevel.Info, Utf8("dropped again\n"));
        }

        // Other tests' native warnings may reach the listener meanwhile: only this test's lines count.
        var mine = logger.Entries.Where(e => e.Message.Contains(marker, StringComparison.Ordinal) || e.Message.Contains("dropped", StringComparison.Ordinal));
        Assert.Equal([(LogLevel.Warning, $"{marker} wanted and whole")], mine.Select(e => (e.Level, e.Message)));
    }

    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);
}

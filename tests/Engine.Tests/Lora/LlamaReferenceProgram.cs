using System.Diagnostics;
using System.Globalization;
using InferenceMesh.Engine.Native;

namespace InferenceMesh.Tests.Lora;

/// <summary>
/// llama.cpp's own answer: a tiny C program compiled with the machine's <c>cc</c> against the pinned llama.h and linked
/// to the same native libraries the engine loads. It loads the model, applies a LoRA adapter with a scale
/// (<c>llama_adapter_lora_init</c> + <c>llama_set_adapters_lora</c>), decodes the prompt, greedy-decodes up to N tokens
/// and prints their ids, one per line. The function pointer declarations make the compile fail if a signature we bind
/// differs from the header.
/// </summary>
internal static class LlamaReferenceProgram
{
    private const string Source = """
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include "llama.h"
        #include "ggml-backend.h"

        /* The adapter functions we bind, checked against the header: a mismatch does not compile. */
        static struct llama_adapter_lora * (*check_init)(struct llama_model *, const char *) = llama_adapter_lora_init;
        static void (*check_free)(struct llama_adapter_lora *) = llama_adapter_lora_free;
        static int32_t (*check_set)(struct llama_context *, struct llama_adapter_lora **, size_t, float *) = llama_set_adapters_lora;

        static void quiet(enum ggml_log_level level, const char * text, void * user) { (void) level; (void) text; (void) user; }

        int main(int argc, char ** argv) {
            if (argc != 7) { fprintf(stderr, "usage: native_dir model adapter|- scale prompt n\n"); return 2; }
            (void) check_init; (void) check_free; (void) check_set;
            llama_log_set(quiet, NULL);
            ggml_backend_load_all_from_path(argv[1]);
            llama_backend_init();
            struct llama_model_params mp = llama_model_default_params();
            struct llama_model * model = llama_model_load_from_file(argv[2], mp);
            if (!model) { fprintf(stderr, "model load failed\n"); return 3; }
            struct llama_context_params cp = llama_context_default_params();
            cp.n_ctx = 512; cp.n_batch = 512; cp.n_ubatch = 512; cp.n_threads = 1; cp.n_threads_batch = 1;
            struct llama_context * ctx = llama_init_from_model(model, cp);
            if (!ctx) { fprintf(stderr, "context failed\n"); return 3; }
            struct llama_adapter_lora * adapter = NULL;
            float scale = (float) strtod(argv[4], NULL);
            if (strcmp(argv[3], "-") != 0) {
                adapter = llama_adapter_lora_init(model, argv[3]);
                if (!adapter) { fprintf(stderr, "adapter load failed\n"); return 4; }
                llama_set_adapters_lora(ctx, &adapter, 1, &scale);
            }
            const struct llama_vocab * vocab = llama_model_get_vocab(model);
            llama_token tokens[512];
            int n = llama_tokenize(vocab, argv[5], (int32_t) strlen(argv[5]), tokens, 512, true, true);
            if (n <= 0) { fprintf(stderr, "tokenize failed\n"); return 5; }
            if (llama_decode(ctx, llama_batch_get_one(tokens, n)) != 0) { fprintf(stderr, "decode failed\n"); return 6; }
            struct llama_sampler * greedy = llama_sampler_init_greedy();
            int limit = atoi(argv[6]);
            for (int i = 0; i < limit; i++) {
                llama_token id = llama_sampler_sample(greedy, ctx, -1);
                if (llama_vocab_is_eog(vocab, id)) break;
                printf("%d\n", id);
                if (llama_decode(ctx, llama_batch_get_one(&id, 1)) != 0) { fprintf(stderr, "decode failed\n"); return 6; }
            }
            llama_sampler_free(greedy);
            llama_free(ctx);
            if (adapter) llama_adapter_lora_free(adapter);
            llama_model_free(model);
            return 0;
        }
        """;

    private static readonly Lazy<string> Compiled = new(Compile, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The folder of the native libraries the engine loads in tests.</summary>
    public static string NativeDirectory => LlamaLibrary.DefaultDirectory;

    /// <summary>Runs the reference and returns the generated token ids.</summary>
    public static IReadOnlyList<int> GreedyTokens(string model, string? adapter, float scale, string prompt, int maxTokens)
    {
        var (exit, output, error) = Run(Compiled.Value, [
            NativeDirectory, model, adapter ?? "-", scale.ToString("R", CultureInfo.InvariantCulture), prompt,
            maxTokens.ToString(CultureInfo.InvariantCulture)]);
        Assert.True(exit == 0, $"the llama.cpp reference program failed ({exit}): {error}");
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => int.Parse(l, CultureInfo.InvariantCulture)).ToList();
    }

    private static string Compile()
    {
        var source = Path.Combine(TestPaths.RepoRoot, "artifacts", $"llama.cpp-{LlamaLibrary.PinnedTag}");
        if (!File.Exists(Path.Combine(source, "include", "llama.h")))
        {
            var (fetchExit, _, fetchError) = Run("bash", [Path.Combine(TestPaths.RepoRoot, "tools", "fetch-llama-source.sh")]);
            Assert.True(fetchExit == 0, $"tools/fetch-llama-source.sh failed ({fetchExit}): {fetchError}");
        }

        var work = TestPaths.NewTempDir("im-lora-reference");
        var cFile = Path.Combine(work, "reference.c");
        var exe = Path.Combine(work, "reference");
        File.WriteAllText(cFile, Source);
        var native = NativeDirectory;
        var (exit, _, error) = Run("cc", [
            "-std=c11", "-O1", "-Werror=incompatible-pointer-types", "-I", Path.Combine(source, "include"), "-I", Path.Combine(source, "ggml", "include"), cFile, "-o", exe,
            "-L", native, $"-l:libllama.{LlamaLibrary.PinnedTag}.so", $"-l:libggml.{LlamaLibrary.PinnedTag}.so", "-l:libggml-base.so",
            $"-Wl,-rpath,{native}"]);
        Assert.True(exit == 0, $"cc failed ({exit}):{Environment.NewLine}{error}");
        return exe;
    }

    private static (int Exit, string Output, string Error) Run(string file, string[] arguments)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            return (-1, output.Result, "timed out");
        }

        return (process.ExitCode, output.Result, error.Result);
    }
}

using System.Security.Cryptography;
using InferenceMesh.Engine.Native;
using InferenceMesh.Engine.Quantization;
using InferenceMesh.Engine.Tests.Native;
using InferenceMesh.ModelCache.Gguf;
using GgmlType = InferenceMesh.ModelCache.Gguf.GgmlType;
using InferenceMesh.Tests;

namespace InferenceMesh.Engine.Tests.Quantization;

/// <summary>Quantises the real stories260K (F32, 64-wide rows) in process through llama.cpp v0.5.0.</summary>
public sealed class LlamaQuantizerTests : IDisposable
{
    /// <summary>
    /// SHA-256 of <c>llama-quantize stories260K.gguf OUT TYPE</c> built from llama.cpp v0.5.0 (bench/build-llama.sh),
    /// any thread count: the in-process quantiser must write the same bytes.
    /// </summary>
    private static readonly Dictionary<string, string> ReferenceSha256 = new()
    {
        ["Q8_0"] = "ff8701a45da28293b7af11a695ab33575b692e9b109a2eae6238c906c31415da",
        ["Q4_0"] = "fd93abd9957992763c863e7e3f30934baf1e7a2e31b6c911a720cd109daed40d",
        ["Q4_K_M"] = "7f61512f1889080c73b2afd3ac7fdfe55a368e83570b20e5019829adfa734a2a",
    };

    private readonly string _dir = TestPaths.NewTempDir("im-quant");
    private readonly ILlamaQuantizer _quantizer = LlamaQuantizerFactory.Create();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static QuantizeOptions OneThread => new() { Threads = 1 };

    [Theory]
    [InlineData("Q8_0", 7u, GgmlType.Q8_0)]
    [InlineData("Q4_0", 2u, GgmlType.Q4_0)]
    public async Task Quantises_to_a_model_that_loads_and_generates(string type, uint fileType, GgmlType tensorType)
    {
        var output = Path.Combine(_dir, $"stories-{type}.gguf");
        var result = await _quantizer.QuantizeAsync(TestPaths.Stories260K, output, type, OneThread);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal(output, result.OutputPath);
        Assert.Equal(new FileInfo(output).Length, result.OutputBytes);
        Assert.Equal(0u, result.NativeCode);

        var gguf = GgufReader.Read(output);
        Assert.True(gguf.IsValid, gguf.ToString());
        Assert.Equal(fileType, gguf.File.FileType);
        Assert.Equal(type, gguf.File.Quantization);
        Assert.Contains(gguf.File.Tensors, t => t.Type == tensorType);

        Assert.Equal(ReferenceSha256[type], Sha256(output));
        Assert.NotEmpty(GenerateGreedily(output, "Once upon a time", tokens: 16));
    }

    [Fact]
    public async Task Two_runs_write_identical_bytes_whatever_the_thread_count()
    {
        var first = Path.Combine(_dir, "a.gguf");
        var second = Path.Combine(_dir, "b.gguf");
        Assert.True((await _quantizer.QuantizeAsync(TestPaths.Stories260K, first, "Q4_0", OneThread)).Succeeded);
        Assert.True((await _quantizer.QuantizeAsync(TestPaths.Stories260K, second, "q4_0", new QuantizeOptions { Threads = 2 })).Succeeded);
        Assert.Equal(Sha256(first), Sha256(second));
    }

    /// <summary>
    /// K-quants need rows divisible by 256; stories260K's rows are 64 (and 172 for ffn_down). llama.cpp does not refuse:
    /// each tensor falls back (tensor_type_fallback): Q4_K→Q5_0, Q6_K→Q8_0, and ffn_down (172 is not a multiple of 32)
    /// to F16. The file still says Q4_K_M, like llama-quantize's, byte for byte.
    /// </summary>
    [Fact]
    public async Task K_quants_fall_back_per_tensor_on_narrow_rows_like_llama_quantize()
    {
        var output = Path.Combine(_dir, "stories-Q4_K_M.gguf");
        var result = await _quantizer.QuantizeAsync(TestPaths.Stories260K, output, QuantizationType.Q4_K_M, OneThread);
        Assert.True(result.Succeeded, result.ToString());

        var file = GgufReader.Read(output).File!;
        Assert.Equal(15u, file.FileType);
        Assert.DoesNotContain(file.Tensors, t => t.Type is GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K);
        Assert.All(file.Tensors.Where(t => t.Name.EndsWith("ffn_down.weight", StringComparison.Ordinal)), t => Assert.Equal(GgmlType.F16, t.Type));
        Assert.Equal(GgmlType.Q8_0, file.Tensors.Single(t => t.Name == "output.weight").Type);
        Assert.Contains(file.Tensors, t => t.Type == GgmlType.Q5_0);
        Assert.Equal(ReferenceSha256["Q4_K_M"], Sha256(output));
        Assert.NotEmpty(GenerateGreedily(output, "Once upon a time", tokens: 8));
    }

    [Theory]
    [InlineData("Q8_0")]
    [InlineData("Q4_0")]
    [InlineData("Q4_K_M")]
    [InlineData("F16")]
    public async Task The_size_estimate_is_close_to_the_real_output(string type)
    {
        var output = Path.Combine(_dir, $"est-{type}.gguf");
        var result = await _quantizer.QuantizeAsync(TestPaths.Stories260K, output, type, OneThread);
        Assert.True(result.Succeeded, result.ToString());

        var input = GgufReader.Read(TestPaths.Stories260K).File!;
        Assert.True(new QuantizationType(type).TryResolve(out var info));
        var estimate = QuantizedSizeEstimator.Estimate(
            input.Tensors.Select(t => new QuantizationTensor(t.Name, t.Dimensions, t.ByteCount)), info, input.DataOffset);
        Assert.InRange(estimate, result.OutputBytes * 0.97, result.OutputBytes * 1.03);
    }

    [Fact]
    public async Task Progress_ends_at_one_and_never_goes_back()
    {
        var reports = new List<double>();
        var input = GgufReader.Read(TestPaths.Stories260K).File!;
        var options = new QuantizeOptions { Threads = 1, ExpectedOutputBytes = input.FileLength / 3, ProgressInterval = TimeSpan.FromMilliseconds(1) };
        var result = await _quantizer.QuantizeAsync(TestPaths.Stories260K, Path.Combine(_dir, "p.gguf"), "Q8_0", options, new SyncProgress(reports.Add));

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal(0, reports[0]);
        Assert.Equal(1, reports[^1]);
        Assert.Equal(reports.Order(), reports);
    }

    [Fact]
    public async Task An_unknown_type_is_a_value_and_writes_nothing()
    {
        var output = Path.Combine(_dir, "x.gguf");
        var result = await _quantizer.QuantizeAsync(TestPaths.Stories260K, output, "Q9_9", OneThread);
        Assert.Equal(QuantizeError.UnknownType, result.Error);
        Assert.Contains("Q9_9", result.Message, StringComparison.Ordinal);
        Assert.Contains("Q4_K_M", result.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir));
    }

    [Fact]
    public async Task A_broken_input_fails_natively_and_leaves_no_file()
    {
        var broken = Path.Combine(_dir, "broken.bin");
        await File.WriteAllTextAsync(broken, "this is not a GGUF file");
        var output = Path.Combine(_dir, "out.gguf");

        var result = await _quantizer.QuantizeAsync(broken, output, "Q8_0", OneThread);

        Assert.Equal(QuantizeError.NativeFailed, result.Error);
        Assert.NotEqual(0u, result.NativeCode);
        Assert.Equal([broken], Directory.GetFiles(_dir));
    }

    [Fact]
    public async Task Refusals_before_the_native_call_are_values()
    {
        var output = Path.Combine(_dir, "o.gguf");
        Assert.Equal(QuantizeError.InputNotFound, (await _quantizer.QuantizeAsync(Path.Combine(_dir, "missing.gguf"), output, "Q8_0")).Error);
        Assert.Equal(QuantizeError.OutputFolderMissing, (await _quantizer.QuantizeAsync(TestPaths.Stories260K, Path.Combine(_dir, "no", "o.gguf"), "Q8_0")).Error);
        Assert.Equal(QuantizeError.SameFile, (await _quantizer.QuantizeAsync(TestPaths.Stories260K, TestPaths.Stories260K, "Q8_0")).Error);
        Assert.Equal(QuantizeError.InvalidOptions, (await _quantizer.QuantizeAsync(TestPaths.Stories260K, output, "Q8_0", new QuantizeOptions { Threads = -1 })).Error);

        await File.WriteAllTextAsync(output, "keep me");
        Assert.Equal(QuantizeError.OutputExists, (await _quantizer.QuantizeAsync(TestPaths.Stories260K, output, "Q8_0", OneThread)).Error);
        Assert.Equal("keep me", await File.ReadAllTextAsync(output));
        Assert.True((await _quantizer.QuantizeAsync(TestPaths.Stories260K, output, "Q8_0", OneThread with { Overwrite = true })).Succeeded);
    }

    [Fact]
    public async Task Cancelled_before_the_start_writes_nothing()
    {
        var result = await _quantizer.QuantizeAsync(TestPaths.Stories260K, Path.Combine(_dir, "c.gguf"), "Q8_0", OneThread, null, new CancellationToken(canceled: true));
        Assert.Equal(QuantizeError.Cancelled, result.Error);
        Assert.Empty(AllEntries());
    }

    [Fact]
    public async Task Cancelled_while_running_deletes_the_partial_output()
    {
        using var cts = new CancellationTokenSource();
        var result = await _quantizer.QuantizeAsync(
            TestPaths.Stories260K, Path.Combine(_dir, "c.gguf"), "Q8_0", OneThread, new SyncProgress(_ => cts.Cancel()), cts.Token);

        Assert.Equal(QuantizeError.Cancelled, result.Error);
        Assert.Null(result.NativeCode); // cancelled at the first progress report: llama.cpp never started
        Assert.Empty(AllEntries());
    }

    [Fact]
    public async Task Cancelled_mid_run_deletes_the_partial_at_once_and_answers_without_waiting()
    {
        // A stand-in for llama_model_quantize that writes part of its output, then runs until the test lets it end:
        // the real one cannot be held mid-run deterministically.
        using var started = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var quantizer = new LlamaQuantizer(Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, native: (_, output, _, _, _) =>
        {
            using (var partial = File.Create(output))
            {
                partial.Write(new byte[4096]);
            }

            started.Set();
            release.Wait();
            return 0;
        });
        using var cts = new CancellationTokenSource();
        try
        {
            var run = quantizer.QuantizeAsync(TestPaths.Stories260K, Path.Combine(_dir, "c.gguf"), "Q8_0", OneThread, null, cts.Token);
            started.Wait();
            Assert.NotEmpty(AllEntries());

            cts.Cancel();

            // Gone when Cancel returns: a process that exits now (Ctrl-C) leaves nothing; before, it stayed until llama.cpp ended.
            Assert.Empty(AllEntries());
            var result = await run; // answers while the native run is still going
            Assert.Equal(QuantizeError.Cancelled, result.Error);
            Assert.False(release.IsSet);
        }
        finally
        {
            release.Set();
        }
    }

    /// <summary>Dot files included: the partial output's name starts with a dot (hidden, skipped by default).</summary>
    private IEnumerable<string> AllEntries() => Directory.EnumerateFileSystemEntries(_dir, "*", new EnumerationOptions { AttributesToSkip = 0 });

    internal static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    private static string GenerateGreedily(string modelPath, string prompt, int tokens)
    {
        NativeTestEnvironment.EnsureInitialized();
        var parameters = LlamaNative.llama_model_default_params();
        parameters.n_gpu_layers = 0;
        using var model = SafeLlamaModelHandle.LoadFromFile(modelPath, parameters);
        Assert.NotNull(model);
        using var context = NativeTestEnvironment.CreateContext(model, nCtx: 64);
        var vocab = model.GetVocab();
        var promptTokens = LlamaTokenizer.Tokenize(vocab, prompt, addSpecial: true, parseSpecial: false);
        using var batch = new LlamaBatchBuffer(capacity: 64);
        for (var i = 0; i < promptTokens.Length; i++)
        {
            batch.Add(promptTokens[i], pos: i, seqId: 0, wantLogits: i == promptTokens.Length - 1);
        }

        Assert.Equal(0, LlamaNative.llama_decode(context, batch.Batch));
        using var sampler = SafeLlamaSamplerHandle.CreateChain().Add(LlamaNative.llama_sampler_init_greedy());
        var generated = new List<int>();
        var position = promptTokens.Length;
        for (var step = 0; step < tokens; step++)
        {
            var token = LlamaNative.llama_sampler_sample(sampler, context, -1);
            if (LlamaNative.llama_vocab_is_eog(vocab, token))
            {
                break;
            }

            generated.Add(token);
            batch.Clear();
            batch.Add(token, position++, seqId: 0, wantLogits: true);
            Assert.Equal(0, LlamaNative.llama_decode(context, batch.Batch));
        }

        return LlamaTokenizer.Detokenize(vocab, [.. generated], removeSpecial: true, unparseSpecial: false);
    }

    private sealed class SyncProgress(Action<double> onReport) : IProgress<double>
    {
        public void Report(double value) => onReport(value);
    }
}

using InferenceMesh.Engine.Native;
using InferenceMesh.Tests;
using Microsoft.Extensions.Logging.Abstractions;

namespace InferenceMesh.Engine.Tests.Native;

/// <summary>Shared set-up of the native tests: llama.cpp initialised once per process, the test model, CPU-only params.</summary>
internal static class NativeTestEnvironment
{
    /// <summary>Initialises llama.cpp (idempotent: whichever test gets here first wins, the rest reuse it).</summary>
    public static LlamaLibraryInfo EnsureInitialized() => LlamaLibrary.Initialize(NullLogger.Instance);

    public static SafeLlamaModelHandle LoadStories()
    {
        EnsureInitialized();
        var parameters = LlamaNative.llama_model_default_params();
        parameters.n_gpu_layers = 0;
        var model = SafeLlamaModelHandle.LoadFromFile(TestPaths.Stories260K, parameters);
        Assert.NotNull(model);
        return model;
    }

    public static SafeLlamaContextHandle CreateContext(SafeLlamaModelHandle model, uint nCtx = 256)
    {
        var parameters = LlamaNative.llama_context_default_params();
        parameters.n_ctx = nCtx;
        parameters.n_batch = nCtx;
        parameters.n_ubatch = nCtx;
        parameters.n_seq_max = 1;
        parameters.n_threads = 1; // a 260K model gains nothing from threads, and spinning ggml workers hurt on a shared 2-core machine
        parameters.n_threads_batch = 1;
        var context = SafeLlamaContextHandle.Create(model, parameters);
        Assert.NotNull(context);
        return context;
    }
}

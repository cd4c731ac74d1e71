using InferenceMesh.Engine.Native;

namespace InferenceMesh.Engine.Tests.Native;

public sealed partial class StructLayoutTests
{
    [Fact]
    public void The_threadpool_params_offsets_we_write_match_the_pinned_ggml_header()
    {
        var native = RunProbe(LlamaSourceDirectory(), new Dictionary<string, List<string>>
        {
            ["ggml_threadpool_params"] = ["n_threads", "poll"],
        });

        Assert.Equal(SafeGgmlThreadpoolHandle.NThreadsOffset, native["ggml_threadpool_params.n_threads"]);
        Assert.Equal(SafeGgmlThreadpoolHandle.PollOffset, native["ggml_threadpool_params.poll"]);
        Assert.Equal(4, native["ggml_threadpool_params.poll#size"]);
        Assert.True(native["ggml_threadpool_params"] <= 2048, "the parameter buffer must hold the whole struct");
    }
}

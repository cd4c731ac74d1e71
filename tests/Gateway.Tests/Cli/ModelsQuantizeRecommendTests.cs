using System.CommandLine;
using InferenceMesh.Gateway.Cli;
using InferenceMesh.Tests;

namespace InferenceMesh.Gateway.Tests.Cli;

/// <summary><c>models recommend</c> with injected machine facts.</summary>
public sealed class ModelsQuantizeRecommendTests
{
    private const long GiB = 1L << 30;

    private static MachineFacts Machine(long availableRam, double bandwidth = 10e9, params GpuInfo[] gpus) =>
        new(32 * GiB, availableRam, 8, bandwidth, gpus);

    /// <summary>A 7B-like F16 model: 13.5 GB of weights, 32 layers × 4096 KV width.</summary>
    private static ModelFacts Big => new("big-f16", "F16", 13_500_000_000, 4096, 32L * 4096 * 2 * 2,
        type => type switch { "Q8_0" => 7_200_000_000, "Q6_K" => 5_500_000_000, "Q5_K_M" => 4_800_000_000, "Q4_K_M" => 4_100_000_000, "Q3_K_M" => 3_300_000_000, "Q2_K" => 2_700_000_000, _ => null });

    [Fact]
    public void A_model_that_fits_gets_a_speed_from_bandwidth_over_weights()
    {
        var r = ModelsRecommendCommand.Recommend(Machine(24 * GiB, bandwidth: 27e9), Big, context: null);
        Assert.True(r.Fits);
        Assert.Equal(4096, r.Context);
        Assert.Equal(32L * 4096 * 2 * 2 * 4096, r.KvBytes); // 2 GiB of F16 KV at 4096 tokens
        Assert.Equal(2.0, r.TokensPerSecond, precision: 6);
        Assert.Null(r.Suggestion);
    }

    [Fact]
    public void A_model_that_does_not_fit_gets_the_best_quantisation_that_does()
    {
        var r = ModelsRecommendCommand.Recommend(Machine(8 * GiB), Big, context: null);
        Assert.False(r.Fits);
        Assert.Equal("Q6_K", r.Suggestion); // Q8_0 needs 7.2 GB + 2 GiB KV + overhead > 8 GiB
        Assert.Equal(10e9 / 5_500_000_000, r.SuggestionTokensPerSecond!.Value, precision: 6);

        Assert.Equal("Q2_K", ModelsRecommendCommand.Recommend(Machine(5 * GiB), Big, null).Suggestion);
        Assert.Null(ModelsRecommendCommand.Recommend(Machine(1 * GiB), Big, null).Suggestion);
    }

    [Fact]
    public void A_gpu_with_enough_memory_counts()
    {
        var r = ModelsRecommendCommand.Recommend(Machine(2 * GiB, 10e9, new GpuInfo("RTX", 24 * GiB)), Big, context: 2048);
        Assert.True(r.Fits);
        Assert.Equal(2048, r.Context);
    }

    [Fact]
    public void Meminfo_and_nvidia_smi_are_parsed()
    {
        var (total, available) = MachineFacts.ReadMemInfo("MemTotal:       24683656 kB\nMemFree:  1 kB\nMemAvailable:   23315304 kB\n");
        Assert.Equal(24683656L * 1024, total);
        Assert.Equal(23315304L * 1024, available);
        Assert.Equal([new GpuInfo("NVIDIA GeForce RTX 4090", 24564L << 20)], MachineFacts.ParseNvidiaSmi("NVIDIA GeForce RTX 4090, 24564\n"));
        Assert.Empty(MachineFacts.ParseNvidiaSmi("No devices were found\n"));
    }

    [Fact]
    public async Task The_command_lists_each_cached_model_with_its_verdict()
    {
        var models = TestPaths.NewTempDir("im-recommend");
        try
        {
            File.Copy(TestPaths.Stories260K, Path.Combine(models, "stories260K.gguf"));
            var output = new StringWriter();
            var root = new RootCommand("test") { ModelsRecommendCommand.Create(new ModelsCliEnvironment(), () => Machine(4 * GiB, 10e9)) };
            var exit = await root.Parse(["recommend", "--models", models]).InvokeAsync(new InvocationConfiguration { Output = output, Error = new StringWriter() });

            Assert.Equal(ModelsCliExit.Ok, exit);
            var line = Assert.Single(output.ToString().Split('\n'), l => l.StartsWith("stories260K\t", StringComparison.Ordinal));
            Assert.Contains("\tF32\t", line, StringComparison.Ordinal);
            Assert.Contains("\tyes\t", line, StringComparison.Ordinal);
            Assert.Contains("10.0 GB/s", output.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(models, recursive: true);
        }
    }
}

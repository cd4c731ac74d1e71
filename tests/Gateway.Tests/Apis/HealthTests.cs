using System.Buffers.Binary;
using System.Net;
using System.Text.Json;
using InferenceMesh.Gateway.Tests.Common;
using InferenceMesh.Tests;

namespace InferenceMesh.Gateway.Tests.Apis;

/// <summary>Needs the real engine and catalog.</summary>
public sealed class HealthTests
{
    [Fact]
    public async Task Bad_gguf_files_beside_a_good_model_are_listed_and_the_good_one_served()
    {
        var folder = TestPaths.NewTempDir("im-gateway-bad");
        try
        {
            var good = await File.ReadAllBytesAsync(TestPaths.Stories260K);
            File.Copy(TestPaths.Stories260K, Path.Combine(folder, "stories260K.gguf"));
            await File.WriteAllBytesAsync(Path.Combine(folder, "truncated.gguf"), good[..(good.Length / 3)]);
            await File.WriteAllBytesAsync(Path.Combine(folder, "empty.gguf"), []);
            var random = new byte[4096];
            new Random(1234).NextBytes(random);
            await File.WriteAllBytesAsync(Path.Combine(folder, "random.gguf"), random);
            await File.WriteAllBytesAsync(Path.Combine(folder, "absurd.gguf"), AbsurdCountsHeader());

            await using var environment = await TestEnvironment.StartAsync(e => e.ModelsDirectory = folder);

            using var health = JsonDocument.Parse(await environment.Http.GetStringAsync("/health"));
            var root = health.RootElement;
            Assert.Equal("ok", root.GetProperty("status").GetString());
            Assert.Equal(folder, root.GetProperty("models_directory").GetString());
            Assert.Equal(["stories260K"], root.GetProperty("models").EnumerateArray().Select(m => m.GetProperty("id").GetString()));
            var invalid = root.GetProperty("invalid_files").EnumerateArray().ToDictionary(f => f.GetProperty("file").GetString()!, f => f.GetProperty("reason").GetString());
            Assert.Equal(["absurd.gguf", "empty.gguf", "random.gguf", "truncated.gguf"], invalid.Keys.Order(StringComparer.Ordinal));
            Assert.All(invalid.Values, reason => Assert.False(string.IsNullOrWhiteSpace(reason)));

            var completion = await RawCompletions.GreedyAsync(environment.Http, 16, stream: false);
            Assert.False(string.IsNullOrEmpty(completion.Text));

            using var after = JsonDocument.Parse(await environment.Http.GetStringAsync("/health"));
            var loaded = Assert.Single(after.RootElement.GetProperty("loaded").EnumerateArray());
            Assert.Equal("stories260K", loaded.GetProperty("model").GetString());
            Assert.All(loaded.GetProperty("slot_states").EnumerateArray(), s => Assert.Equal("idle", s.GetProperty("state").GetString()));
            Assert.InRange(loaded.GetProperty("decode_threads").GetInt32(), 1, Environment.ProcessorCount);

            using var unknown = await environment.Http.PostAsync("/v1/completions", ApiAssert.Json("""{"model":"random","prompt":"x"}"""));
            await ApiAssert.ErrorAsync(unknown, HttpStatusCode.NotFound, code: "model_not_found");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>A GGUF v3 header claiming 2^62 tensors and 2^62 key-value pairs.</summary>
    private static byte[] AbsurdCountsHeader()
    {
        var bytes = new byte[24];
        "GGUF"u8.CopyTo(bytes);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), 3);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(8), 1UL << 62);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(16), 1UL << 62);
        return bytes;
    }
}

using System.Net;
using System.Text.Json;
using InferenceMesh.Gateway.Tests.Common;
using InferenceMesh.ModelCache.Gguf;
using InferenceMesh.Tests;

namespace InferenceMesh.Gateway.Tests.Errors;

/// <summary>
/// Broken model files never take the gateway down: the real executable, in its own process (llama.cpp aborts a process
/// on some malformed files, which would take a test host with it), serves a folder of mutated copies of stories260K
/// (bit flips in the header, metadata and tensor infos, truncations, overwritten integers, and a vocabulary entry that
/// repeats another, which once stopped the process) and answers each with a result or an error in our shape.
/// </summary>
public sealed class MutatedModelTests
{
    [Fact]
    public async Task A_folder_of_mutated_models_gets_an_answer_or_a_clear_error_for_each_and_the_process_stays_up()
    {
        var models = TestPaths.NewTempDir("im-mutated");
        var original = await File.ReadAllBytesAsync(TestPaths.Stories260K);
        var random = new Random(20261206);
        for (var i = 0; i < 48; i++)
        {
            await File.WriteAllBytesAsync(Path.Combine(models, $"m{i}.gguf"), Mutate(original, random));
        }

        await File.WriteAllBytesAsync(Path.Combine(models, "repeated-token.gguf"), RepeatAToken(original));

        using var gateway = await GatewayProcess.StartAsync(["--models", models, "--data", TestPaths.NewTempDir("im-mutated-data"), "--threads", "1"]);
        using var http = gateway.Client();
        var statuses = new List<HttpStatusCode>();
        foreach (var name in Directory.EnumerateFiles(models, "*.gguf").Select(Path.GetFileNameWithoutExtension).Order())
        {
            using var response = await http.PostAsync("/v1/completions", ApiAssert.Json($$"""{"model":"{{name}}","prompt":"Once upon a time","max_tokens":2}"""));
            var body = await response.Content.ReadAsStringAsync();
            Assert.False(gateway.Process.HasExited, $"the gateway died on {name}");
            statuses.Add(response.StatusCode);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                using var error = JsonDocument.Parse(body);
                var code = error.RootElement.GetProperty("error").GetProperty("code").GetString();
                Assert.True(
                    (response.StatusCode, code) is (HttpStatusCode.NotFound, "model_not_found") or (HttpStatusCode.InternalServerError, "model_load_failed")
                        or (HttpStatusCode.BadRequest, _),
                    $"{name}: {(int)response.StatusCode} {body}");
            }
        }

        // Both kinds occur (the mutations are not all harmless, nor all fatal), and the refused files are reported.
        Assert.Contains(HttpStatusCode.OK, statuses);
        Assert.Contains(HttpStatusCode.NotFound, statuses);
        var health = await http.GetStringAsync("/health");
        Assert.Contains("repeated-token.gguf", health, StringComparison.Ordinal);
        Assert.False(gateway.Process.HasExited);
    }

    private static byte[] Mutate(byte[] original, Random random)
    {
        var bytes = (byte[])original.Clone();
        switch (random.Next(4))
        {
            case 0:
            case 1:
                for (var n = random.Next(1, 9); n > 0; n--)
                {
                    bytes[random.Next(40_000)] ^= (byte)(1 << random.Next(8));
                }

                return bytes;
            case 2:
                return bytes[..random.Next(bytes.Length)];
            default:
                var at = random.Next(8, 40_000);
                byte[][] values = [[.. Enumerable.Repeat((byte)0xFF, 8)], new byte[8], BitConverter.GetBytes(1L << 31), BitConverter.GetBytes(1L)];
                values[random.Next(values.Length)].CopyTo(bytes, at);
                return bytes;
        }
    }

    /// <summary>The vocabulary with its last entry overwritten by an earlier one of the same length.</summary>
    private static byte[] RepeatAToken(byte[] original)
    {
        var bytes = (byte[])original.Clone();
        var read = GgufReader.Read(new MemoryStream(original));
        Assert.True(read.IsValid, read.ToString());
        Assert.True(read.File.TryGetArray(GgufFormat.TokenizerTokensKey, out var tokens));
        var entries = GgufVocabulary.Entries(bytes, tokens.Offset, tokens.Count);
        var last = entries[^1];
        var earlier = entries.Take(entries.Count - 1).Skip(3).First(e => e.Length == last.Length);
        Array.Copy(bytes, earlier.Offset, bytes, last.Offset, last.Length);
        return bytes;
    }
}

using System.Net;
using InferenceMesh.Gateway.Tests.Common;
using InferenceMesh.Tests;

namespace InferenceMesh.Gateway.Tests.Inference;

public sealed class ModelFileCheckTests
{
    [Fact]
    public async Task A_file_whose_bytes_changed_under_the_same_stamp_after_it_was_listed_is_refused_before_llama_cpp_opens_it()
    {
        // The catalog validated the file when it listed it and re-reads it only when its size or write time changes:
        // a bad disk (or a restored time) left llama.cpp, which aborts the process on some malformed files, to find out.
        var dir = TestPaths.NewTempDir("im-filecheck");
        try
        {
            var path = Path.Combine(dir, "stories260K.gguf");
            File.Copy(TestPaths.Stories260K, path);
            await using var environment = await TestEnvironment.StartAsync(e => e.ModelsDirectory = dir);
            Assert.Contains("\"stories260K\"", await environment.Http.GetStringAsync("/v1/models"));
            var stamp = File.GetLastWriteTimeUtc(path);
            using (var file = new FileStream(path, FileMode.Open, FileAccess.Write))
            {
                file.Position = 3;
                file.WriteByte((byte)'X'); // "GGUX": the same size, a broken header
            }

            File.SetLastWriteTimeUtc(path, stamp);

            using var response = await environment.Http.PostAsync("/v1/chat/completions",
                ApiAssert.Json("""{"model":"stories260K","messages":[{"role":"user","content":"Once"}],"max_tokens":4}"""));

            var error = await ApiAssert.ErrorAsync(response, HttpStatusCode.InternalServerError, "model", "model_load_failed");
            Assert.Contains("The model file failed validation: not a GGUF file", error.GetProperty("message").GetString());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

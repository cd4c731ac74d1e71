using System.Net;
using System.Text;
using System.Text.Json;
using InferenceMesh.Gateway.Tests.Common;

namespace InferenceMesh.Gateway.Tests.Rag;

/// <summary>The Files API: hostile names never become paths, the size limit is a clear 413, bad input gets OpenAI's error shape.</summary>
public sealed class FilesApiTests
{
    private const string LongName =
        "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz" +
        "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrst"; // 254

    [Theory]
    [InlineData("../../etc/passwd", "passwd")]
    [InlineData("/etc/passwd", "passwd")]
    [InlineData("..\\..\\Windows\\win.ini", "win.ini")]
    [InlineData("CON", "CON")]
    [InlineData("NUL.txt", "NUL.txt")]
    [InlineData("\u202Egnp.txt", "gnp.txt")] // shown as "txt.png" with the override
    [InlineData("report\u2066\u200F.exe\u2069.pdf", "report.exe.pdf")]
    [InlineData(LongName + "\U0001F600", LongName)] // the emoji does not fit whole in 255 characters
    public async Task A_hostile_file_name_is_only_a_label_and_the_content_stays_in_the_files_folder(string hostile, string label)
    {
        await using var gateway = await RagHttp.StartGatewayAsync();
        var content = Encoding.UTF8.GetBytes("harmless text");

        var file = await RagHttp.UploadAsync(gateway.Http, hostile, content);

        var id = file.GetProperty("id").GetString()!;
        Assert.Matches("^file-[0-9a-f]{24}$", id);
        Assert.Equal(label, file.GetProperty("filename").GetString());
        var filesFolder = Path.Combine(gateway.DataDirectory, "files");
        Assert.Equal([Path.Combine(filesFolder, id)], Directory.GetFiles(filesFolder));
        var everything = Directory.GetFiles(gateway.DataDirectory, "*", SearchOption.AllDirectories);
        Assert.All(everything, path => Assert.True(
            path.StartsWith(filesFolder + Path.DirectorySeparatorChar, StringComparison.Ordinal) || Path.GetFileName(path).StartsWith("context.db", StringComparison.Ordinal),
            path));
        Assert.Equal(content, await gateway.Http.GetByteArrayAsync($"/v1/files/{id}/content"));
    }

    [Fact]
    public async Task A_name_that_is_only_dots_or_separators_is_refused()
    {
        await using var gateway = await RagHttp.StartGatewayAsync();

        using var response = await gateway.Http.PostAsync("/v1/files", RagHttp.Upload("../..", [1, 2, 3]));

        await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "file");
        Assert.Empty(Directory.GetFiles(Path.Combine(gateway.DataDirectory, "files")));
    }

    // Bodies that end before the closing boundary (the multipart reader's bare IOException was a 500).
    [Theory]
    [InlineData("")]
    [InlineData("--OTHER\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nassistants\r\n--OTHER--\r\n")]
    [InlineData("--B\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nassistants\r\n--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\ncut off mid-file")]
    [InlineData("--B\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nassist")]
    public async Task A_multipart_body_that_ends_before_its_closing_boundary_is_400_and_nothing_is_kept(string body)
    {
        await using var gateway = await RagHttp.StartGatewayAsync();
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        content.Headers.TryAddWithoutValidation("Content-Type", "multipart/form-data; boundary=B");

        using var response = await gateway.Http.PostAsync("/v1/files", content);

        var error = await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "file");
        Assert.Equal("invalid_multipart", error.GetProperty("code").GetString());
        var whole = await RagHttp.UploadAsync(gateway.Http, "whole.txt", [65]);
        Assert.Equal([whole.GetProperty("id").GetString()], Directory.GetFiles(Path.Combine(gateway.DataDirectory, "files")).Select(Path.GetFileName));
    }

    // A second file was dropped without a word (the client believed both uploaded), and the last purpose won.
    [Theory]
    [InlineData("file", "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b.txt\"\r\n\r\nsecond\r\n")]
    [InlineData("purpose", "--B\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n")]
    public async Task A_second_file_or_purpose_part_is_400_naming_it_and_nothing_is_kept(string part, string secondPart)
    {
        await using var gateway = await RagHttp.StartGatewayAsync();
        var body = "--B\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nassistants\r\n"
            + "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nfirst\r\n" + secondPart + "--B--\r\n";
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        content.Headers.TryAddWithoutValidation("Content-Type", "multipart/form-data; boundary=B");

        using var response = await gateway.Http.PostAsync("/v1/files", content);

        await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, part);
        Assert.Empty(Directory.GetFiles(Path.Combine(gateway.DataDirectory, "files")));
        Assert.Equal(0, (await RagHttp.GetJsonAsync(gateway.Http, "/v1/files")).GetProperty("data").GetArrayLength());
    }

    [Theory]
    [InlineData("name=\"file\"; filename=\"\"")]
    [InlineData("name=\"file\"")]
    public async Task A_file_part_without_a_file_name_is_400_saying_so_not_that_no_file_was_sent(string disposition)
    {
        await using var gateway = await RagHttp.StartGatewayAsync();
        var body = "--B\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nassistants\r\n"
            + $"--B\r\nContent-Disposition: form-data; {disposition}\r\nContent-Type: text/plain\r\n\r\nhello\r\n--B--\r\n";
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        content.Headers.TryAddWithoutValidation("Content-Type", "multipart/form-data; boundary=B");

        using var response = await gateway.Http.PostAsync("/v1/files", content);

        var error = await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "file");
        Assert.StartsWith("The 'file' part has no file name", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, (await RagHttp.GetJsonAsync(gateway.Http, "/v1/files")).GetProperty("data").GetArrayLength());
    }

    [Fact]
    public async Task A_file_over_the_limit_gets_413_and_nothing_is_kept()
    {
        await using var gateway = await RagHttp.StartGatewayAsync(env => env.ExtraArgs.AddRange(["--max-file-bytes", "1024"]));

        using var response = await gateway.Http.PostAsync("/v1/files", RagHttp.Upload("big.txt", new byte[2048]));

        var error = await ApiAssert.ErrorAsync(response, HttpStatusCode.RequestEntityTooLarge, "file");
        Assert.Equal("file_too_large", error.GetProperty("code").GetString());
        Assert.Contains("1024", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(Path.Combine(gateway.DataDirectory, "files")));
        var list = await RagHttp.GetJsonAsync(gateway.Http, "/v1/files");
        Assert.Equal(0, list.GetProperty("data").GetArrayLength());

        // At the limit it is accepted.
        var file = await RagHttp.UploadAsync(gateway.Http, "fits.txt", new byte[1024]);
        Assert.Equal(1024, file.GetProperty("bytes").GetInt64());
    }

    [Fact]
    public async Task Files_are_listed_read_and_deleted()
    {
        await using var gateway = await RagHttp.StartGatewayAsync();
        var http = gateway.Http;
        var first = await RagHttp.UploadAsync(http, "a.txt", Encoding.UTF8.GetBytes("first"));
        var second = await RagHttp.UploadAsync(http, "b.md", Encoding.UTF8.GetBytes("# second"));

        var list = await RagHttp.GetJsonAsync(http, "/v1/files?order=asc");
        Assert.Equal("list", list.GetProperty("object").GetString());
        Assert.Equal([first.GetProperty("id").GetString(), second.GetProperty("id").GetString()],
            list.GetProperty("data").EnumerateArray().Select(f => f.GetProperty("id").GetString()).ToList());
        var one = await RagHttp.GetJsonAsync(http, "/v1/files?limit=1&order=asc");
        Assert.True(one.GetProperty("has_more").GetBoolean());
        var next = await RagHttp.GetJsonAsync(http, $"/v1/files?limit=1&order=asc&after={one.GetProperty("last_id").GetString()}");
        Assert.Equal(second.GetProperty("id").GetString(), next.GetProperty("data")[0].GetProperty("id").GetString());
        Assert.False(next.GetProperty("has_more").GetBoolean());

        var id = first.GetProperty("id").GetString()!;
        Assert.Equal("a.txt", (await RagHttp.GetJsonAsync(http, $"/v1/files/{id}")).GetProperty("filename").GetString());
        using var deleted = await http.DeleteAsync($"/v1/files/{id}");
        var deletion = JsonDocument.Parse(await deleted.Content.ReadAsStringAsync()).RootElement;
        Assert.True(deletion.GetProperty("deleted").GetBoolean());

        using var gone = await http.GetAsync($"/v1/files/{id}");
        var error = await ApiAssert.ErrorAsync(gone, HttpStatusCode.NotFound, "file_id");
        Assert.Equal("file_not_found", error.GetProperty("code").GetString());
        using var goneContent = await http.GetAsync($"/v1/files/{id}/content");
        Assert.Equal(HttpStatusCode.NotFound, goneContent.StatusCode);
        Assert.False(File.Exists(Path.Combine(gateway.DataDirectory, "files", id)));
    }

    // One rule for every list (ListQuery): a bad value is a 400 naming its parameter. Before, files and vector stores
    // answered an empty list for an 'after' of any shape, ignored 'before', and named 'limit' for a bad 'order'.
    [Theory]
    [InlineData("/v1/files?after=garbage", "after")]
    [InlineData("/v1/files?after=vs_000000000000000000000000", "after")]
    [InlineData("/v1/files?before=file-000000000000000000000000", "before")]
    [InlineData("/v1/files?order=up", "order")]
    [InlineData("/v1/files?order=ASC", "order")]
    [InlineData("/v1/files?limit=0", "limit")]
    [InlineData("/v1/files?limit=-1", "limit")]
    [InlineData("/v1/files?limit=10001", "limit")]
    [InlineData("/v1/files?limit=abc", "limit")]
    [InlineData("/v1/files?limit=5%00", "limit")] // read as 5 by int.TryParse
    [InlineData("/v1/vector_stores?limit=5%00%00", "limit")]
    [InlineData("/v1/vector_stores?after=garbage", "after")]
    [InlineData("/v1/vector_stores?after=file-000000000000000000000000", "after")]
    [InlineData("/v1/vector_stores?before=vs_000000000000000000000000", "before")]
    [InlineData("/v1/vector_stores?order=up", "order")]
    [InlineData("/v1/vector_stores?limit=101", "limit")]
    [InlineData("/v1/vector_stores/vs_000000000000000000000000/files?after=garbage", "after")]
    [InlineData("/v1/vector_stores/vs_000000000000000000000000/files?before=file-000000000000000000000000", "before")]
    [InlineData("/v1/vector_stores/vs_000000000000000000000000/files?order=up", "order")]
    [InlineData("/v1/vector_stores/vs_000000000000000000000000/files?limit=1.5", "limit")]
    public async Task A_bad_list_parameter_is_a_400_naming_it(string path, string param)
    {
        await using var gateway = await RagHttp.StartGatewayAsync();

        using var response = await gateway.Http.GetAsync(path);

        var error = await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, param);
        Assert.Equal("invalid_value", error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task Paging_goes_on_after_a_file_deleted_meanwhile_and_an_id_that_never_was_is_400()
    {
        await using var gateway = await RagHttp.StartGatewayAsync();
        var http = gateway.Http;
        var ids = await UploadThreeAsync(http);

        var first = await RagHttp.GetJsonAsync(http, "/v1/files?order=asc&limit=2");
        var cursor = first.GetProperty("last_id").GetString()!;
        Assert.Equal(ids[1], cursor);
        using (await http.DeleteAsync($"/v1/files/{cursor}")) { }

        var rest = await RagHttp.GetJsonAsync(http, $"/v1/files?order=asc&limit=2&after={cursor}");
        Assert.Equal([ids[2]], rest.GetProperty("data").EnumerateArray().Select(f => f.GetProperty("id").GetString()).ToList()); // was an empty list
        var back = await RagHttp.GetJsonAsync(http, $"/v1/files?after={cursor}");
        Assert.Equal([ids[0]], back.GetProperty("data").EnumerateArray().Select(f => f.GetProperty("id").GetString()).ToList());

        using var never = await http.GetAsync("/v1/files?after=file-000000000000000000000000");
        await ApiAssert.ErrorAsync(never, HttpStatusCode.BadRequest, "after");
        var empty = await RagHttp.GetJsonAsync(http, "/v1/files?limit=&order=&after="); // given empty = not given
        Assert.Equal(2, empty.GetProperty("data").GetArrayLength());
    }

    [Fact]
    public async Task Paging_goes_on_after_a_vector_store_or_a_store_file_deleted_meanwhile()
    {
        await using var gateway = await RagHttp.StartGatewayAsync();
        var http = gateway.Http;
        var files = await UploadThreeAsync(http);

        var stores = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var (status, created) = await RagHttp.PostJsonAsync(http, "/v1/vector_stores", $$"""{"name":"s{{i}}"}""");
            Assert.True(status == HttpStatusCode.OK, created.ToString());
            stores.Add(created.GetProperty("id").GetString()!);
        }

        using (await http.DeleteAsync($"/v1/vector_stores/{stores[1]}")) { }
        var nextStores = await RagHttp.GetJsonAsync(http, $"/v1/vector_stores?order=asc&after={stores[1]}");
        Assert.Equal([stores[2]], nextStores.GetProperty("data").EnumerateArray().Select(s => s.GetProperty("id").GetString()).ToList()); // was empty

        var store = await RagHttp.CreateStoreAndWaitAsync(http, "", [.. files]);
        var storeId = store.GetProperty("id").GetString()!;
        using (await http.DeleteAsync($"/v1/vector_stores/{storeId}/files/{files[1]}")) { }
        var nextFiles = await RagHttp.GetJsonAsync(http, $"/v1/vector_stores/{storeId}/files?order=asc&after={files[1]}");
        Assert.Equal([files[2]], nextFiles.GetProperty("data").EnumerateArray().Select(f => f.GetProperty("id").GetString()).ToList()); // was empty

        using var otherStore = await http.GetAsync($"/v1/vector_stores/{stores[0]}/files?after={files[0]}"); // a file, but never of this store
        await ApiAssert.ErrorAsync(otherStore, HttpStatusCode.BadRequest, "after");
    }

    /// <summary>Uploads a.txt, b.txt and c.txt, in that order; their ids.</summary>
    private static async Task<List<string>> UploadThreeAsync(HttpClient http)
    {
        var ids = new List<string>();
        foreach (var name in new[] { "a.txt", "b.txt", "c.txt" })
        {
            ids.Add((await RagHttp.UploadAsync(http, name, Encoding.UTF8.GetBytes("text " + name))).GetProperty("id").GetString()!);
        }

        return ids;
    }

    [Theory]
    [InlineData(null, "purpose", "required")]
    [InlineData("nonsense", "purpose", "must be one of")]
    [InlineData("LONG", "purpose", "at most 1024 bytes")] // was "'purpose' is required"
    public async Task A_missing_or_unknown_purpose_is_a_400_naming_it(string? purpose, string param, string says)
    {
        await using var gateway = await RagHttp.StartGatewayAsync();

        using var response = await gateway.Http.PostAsync("/v1/files", RagHttp.Upload("a.txt", [65], purpose == "LONG" ? new string('a', 1025) : purpose));

        var error = await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, param);
        Assert.Contains(says, error.GetProperty("message").GetString(), StringComparison.Ordinal);
        var files = Path.Combine(gateway.DataDirectory, "files");
        Assert.Empty(Directory.Exists(files) ? Directory.GetFiles(files) : []); // refused before the file part: no folder yet
    }

    [Fact]
    public async Task Bad_requests_get_clear_errors_in_OpenAIs_shape()
    {
        await using var gateway = await RagHttp.StartGatewayAsync();
        var http = gateway.Http;

        using var notMultipart = await http.PostAsync("/v1/files", ApiAssert.Json("""{"file":"x"}"""));
        await ApiAssert.ErrorAsync(notMultipart, HttpStatusCode.BadRequest, "file");

        using var malformed = await http.PostAsync("/v1/vector_stores", ApiAssert.Json("""{"name": """));
        await ApiAssert.ErrorAsync(malformed, HttpStatusCode.BadRequest, null);

        var (unknownFile, unknownFileBody) = await RagHttp.PostJsonAsync(http, "/v1/vector_stores", """{"file_ids":["file-000000000000000000000000"]}""");
        Assert.Equal(HttpStatusCode.NotFound, unknownFile);
        Assert.Equal("file_ids", unknownFileBody.GetProperty("error").GetProperty("param").GetString());

        var (badChunking, badChunkingBody) = await RagHttp.PostJsonAsync(http, "/v1/vector_stores",
            """{"chunking_strategy":{"type":"static","static":{"max_chunk_size_tokens":50,"chunk_overlap_tokens":0}}}""");
        Assert.Equal(HttpStatusCode.BadRequest, badChunking);
        Assert.Equal("chunking_strategy.static.max_chunk_size_tokens", badChunkingBody.GetProperty("error").GetProperty("param").GetString());

        var (badPrivacy, _) = await RagHttp.PostJsonAsync(http, "/v1/vector_stores", """{"privacy":"secret"}""");
        Assert.Equal(HttpStatusCode.BadRequest, badPrivacy);

        var (unknownStore, unknownStoreBody) = await RagHttp.PostJsonAsync(http, "/v1/vector_stores/vs_nope/search", """{"query":"x"}""");
        Assert.Equal(HttpStatusCode.NotFound, unknownStore);
        Assert.Equal("vector_store_not_found", unknownStoreBody.GetProperty("error").GetProperty("code").GetString());

        var (_, store) = await RagHttp.PostJsonAsync(http, "/v1/vector_stores", "{}");
        var (badRanker, badRankerBody) = await RagHttp.PostJsonAsync(http, $"/v1/vector_stores/{store.GetProperty("id").GetString()}/search",
            """{"query":"x","ranking_options":{"ranker":"bm25-please"}}""");
        Assert.Equal(HttpStatusCode.BadRequest, badRanker); // was a 200 that ignored it
        Assert.Equal("ranking_options.ranker", badRankerBody.GetProperty("error").GetProperty("param").GetString());
        Assert.True((await http.DeleteAsync($"/v1/vector_stores/{store.GetProperty("id").GetString()}")).IsSuccessStatusCode);

        var batchFile = await RagHttp.UploadAsync(http, "jobs.jsonl", Encoding.UTF8.GetBytes("{}"));
        using (var batch = await http.PostAsync("/v1/files", RagHttp.Upload("jobs.jsonl", [123, 125], "batch")))
        {
            var batchId = JsonDocument.Parse(await batch.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString();
            var (wrongPurpose, _) = await RagHttp.PostJsonAsync(http, "/v1/vector_stores", $$"""{"file_ids":["{{batchId}}"]}""");
            Assert.Equal(HttpStatusCode.BadRequest, wrongPurpose);
        }

        Assert.Equal("assistants", batchFile.GetProperty("purpose").GetString());
        var stores = await RagHttp.GetJsonAsync(http, "/v1/vector_stores");
        Assert.Equal(0, stores.GetProperty("data").GetArrayLength()); // no failed request created anything
    }

    // A null where a string id or a whole number belongs, and wrongly typed chunk sizes: 500s before (a null id reached
    // SQLite or the not-found message, TryGetInt32 threw on a non-number).
    [Theory]
    [InlineData("/v1/vector_stores", """{"file_ids":[null]}""", "file_ids")]
    [InlineData("/v1/vector_stores", """{"chunking_strategy":{"type":"static","static":{"max_chunk_size_tokens":null,"chunk_overlap_tokens":0}}}""", "chunking_strategy")]
    [InlineData("/v1/vector_stores", """{"chunking_strategy":{"type":"static","static":{"max_chunk_size_tokens":"800","chunk_overlap_tokens":0}}}""", "chunking_strategy")]
    [InlineData("/v1/vector_stores/{store}/files", """{"file_id":"file-000000000000000000000000","chunking_strategy":{"type":"static","static":{"max_chunk_size_tokens":800,"chunk_overlap_tokens":true}}}""", "chunking_strategy")]
    [InlineData("/v1/chat/completions", """{"model":"stories260K","messages":[{"role":"user","content":"hi"}],"retrieval":{"vector_store_ids":[null]}}""", "retrieval.vector_store_ids")]
    [InlineData("/v1/route", """{"model":"auto","messages":[{"role":"user","content":"hi"}],"retrieval":{"vector_store_ids":["{store}",null]}}""", "retrieval.vector_store_ids")]
    [InlineData("/v1/chat/completions", """{"model":"stories260K","messages":[{"role":"user","content":"hi"}],"retrieval":{"vector_store_ids":["{store}"],"max_num_results":"5"}}""", "retrieval.max_num_results")]
    public async Task Nulls_and_wrong_kinds_in_vector_store_fields_are_400_naming_the_field(string path, string body, string param)
    {
        await using var gateway = await RagHttp.StartGatewayAsync();
        var (_, store) = await RagHttp.PostJsonAsync(gateway.Http, "/v1/vector_stores", """{"name":"empty"}""");
        var storeId = store.GetProperty("id").GetString()!;

        using var response = await gateway.Http.PostAsync(path.Replace("{store}", storeId, StringComparison.Ordinal), ApiAssert.Json(body.Replace("{store}", storeId, StringComparison.Ordinal)));

        await ApiAssert.ErrorAsync(response, HttpStatusCode.BadRequest, param);
        var stores = await RagHttp.GetJsonAsync(gateway.Http, "/v1/vector_stores");
        Assert.Equal(1, stores.GetProperty("data").GetArrayLength()); // nothing was created
    }

    [Fact]
    public async Task A_binary_file_fails_with_last_error_and_the_store_stays_usable()
    {
        await using var gateway = await RagHttp.StartGatewayAsync();
        var http = gateway.Http;
        var binary = await RagHttp.UploadAsync(http, "image.png", [0x89, 0x50, 0x4E, 0x47, 0, 0, 0, 13, 0xFF, 0xFE]);
        var text = await RagHttp.UploadAsync(http, "notes.txt", Encoding.UTF8.GetBytes("The orchard has forty apple trees and one old pear tree."));

        var store = await RagHttp.CreateStoreAndWaitAsync(http, "", binary.GetProperty("id").GetString()!, text.GetProperty("id").GetString()!);

        Assert.Equal("completed", store.GetProperty("status").GetString());
        Assert.Equal(1, store.GetProperty("file_counts").GetProperty("failed").GetInt32());
        Assert.Equal(1, store.GetProperty("file_counts").GetProperty("completed").GetInt32());
        var storeId = store.GetProperty("id").GetString()!;
        var failed = await RagHttp.GetJsonAsync(http, $"/v1/vector_stores/{storeId}/files?filter=failed");
        var lastError = failed.GetProperty("data")[0].GetProperty("last_error");
        Assert.Equal("unsupported_file", lastError.GetProperty("code").GetString());
        Assert.Contains("binary", lastError.GetProperty("message").GetString(), StringComparison.Ordinal);

        var page = await RagHttp.SearchAsync(http, storeId, "apple trees");
        Assert.All(page.GetProperty("data").EnumerateArray(), r => Assert.Equal(text.GetProperty("id").GetString(), r.GetProperty("file_id").GetString()));
        Assert.Contains("forty apple trees", RagHttp.Texts(page)[0], StringComparison.Ordinal);
    }
}

/// <summary>The RAG flags of the gateway's command line.</summary>
public sealed class RagFlagTests
{
    [Theory]
    [InlineData("--max-file-bytes", "0", "--max-file-bytes must be at least 1 (got 0).")]
    [InlineData("--max-file-bytes", "lots", "--max-file-bytes must be an integer (got 'lots').")]
    [InlineData("--embedding-model", " ", "--embedding-model must name a model.")]
    public void Invalid_values_are_refused_with_one_line_naming_the_flag(string flag, string value, string message)
    {
        var parsed = InferenceMesh.Gateway.Hosting.GatewayCommandLine.Parse([flag, value]);

        Assert.Null(parsed.Options);
        Assert.Equal(message, parsed.Error);
    }

    [Fact]
    public void Defaults_are_64_MiB_and_the_first_local_model()
    {
        var options = InferenceMesh.Gateway.Hosting.GatewayCommandLine.Parse([]).Options!;

        Assert.Equal(64L * 1024 * 1024, options.MaxFileBytes);
        Assert.Null(options.EmbeddingModel);
        Assert.Equal("stories260K", InferenceMesh.Gateway.Hosting.GatewayCommandLine.Parse(["--embedding-model", "stories260K"]).Options!.EmbeddingModel);
    }
}

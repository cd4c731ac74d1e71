using System.ClientModel;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using InferenceMesh.Gateway.Tests.Common;
using OpenAI.Files;
using OpenAI.VectorStores;

#pragma warning disable OPENAI001 // the client's vector store API is marked experimental

namespace InferenceMesh.Gateway.Tests.Rag;

/// <summary>
/// The acceptance path of issue 7 on the real gateway (stories260K embeddings, sqlite-vec, FTS5) with <c>--data</c>:
/// upload a text file, create a vector store with its id, wait for ingestion, search for a phrase.
/// </summary>
public sealed class RagAcceptanceTests
{
    /// <summary>Five short paragraphs (also the document of <see cref="PgVectorGatewayTests"/>).</summary>
    internal const string Document = """
        The lighthouse keeper Marta polished the great brass lamp every evening before the fog rolled in.
        She wrote the name of every ship that passed the rocky cape into a green logbook.

        In the village below, the baker sold warm rye bread and almond cakes on market days.
        Children ran along the harbour wall to watch the fishing boats come home at dusk.

        Once upon a time, a little girl named Lily found a red ball in the park and played all day.
        """;

    [Fact]
    public async Task Uploaded_text_is_found_by_search_with_its_text_in_content()
    {
        await using var gateway = await RagHttp.StartGatewayAsync();
        var http = gateway.Http;

        var file = await RagHttp.UploadAsync(http, "harbour.txt", Encoding.UTF8.GetBytes(Document));
        var fileId = file.GetProperty("id").GetString()!;
        Assert.Equal("file", file.GetProperty("object").GetString());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Document))), file.GetProperty("sha256").GetString());

        var store = await RagHttp.CreateStoreAndWaitAsync(http,
            ""","chunking_strategy":{"type":"static","static":{"max_chunk_size_tokens":100,"chunk_overlap_tokens":20}}""", fileId);
        Assert.Equal("completed", store.GetProperty("status").GetString());
        Assert.Equal(1, store.GetProperty("file_counts").GetProperty("completed").GetInt32());
        Assert.Equal("stories260K", store.GetProperty("embedding_model").GetString());
        Assert.Equal(64, store.GetProperty("dimensions").GetInt32()); // stories260K's embedding size
        Assert.Equal("confidential", store.GetProperty("privacy").GetString()); // the safe default

        var storeId = store.GetProperty("id").GetString()!;
        var page = await RagHttp.SearchAsync(http, storeId, "almond cakes on market days");

        Assert.Equal("vector_store.search_results.page", page.GetProperty("object").GetString());
        Assert.False(page.GetProperty("has_more").GetBoolean());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, page.GetProperty("next_page").ValueKind);
        var first = page.GetProperty("data")[0];
        Assert.Equal(4, page.GetProperty("data").GetArrayLength()); // every chunk matches some word or vector
        Assert.Equal(fileId, first.GetProperty("file_id").GetString());
        Assert.Equal("harbour.txt", first.GetProperty("filename").GetString());
        Assert.Equal("text", first.GetProperty("content")[0].GetProperty("type").GetString());
        // 100-token chunks of a 512-token vocabulary are short: the phrase is in one chunk, ranked in the top two.
        Assert.Contains(RagHttp.Texts(page).Take(2), t => t.Contains("almond cakes on market days", StringComparison.Ordinal));
        var scores = page.GetProperty("data").EnumerateArray().Select(r => r.GetProperty("score").GetDouble()).ToList();
        Assert.Equal(scores.OrderDescending(), scores);
        Assert.InRange(scores[0], 0, 1);

        // The data folder holds the database and the file under its generated id.
        Assert.True(File.Exists(Path.Combine(gateway.DataDirectory, "context.db")));
        Assert.True(File.Exists(Path.Combine(gateway.DataDirectory, "files", fileId)));
    }

    [Fact]
    public async Task The_OpenAI_client_uploads_creates_a_store_and_reads_its_files()
    {
        await using var gateway = await RagHttp.StartGatewayAsync();
        var files = gateway.OpenAi.GetOpenAIFileClient();
        var stores = gateway.OpenAi.GetVectorStoreClient();

        OpenAIFile uploaded = await files.UploadFileAsync(BinaryData.FromString(Document), "harbour.md", FileUploadPurpose.Assistants);
        Assert.Equal("harbour.md", uploaded.Filename);
        Assert.Equal(Encoding.UTF8.GetByteCount(Document), uploaded.SizeInBytes);

        var options = new VectorStoreCreationOptions { Name = "client store", ChunkingStrategy = FileChunkingStrategy.CreateStaticStrategy(120, 30) };
        options.FileIds.Add(uploaded.Id);
        options.Metadata["project"] = "harbour";
        VectorStore created = await stores.CreateVectorStoreAsync(options);
        Assert.Equal("client store", created.Name);
        Assert.Equal("harbour", created.Metadata["project"]);

        var completed = await RagHttp.WaitForStoreAsync(gateway.Http, created.Id);
        VectorStore fetched = await stores.GetVectorStoreAsync(created.Id);
        Assert.Equal(VectorStoreStatus.Completed, fetched.Status);
        Assert.Equal(1, fetched.FileCounts.Completed);

        VectorStoreFile storeFile = await stores.GetVectorStoreFileAsync(created.Id, uploaded.Id);
        Assert.Equal(VectorStoreFileStatus.Completed, storeFile.Status);
        Assert.Equal(uploaded.Id, storeFile.FileId);
        var staticStrategy = Assert.IsType<StaticFileChunkingStrategy>(storeFile.ChunkingStrategy);
        Assert.Equal(120, staticStrategy.MaxTokensPerChunk);

        var page = await RagHttp.SearchAsync(gateway.Http, created.Id, "lighthouse keeper green logbook", 3);
        Assert.Contains(RagHttp.Texts(page), t => t.Contains("green logbook", StringComparison.Ordinal));
        Assert.Equal("completed", completed.GetProperty("status").GetString());

        await stores.DeleteVectorStoreAsync(created.Id);
        var afterDelete = await gateway.Http.GetAsync($"/v1/vector_stores/{created.Id}");
        Assert.Equal(HttpStatusCode.NotFound, afterDelete.StatusCode);

        await files.DeleteFileAsync(uploaded.Id);
        var ex = await Assert.ThrowsAsync<ClientResultException>(() => files.GetFileAsync(uploaded.Id));
        Assert.Equal(404, ex.Status);
        Assert.False(File.Exists(Path.Combine(gateway.DataDirectory, "files", uploaded.Id)));
    }
}

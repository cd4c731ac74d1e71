using System.Net;
using System.Text;
using InferenceMesh.Gateway.Hosting;
using InferenceMesh.Gateway.Tests.Common;
using InferenceMesh.Tests;
using Microsoft.Data.Sqlite;

namespace InferenceMesh.Gateway.Tests.Rag;

/// <summary>
/// The acceptance path of issue 7 on the real gateway (stories260K embeddings) with <c>--rag-index postgres</c>: upload,
/// create a store, search over HTTP; the chunks live in PostgreSQL (HNSW + tsvector), the files and stores in the data
/// folder's SQLite database. Bad selections stop the start with one line.
/// </summary>
public sealed class PgVectorGatewayTests
{
    private const string Document = RagAcceptanceTests.Document;

    [Fact]
    public async Task Files_go_into_a_vector_store_on_postgres_and_search_finds_their_text()
    {
        using var index = new PgVectorGatewayIndex();
        await using var gateway = await RagHttp.StartGatewayAsync(env => env.ExtraArgs.AddRange(index.Args));
        var http = gateway.Http;

        var fileId = (await RagHttp.UploadAsync(http, "harbour.txt", Encoding.UTF8.GetBytes(Document))).GetProperty("id").GetString()!;
        var store = await RagHttp.CreateStoreAndWaitAsync(http,
            ""","chunking_strategy":{"type":"static","static":{"max_chunk_size_tokens":100,"chunk_overlap_tokens":20}}""", fileId);
        Assert.Equal("completed", store.GetProperty("status").GetString());
        Assert.Equal(64, store.GetProperty("dimensions").GetInt32());
        var storeId = store.GetProperty("id").GetString()!;

        var page = await RagHttp.SearchAsync(http, storeId, "almond cakes on market days");

        Assert.Equal(4, page.GetProperty("data").GetArrayLength()); // every chunk matches some word or vector
        Assert.Equal(fileId, page.GetProperty("data")[0].GetProperty("file_id").GetString());
        Assert.Contains(RagHttp.Texts(page).Take(2), t => t.Contains("almond cakes on market days", StringComparison.Ordinal));

        // The chunks are on the server, none in the data folder's database; the store's rows are there.
        Assert.Equal(4, TestPostgres.Scalar<long>(index.Schema,
            "SELECT count(*) FROM rag_chunks c JOIN rag_stores s ON s.seq = c.store_seq WHERE s.id = @store;", ("store", storeId)));
        using (var sqlite = new SqliteConnection($"Data Source={Path.Combine(gateway.DataDirectory, "context.db")};Pooling=False"))
        {
            sqlite.Open();
            using var command = sqlite.CreateCommand();
            command.CommandText = "SELECT (SELECT count(*) FROM rag_chunks), (SELECT count(*) FROM rag_vector_stores WHERE id = $id);";
            command.Parameters.AddWithValue("$id", storeId);
            using var reader = command.ExecuteReader();
            reader.Read();
            Assert.Equal((0L, 1L), (reader.GetInt64(0), reader.GetInt64(1)));
        }

        // Deleting the store drops its chunks and its vector table on the server.
        using var deleted = await http.DeleteAsync($"/v1/vector_stores/{storeId}");
        Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        Assert.Equal(0, TestPostgres.Scalar<long>(index.Schema, "SELECT count(*) FROM rag_chunks;"));
        Assert.Equal(0, TestPostgres.Scalar<long>(index.Schema,
            "SELECT count(*) FROM pg_tables WHERE schemaname = @schema AND tablename LIKE 'rag\\_vec\\_%';", ("schema", index.Schema)));
    }

    [Fact]
    public async Task An_unreachable_server_answers_503_in_the_api_error_shape_and_files_still_work()
    {
        var variable = $"IM_TEST_RAG_POSTGRES_{Guid.NewGuid():N}";
        Environment.SetEnvironmentVariable(variable, "Host=127.0.0.1;Port=1;Database=x;Username=x;Password=secret;Timeout=2");
        try
        {
            await using var gateway = await RagHttp.StartGatewayAsync(env => env.ExtraArgs.AddRange(["--rag-index", "postgres", "--rag-postgres-env", variable]));
            var fileId = (await RagHttp.UploadAsync(gateway.Http, "a.txt", "Files still work."u8.ToArray())).GetProperty("id").GetString()!;

            var (status, body) = await RagHttp.PostJsonAsync(gateway.Http, "/v1/vector_stores", $$"""{"file_ids":["{{fileId}}"]}""");

            Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
            var error = body.GetProperty("error");
            Assert.Equal("vector_index_unavailable", error.GetProperty("code").GetString());
            var message = error.GetProperty("message").GetString()!;
            Assert.StartsWith("The PostgreSQL RAG index is unavailable: cannot connect to the server", message, StringComparison.Ordinal);
            Assert.DoesNotContain("secret", body.ToString(), StringComparison.Ordinal);
            Assert.DoesNotContain(" at ", message, StringComparison.Ordinal); // no stack trace
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Theory]
    [InlineData("--rag-index", "mysql", "--rag-index must be sqlite or postgres")]
    [InlineData("--rag-postgres-env", "IM_TEST_UNSET_VARIABLE_7f3a", "the environment variable IM_TEST_UNSET_VARIABLE_7f3a is not set")]
    [InlineData("--rag-postgres-schema", "Bad-Schema", "schema name must be lower-case")]
    public void A_bad_index_selection_stops_the_start_with_one_line(string flag, string value, string expected)
    {
        var variable = $"IM_TEST_RAG_POSTGRES_{Guid.NewGuid():N}";
        Environment.SetEnvironmentVariable(variable, "Host=127.0.0.1;Database=x");
        try
        {
            string[] args = flag == "--rag-index"
                ? [flag, value]
                : ["--rag-index", "postgres", "--rag-postgres-env", flag == "--rag-postgres-env" ? value : variable, flag, value];

            var parsed = GatewayCommandLine.Parse(args);

            Assert.Null(parsed.Options);
            Assert.Contains(expected, parsed.Error, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', parsed.Error!);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public void A_malformed_connection_string_stops_the_start_without_showing_the_password()
    {
        var variable = $"IM_TEST_RAG_POSTGRES_{Guid.NewGuid():N}";
        Environment.SetEnvironmentVariable(variable, "Host=127.0.0.1;Password=hunter2;Nonsense Keyword=yes");
        try
        {
            var error = Assert.Throws<GatewayOptionsException>(() => GatewayApp.Build(["--rag-index", "postgres", "--rag-postgres-env", variable, "--port", "0"]));

            Assert.Contains("connection string is invalid", error.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("hunter2", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }
}

using System.Text;
using InferenceMesh.ContextStore.Rag;
using InferenceMesh.ContextStore.Rag.Files;
using InferenceMesh.ContextStore.Rag.Index;
using InferenceMesh.ContextStore.Rag.Stores;
using InferenceMesh.ContextStore.Storage;
using InferenceMesh.Gateway.Tests.Common;
using InferenceMesh.Tests;

namespace InferenceMesh.Gateway.Tests.Rag;

/// <summary>A file left "in_progress" by an earlier run (a crash, a stop) is ingested when the gateway starts.</summary>
public sealed class IngestionResumeTests
{
    [Fact]
    public async Task The_worker_takes_up_files_left_in_progress_at_start()
    {
        var data = TestPaths.NewTempDir("im-data");
        string storeId;
        string fileId;
        {
            // What a run that stopped mid-ingestion leaves behind: the file and its membership, no chunks.
            var database = ContextDatabase.Open(new ContextStoreOptions { DataDirectory = data, Extensions = [SqliteVec.LibraryPath] }, RagMigrations.All);
            var files = new RagFileStore(database, new RagOptions(), TimeProvider.System);
            using var content = new MemoryStream(Encoding.UTF8.GetBytes("The ferry to the island leaves at seven every morning."));
            fileId = (await files.AddAsync(content, "ferry.txt", "assistants", CancellationToken.None)).Value!.Id;
            storeId = new VectorStoreRepository(database).Create(VectorStoreRepository.NewId(), "left over", RagPrivacy.Confidential, TestEnvironment.Stories,
                new ChunkingStrategy(100, 0), new Dictionary<string, string>(), [fileId], "{}", 0).Id;
            database.Dispose();
        }

        await using var gateway = await TestEnvironment.StartAsync(env => env.DataDirectory = data);
        var store = await RagHttp.WaitForStoreAsync(gateway.Http, storeId);

        Assert.Equal(1, store.GetProperty("file_counts").GetProperty("completed").GetInt32());
        var page = await RagHttp.SearchAsync(gateway.Http, storeId, "ferry island");
        Assert.Equal(fileId, page.GetProperty("data")[0].GetProperty("file_id").GetString());
        Assert.Contains("leaves at seven", RagHttp.Texts(page)[0], StringComparison.Ordinal);
    }
}

using InferenceMesh.ModelCache.Catalog;
using InferenceMesh.ModelCache.Store;
using InferenceMesh.Tests;
using InferenceMesh.Tests.Lora;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace InferenceMesh.ModelCache.Tests.Adapters;

/// <summary>Adapters in the store (blobs + the adapters table), the manifest migration, and what the catalog offers.</summary>
public sealed class AdapterStoreTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));
    private readonly string _dir = TestPaths.NewTempDir("im-lora-store");
    private readonly string _work = TestPaths.NewTempDir("im-lora-files");

    public void Dispose()
    {
        Directory.Delete(_dir, recursive: true);
        Directory.Delete(_work, recursive: true);
    }

    [Fact]
    public async Task An_adapter_is_stored_as_a_blob_against_its_base_digest_and_offered_by_the_catalog()
    {
        var store = await OpenWithBaseAsync();
        var catalog = ModelCatalogFactory.Create(new ModelCatalogOptions { Directory = _dir });
        Assert.Empty(catalog.Adapters);

        var file = WriteAdapter("style", new LoraAdapterFactory.Options { Seed = 5, Rank = 2, Alpha = 4 });
        var added = await store.AddAdapterAsync(file, new AdapterRegistration { Name = "style", BaseName = "stories", DefaultScale = 0.7f }, CancellationToken.None);
        Assert.True(added.Succeeded, added.Message);
        var adapter = added.Adapter!;
        Assert.Equal(Sha256Digest.Parse(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(file)))), adapter.Digest);
        Assert.Equal(Path.Combine(_dir, "blobs", adapter.Digest.BlobFileName), adapter.Path);
        Assert.Equal(store.Find("stories")!.Digest, adapter.BaseDigest);
        Assert.Equal((4f, 2, 20, 0.7f, "llama"), (adapter.Alpha!.Value, adapter.Rank, adapter.TensorPairs, adapter.DefaultScale, adapter.Architecture));
        Assert.Equal(_time.GetUtcNow(), adapter.AddedUtc);
        Assert.Equal([adapter], store.ListAdapters());

        // The catalog sees it on the next lookup (the manifest changed) and never as a model.
        var entry = catalog.FindAdapter("style");
        Assert.NotNull(entry);
        Assert.Equal(("stories", adapter.Digest.Hex, 0.7f, 2), (entry.BaseModel, entry.Sha256, entry.DefaultScale, entry.Rank));
        Assert.Null(catalog.Find("style"));

        var removed = await store.RemoveAdapterAsync("style", CancellationToken.None);
        Assert.True(removed.Succeeded, removed.Message);
        Assert.False(File.Exists(adapter.Path));
        Assert.Null(catalog.FindAdapter("style"));
        Assert.NotNull(catalog.Find("stories"));
    }

    [Fact]
    public async Task Invalid_adapters_wrong_bases_and_bad_names_register_nothing()
    {
        var store = await OpenWithBaseAsync();
        var wrongArch = WriteAdapter("arch", new LoraAdapterFactory.Options { Architecture = "qwen2" });
        var result = await store.AddAdapterAsync(wrongArch, new AdapterRegistration { Name = "arch", BaseName = "stories" }, CancellationToken.None);
        Assert.Equal(StoreError.InvalidAdapter, result.Error);
        Assert.Contains("architecture 'qwen2'", result.Message, StringComparison.Ordinal);

        var good = WriteAdapter("good", new LoraAdapterFactory.Options());
        Assert.Equal(StoreError.NotFound, (await store.AddAdapterAsync(good, new AdapterRegistration { Name = "good", BaseName = "nope" }, CancellationToken.None)).Error);
        Assert.Equal(StoreError.InvalidName, (await store.AddAdapterAsync(good, new AdapterRegistration { Name = "a+b", BaseName = "stories" }, CancellationToken.None)).Error);
        Assert.Equal(StoreError.InvalidName, (await store.AddAdapterAsync(good, new AdapterRegistration { Name = "../x", BaseName = "stories" }, CancellationToken.None)).Error);

        // An adapter is never a model, whichever way it comes in.
        var asModel = await store.ImportFileAsync(good, new ModelRegistration { Name = "sneaky" }, CancellationToken.None);
        Assert.Equal(StoreError.InvalidGguf, asModel.Error);
        Assert.Contains("models adapter add", asModel.Message, StringComparison.Ordinal);
        File.Copy(good, Path.Combine(_dir, "loose-adapter.gguf"));
        var sync = await store.SyncLooseFilesAsync(null, CancellationToken.None);
        Assert.Contains("loose-adapter.gguf", sync.Skipped);
        var catalog = ModelCatalogFactory.Create(new ModelCatalogOptions { Directory = _dir });
        Assert.Contains(catalog.InvalidFiles, f => f.FileName == "loose-adapter.gguf" && f.Reason.Contains("LoRA adapter", StringComparison.Ordinal));

        Assert.Empty(store.ListAdapters());
        Assert.Equal(["sha256-" + store.Find("stories")!.Digest.Hex], Directory.GetFiles(Path.Combine(_dir, "blobs")).Select(Path.GetFileName));
    }

    [Fact]
    public async Task An_adapter_whose_base_name_now_has_other_bytes_is_not_offered()
    {
        var store = await OpenWithBaseAsync();
        var file = WriteAdapter("style", new LoraAdapterFactory.Options());
        Assert.True((await store.AddAdapterAsync(file, new AdapterRegistration { Name = "style", BaseName = "stories" }, CancellationToken.None)).Succeeded);

        // Same name, other bytes.
        var other = Path.Combine(_work, "other.gguf");
        var bytes = File.ReadAllBytes(TestPaths.Stories260K);
        File.WriteAllBytes(other, bytes);
        using (var stream = File.Open(other, FileMode.Open))
        {
            stream.Seek(-1, SeekOrigin.End);
            stream.WriteByte((byte)(bytes[^1] ^ 1)); // a tensor byte: still a valid GGUF, another digest
        }

        Assert.True((await store.ImportFileAsync(other, new ModelRegistration { Name = "stories" }, CancellationToken.None)).Succeeded);
        var catalog = ModelCatalogFactory.Create(new ModelCatalogOptions { Directory = _dir });
        Assert.Null(catalog.FindAdapter("style"));
        Assert.Contains(catalog.InvalidFiles, f => f.FileName.StartsWith("adapter style", StringComparison.Ordinal) && f.Reason.Contains("not the file it was registered against", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_version_1_manifest_is_migrated_in_place_and_keeps_its_models()
    {
        var store = await OpenWithBaseAsync();
        var digest = store.Find("stories")!.Digest;
        using (var connection = new SqliteConnection($"Data Source={Path.Combine(_dir, "manifest.db")};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "DROP TABLE adapters; PRAGMA user_version = 1;";
            command.ExecuteNonQuery();
        }

        // The catalog (read-only) lists a version 1 manifest without adapters.
        var catalog = ModelCatalogFactory.Create(new ModelCatalogOptions { Directory = _dir });
        Assert.NotNull(catalog.Find("stories"));
        Assert.Empty(catalog.Adapters);

        var reopened = new ModelStore(new StoreLayout(_dir), _time, NullLogger<ModelStore>.Instance);
        Assert.Equal(digest, reopened.Find("stories")!.Digest);
        var file = WriteAdapter("after", new LoraAdapterFactory.Options());
        Assert.True((await reopened.AddAdapterAsync(file, new AdapterRegistration { Name = "after", BaseName = "stories" }, CancellationToken.None)).Succeeded);
        using var check = new SqliteConnection($"Data Source={Path.Combine(_dir, "manifest.db")};Pooling=False");
        check.Open();
        using var version = check.CreateCommand();
        version.CommandText = "PRAGMA user_version;";
        Assert.Equal(2L, version.ExecuteScalar());
    }

    private async Task<ModelStore> OpenWithBaseAsync()
    {
        var store = new ModelStore(new StoreLayout(_dir), _time, NullLogger<ModelStore>.Instance);
        var imported = await store.ImportFileAsync(TestPaths.Stories260K, new ModelRegistration { Name = "stories" }, CancellationToken.None);
        Assert.True(imported.Succeeded, imported.Message);
        return store;
    }

    private string WriteAdapter(string name, LoraAdapterFactory.Options options)
    {
        var path = Path.Combine(_work, name + ".gguf");
        LoraAdapterFactory.Write(TestPaths.Stories260K, path, options);
        return path;
    }
}

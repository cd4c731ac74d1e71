using InferenceMesh.Tests;
using InferenceMesh.ModelCache.Catalog;
using InferenceMesh.ModelCache.Store;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace InferenceMesh.ModelCache.Tests.Store;

public sealed class ModelStoreTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));

    private ModelStore Open(string dir) => new(new StoreLayout(dir), _time, NullLogger<ModelStore>.Instance);

    [Fact]
    public void A_manifest_that_is_not_a_database_is_a_one_line_error_and_stays_as_it_was()
    {
        var dir = TestPaths.NewTempDir();
        var garbage = new byte[8192];
        new Random(7).NextBytes(garbage);
        var manifest = new StoreLayout(dir).Manifest;
        File.WriteAllBytes(manifest, garbage);

        // Was an unhandled SqliteException: the gateway and every models command died with a stack trace.
        var ex = Assert.Throws<ModelStoreOpenException>(() => Open(dir));

        Assert.StartsWith($"The models folder's manifest '{manifest}' cannot be opened: SQLite Error 26: 'file is not a database'.", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
        Assert.Equal(garbage, File.ReadAllBytes(manifest));
    }

    [Fact]
    public void A_manifest_from_a_newer_build_is_a_one_line_error()
    {
        var dir = TestPaths.NewTempDir();
        var manifest = new StoreLayout(dir).Manifest;
        Open(dir);
        using (var connection = new SqliteConnection($"Data Source={manifest};Pooling=False"))
        {
            connection.Open();
            using var newer = new SqliteCommand("PRAGMA user_version = 99;", connection);
            newer.ExecuteNonQuery();
        }

        var ex = Assert.Throws<ModelStoreOpenException>(() => Open(dir));

        Assert.Contains("has schema version 99", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public async Task Import_WritesTheBlobUnderItsDigest_AndTheManifestWithGgufMetadata()
    {
        var dir = TestPaths.NewTempDir();
        var store = Open(dir);

        var result = await store.ImportAsync(new MemoryStream(StoreTestData.Stories), new ModelRegistration
        {
            Name = "stories",
            Sources = ["http://127.0.0.1:1/stories260K.gguf"],
        }, CancellationToken.None);

        Assert.True(result.Succeeded, result.Message);
        var model = store.Find("stories")!;
        Assert.Equal(StoreTestData.StoriesDigest, model.Digest);
        Assert.Equal(Path.Combine(dir, "blobs", "sha256-" + StoreTestData.StoriesDigest.Hex), model.Path);
        Assert.Equal(StoreTestData.Stories, File.ReadAllBytes(model.Path));
        Assert.Equal(1_185_376, model.SizeBytes);
        Assert.Equal("llama", model.Metadata.Architecture);
        Assert.Equal("F32", model.Metadata.Quantization);
        Assert.Equal(2048, model.Metadata.ContextLength);
        Assert.True(model.Metadata.ParameterCount > 200_000);
        Assert.False(model.Metadata.HasChatTemplate);
        Assert.Equal(["http://127.0.0.1:1/stories260K.gguf"], model.Sources);
        Assert.Equal(_time.GetUtcNow(), model.AddedUtc);
        Assert.Equal(["sha256-" + StoreTestData.StoriesDigest.Hex], Directory.GetFiles(Path.Combine(dir, "blobs")).Select(Path.GetFileName));

        // The manifest is WAL with a busy timeout (a reader never blocks a writer).
        using var connection = new SqliteConnection($"Data Source={Path.Combine(dir, "manifest.db")}");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode;";
        Assert.Equal("wal", command.ExecuteScalar());
    }

    [Fact]
    public async Task Writer_HashesWhileWriting_AndKeepsLineage()
    {
        var dir = TestPaths.NewTempDir();
        var store = Open(dir);
        await using var writer = store.CreateWriter();
        Assert.StartsWith(Path.Combine(dir, "blobs", ".incoming-"), writer.TempPath);
        await writer.WriteAsync(StoreTestData.Stories.AsMemory(0, 1000));
        writer.Write(StoreTestData.Stories.AsSpan(1000));
        var source = Sha256Digest.Parse(new string('a', 64));

        var result = await store.CommitAsync(writer, new ModelRegistration
        {
            Name = "stories-q8",
            ExpectedSha256 = StoreTestData.StoriesDigest,
            Lineage = new ModelLineage(source, "Q8_0"),
        }, CancellationToken.None);

        Assert.True(result.Succeeded, result.Message);
        Assert.False(File.Exists(writer.TempPath));
        var model = store.Find("stories-q8")!;
        Assert.Equal(new ModelLineage(source, "Q8_0"), model.Lineage);
        Assert.Equal(StoreTestData.StoriesDigest, model.Digest);
    }

    [Fact]
    public async Task WrongDigest_RegistersNothing_AndLeavesNoFile()
    {
        var dir = TestPaths.NewTempDir();
        var store = Open(dir);
        var wrong = Sha256Digest.Parse(new string('0', 64));

        var result = await store.ImportAsync(new MemoryStream(StoreTestData.Stories), new ModelRegistration { Name = "m", ExpectedSha256 = wrong }, CancellationToken.None);

        Assert.Equal(StoreError.DigestMismatch, result.Error);
        Assert.Contains($"expected {wrong}, got {StoreTestData.StoriesDigest}", result.Message);
        Assert.Contains("nothing was registered", result.Message);
        Assert.Empty(store.List());
        Assert.Empty(Directory.GetFiles(Path.Combine(dir, "blobs")));
    }

    [Fact]
    public async Task InvalidGguf_IsNotRegistered()
    {
        var store = Open(TestPaths.NewTempDir());
        var result = await store.ImportAsync(new MemoryStream(StoreTestData.Stories[..5000]), new ModelRegistration { Name = "cut" }, CancellationToken.None);
        Assert.Equal(StoreError.InvalidGguf, result.Error);
        Assert.Empty(store.List());
        Assert.Empty(Directory.GetFiles(store.Layout.Blobs));
    }

    [Theory]
    [InlineData("../../escape")]
    [InlineData("/etc/passwd")]
    [InlineData("/dev/null")]
    [InlineData("CON")]
    [InlineData("NUL")]
    [InlineData("a\0b")]
    [InlineData("sub/dir")]
    public async Task UnsafeNames_WriteNothingAnywhere(string name)
    {
        var sandbox = TestPaths.NewTempDir();
        var dir = Path.Combine(sandbox, "models");
        var store = Open(dir);
        // The manifest's own files (-wal, -shm) come and go; anything else appearing anywhere would be a write.
        string[] Tree() => StoreTestData.Tree(sandbox).Where(p => !p.Contains("manifest.db", StringComparison.Ordinal)).ToArray();
        var before = Tree();

        var result = await store.ImportAsync(new MemoryStream(StoreTestData.Stories), new ModelRegistration { Name = name }, CancellationToken.None);
        var removed = await store.RemoveAsync(name, CancellationToken.None);

        Assert.Equal(StoreError.InvalidName, result.Error);
        Assert.Equal(StoreError.InvalidName, removed.Error);
        Assert.Empty(store.List());
        Assert.Equal(before, Tree());
    }

    [Fact]
    public async Task VeryLongName_IsRefused()
    {
        var store = Open(TestPaths.NewTempDir());
        var result = await store.ImportAsync(new MemoryStream(StoreTestData.Stories), new ModelRegistration { Name = new string('x', 10_000) }, CancellationToken.None);
        Assert.Equal(StoreError.InvalidName, result.Error);
    }

    [Fact]
    public async Task HandEditedManifestRow_WithAPathForADigest_IsIgnored()
    {
        var dir = TestPaths.NewTempDir();
        var store = Open(dir);
        await store.ImportAsync(new MemoryStream(StoreTestData.Stories), new ModelRegistration { Name = "good" }, CancellationToken.None);
        using (var connection = new SqliteConnection($"Data Source={store.Layout.Manifest}"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = """
                INSERT INTO models(name, digest, size, added_utc) VALUES('evil', '../../../../../../../../../../../../../../../../../../../../etc/', 1, 'x');
                INSERT INTO models(name, digest, size, loose_file, added_utc) VALUES('evil2', $d, 1, '../../outside.gguf', 'x');
                INSERT INTO models(name, digest, size, added_utc) VALUES('../evil3', $d, 1, 'x');
                """;
            command.Parameters.AddWithValue("$d", StoreTestData.StoriesDigest.Hex);
            command.ExecuteNonQuery();
        }

        Assert.Equal(["good"], store.List().Select(m => m.Name));
        var catalog = ModelCatalogFactory.Create(new ModelCatalogOptions { Directory = dir });
        Assert.Equal(["good"], catalog.Models.Select(m => m.Id));
    }

    [Fact]
    public async Task LooseFiles_AreHashedOnce_AndAgainOnlyWhenSizeTimeOrInodeChange()
    {
        var dir = TestPaths.NewTempDir();
        var loose = Path.Combine(dir, "tiny.gguf");
        File.WriteAllBytes(loose, StoreTestData.Stories);
        File.WriteAllBytes(Path.Combine(dir, "broken.gguf"), StoreTestData.Stories[..100]);
        var store = Open(dir);

        var first = await store.SyncLooseFilesAsync(null, CancellationToken.None);
        Assert.Equal(["tiny.gguf"], first.Hashed);
        Assert.Equal(["broken.gguf"], first.Skipped);
        var model = store.Find("tiny")!;
        Assert.Equal(loose, model.Path);
        Assert.Equal("tiny.gguf", model.LooseFileName);
        Assert.Equal(StoreTestData.StoriesDigest, model.Digest);

        Assert.Empty((await store.SyncLooseFilesAsync(null, CancellationToken.None)).Hashed);

        // New write time: hashed again.
        File.SetLastWriteTimeUtc(loose, File.GetLastWriteTimeUtc(loose).AddMinutes(1));
        Assert.Equal(["tiny.gguf"], (await store.SyncLooseFilesAsync(null, CancellationToken.None)).Hashed);

        // Same size and write time, but another file (new inode) with other bytes: hashed again, new digest.
        var time = File.GetLastWriteTimeUtc(loose);
        var replacement = Path.Combine(dir, "replacement.tmp");
        File.WriteAllBytes(replacement, StoreTestData.OtherStories());
        File.SetLastWriteTimeUtc(replacement, time);
        File.Move(replacement, loose, overwrite: true);
        Assert.Equal(["tiny.gguf"], (await store.SyncLooseFilesAsync(null, CancellationToken.None)).Hashed);
        Assert.NotEqual(StoreTestData.StoriesDigest, store.Find("tiny")!.Digest);

        // The catalog lists it with the manifest's digest while it is unchanged.
        var catalog = ModelCatalogFactory.Create(new ModelCatalogOptions { Directory = dir });
        Assert.Equal(store.Find("tiny")!.Digest.Hex, catalog.Find("tiny")!.Sha256);

        // A download or import under the loose file's name never replaces (deletes) the user's file.
        var taken = await store.ImportAsync(new MemoryStream(StoreTestData.Stories), new ModelRegistration { Name = "tiny" }, CancellationToken.None);
        Assert.Equal(StoreError.NameTaken, taken.Error);
        Assert.True(File.Exists(loose));
        Assert.Empty(Directory.GetFiles(store.Layout.Blobs));

        File.Delete(loose);
        Assert.Equal(["tiny.gguf"], (await store.SyncLooseFilesAsync(null, CancellationToken.None)).Forgotten);
        Assert.Null(store.Find("tiny"));
    }

    [Theory]
    [InlineData("tiny.gguf")]
    [InlineData("tiny.GGUF")]
    public async Task An_import_never_takes_the_name_of_a_loose_file_not_hashed_yet(string fileName)
    {
        // The rule held only once a sync had registered the loose file: before that, a pull, an import or a quantisation
        // registered "tiny" as a blob that the catalog then reported as a duplicate of the user's tiny.gguf.
        var dir = TestPaths.NewTempDir();
        var store = Open(dir);
        var loose = Path.Combine(dir, fileName);
        File.WriteAllBytes(loose, StoreTestData.OtherStories());

        var taken = await store.ImportAsync(new MemoryStream(StoreTestData.Stories), new ModelRegistration { Name = "tiny" }, CancellationToken.None);

        Assert.Equal(StoreError.NameTaken, taken.Error);
        Assert.Contains($"the name is used by the loose file '{fileName}'", taken.Message);
        Assert.True(File.Exists(loose));
        Assert.Null(store.Find("tiny"));
        Assert.Empty(Directory.GetFiles(store.Layout.Blobs));
        Assert.True((await store.ImportAsync(new MemoryStream(StoreTestData.Stories), new ModelRegistration { Name = "tiny2" }, CancellationToken.None)).Succeeded);
    }

    [Fact]
    public async Task Catalog_ListsManifestNamesAndLooseFiles()
    {
        var dir = TestPaths.NewTempDir();
        File.WriteAllBytes(Path.Combine(dir, "loose.gguf"), StoreTestData.Stories);
        var store = Open(dir);
        var catalog = ModelCatalogFactory.Create(new ModelCatalogOptions { Directory = dir });
        Assert.Equal(["loose"], catalog.Models.Select(m => m.Id));
        Assert.Null(catalog.Models[0].Sha256); // not imported yet: the catalog never hashes

        await store.ImportAsync(new MemoryStream(StoreTestData.Stories), new ModelRegistration { Name = "stored" }, CancellationToken.None);
        var stored = catalog.Find("stored"); // the manifest changed: Find rescans
        Assert.NotNull(stored);
        Assert.Equal(store.Find("stored")!.Path, stored.Path);
        Assert.Equal(StoreTestData.StoriesDigest.Hex, stored.Sha256);
        Assert.Equal("F32", stored.Quantization);
        Assert.Equal(["loose", "stored"], catalog.Models.Select(m => m.Id).Order(StringComparer.Ordinal));

        // A manifest name that a loose file (put there after the name was registered) also uses is reported, not served twice.
        await store.ImportAsync(new MemoryStream(StoreTestData.OtherStories()), new ModelRegistration { Name = "later" }, CancellationToken.None);
        File.WriteAllBytes(Path.Combine(dir, "later.gguf"), StoreTestData.Stories);
        catalog.Refresh();
        Assert.Equal(Path.Combine(dir, "later.gguf"), catalog.Find("later")!.Path);
        Assert.Contains(catalog.InvalidFiles, f => f.FileName.StartsWith("later (sha256-", StringComparison.Ordinal) && f.Reason.Contains("already has the model id"));
    }

    [Fact]
    public async Task Remove_DeletesTheBlobWithItsLastName()
    {
        var store = Open(TestPaths.NewTempDir());
        await store.ImportAsync(new MemoryStream(StoreTestData.Stories), new ModelRegistration { Name = "a", Sources = ["http://127.0.0.1:1/x"] }, CancellationToken.None);
        await store.ImportAsync(new MemoryStream(StoreTestData.Stories), new ModelRegistration { Name = "b" }, CancellationToken.None);
        var blob = store.Find("a")!.Path;
        Assert.Equal(["http://127.0.0.1:1/x"], store.Find("b")!.Sources); // sources belong to the digest

        Assert.True((await store.RemoveAsync("a", CancellationToken.None)).Succeeded);
        Assert.True(File.Exists(blob));
        Assert.True((await store.RemoveAsync("b", CancellationToken.None)).Succeeded);
        Assert.False(File.Exists(blob));
        Assert.Equal(StoreError.NotFound, (await store.RemoveAsync("b", CancellationToken.None)).Error);
        Assert.Empty(store.List());
    }

    [Fact]
    public async Task Verify_QuarantinesAMismatch_AndTheCatalogStopsServingIt()
    {
        var dir = TestPaths.NewTempDir();
        var store = Open(dir);
        await store.ImportAsync(new MemoryStream(StoreTestData.Stories), new ModelRegistration { Name = "a" }, CancellationToken.None);
        await store.ImportAsync(new MemoryStream(StoreTestData.OtherStories()), new ModelRegistration { Name = "b" }, CancellationToken.None);
        var blob = store.Find("a")!.Path;
        using (var file = new FileStream(blob, FileMode.Open, FileAccess.Write))
        {
            file.Position = 1000;
            file.WriteByte(0x42); // bit rot: same size, same name
        }

        var progress = new List<HashProgress>();
        var report = await store.VerifyAsync(new InlineProgress<HashProgress>(progress.Add), CancellationToken.None);

        Assert.False(report.AllOk);
        var bad = Assert.Single(report.Files, f => f.Outcome != VerifyOutcome.Ok);
        Assert.Equal(VerifyOutcome.Quarantined, bad.Outcome);
        Assert.Equal(["a"], bad.Names);
        Assert.False(File.Exists(blob));
        Assert.True(File.Exists(bad.QuarantinePath));
        Assert.StartsWith(Path.Combine(dir, "quarantine") + Path.DirectorySeparatorChar, bad.QuarantinePath);
        Assert.Equal(StoredModelStatus.Quarantined, store.Find("a")!.Status);
        Assert.Equal(StoredModelStatus.Ok, store.Find("b")!.Status);
        Assert.Contains(progress, p => p.BytesDone == p.BytesTotal && p.BytesTotal == 1_185_376);
        var catalog = ModelCatalogFactory.Create(new ModelCatalogOptions { Directory = dir });
        Assert.Equal(["b"], catalog.Models.Select(m => m.Id));

        // A second verify checks only what is still served.
        Assert.True((await store.VerifyAsync(null, CancellationToken.None)).AllOk);
    }

    [Fact]
    public async Task Verify_DeletesOnlyStaleTempFiles()
    {
        var store = Open(TestPaths.NewTempDir());
        var stale = Path.Combine(store.Layout.Blobs, ".incoming-old.tmp");
        var fresh = Path.Combine(store.Layout.Blobs, ".incoming-new.tmp");
        File.WriteAllBytes(stale, [1]);
        File.WriteAllBytes(fresh, [1]);
        File.SetLastWriteTimeUtc(stale, _time.GetUtcNow().UtcDateTime.AddDays(-2));
        File.SetLastWriteTimeUtc(fresh, _time.GetUtcNow().UtcDateTime.AddHours(-1));

        await store.VerifyAsync(null, CancellationToken.None);

        Assert.False(File.Exists(stale));
        Assert.True(File.Exists(fresh));
    }

    [Fact]
    public async Task Verify_DeletesStaleQuantisationTempFiles_Too()
    {
        // 'models quantize' writes its output in blobs/ (.quantized-<guid>.tmp, and llama.cpp's own
        // ..quantized-<guid>.tmp.<guid>.partial): a quantisation killed or aborted by llama.cpp left gigabytes there for ever.
        var store = Open(TestPaths.NewTempDir());
        await store.ImportAsync(new MemoryStream(StoreTestData.Stories), new ModelRegistration { Name = "a" }, CancellationToken.None);
        var quantized = Path.Combine(store.Layout.Blobs, ".quantized-0123.tmp");
        var partial = Path.Combine(store.Layout.Blobs, "..quantized-0123.tmp.4567.partial");
        foreach (var leftover in new[] { quantized, partial })
        {
            File.WriteAllBytes(leftover, [1]);
            File.SetLastWriteTimeUtc(leftover, _time.GetUtcNow().UtcDateTime.AddDays(-2));
        }

        var blob = store.Find("a")!.Path;
        File.SetLastWriteTimeUtc(blob, _time.GetUtcNow().UtcDateTime.AddDays(-2));

        Assert.True((await store.VerifyAsync(null, CancellationToken.None)).AllOk);

        Assert.False(File.Exists(quantized));
        Assert.False(File.Exists(partial));
        Assert.True(File.Exists(blob)); // an old blob is never a temp file
    }

    /// <summary>A store whose folder holds tiny.gguf (stories260K), synced (hashed) once.</summary>
    private async Task<(ModelStore Store, string Loose)> SyncedLooseFileAsync()
    {
        var dir = TestPaths.NewTempDir();
        var loose = Path.Combine(dir, "tiny.gguf");
        File.WriteAllBytes(loose, StoreTestData.Stories);
        var store = Open(dir);
        await store.SyncLooseFilesAsync(null, CancellationToken.None);
        return (store, loose);
    }

    [Fact]
    public async Task Verify_DoesNotQuarantineALooseFileReplacedSinceItWasHashed()
    {
        // The user copies a new version over ~/models/tiny.gguf while 'models verify' runs (after its sync): a changed
        // size, write time or inode is a new file for the next sync, not corruption. It was moved to quarantine/.
        var (store, loose) = await SyncedLooseFileAsync();
        var other = StoreTestData.OtherStories();
        File.WriteAllBytes(loose, other);
        File.SetLastWriteTimeUtc(loose, File.GetLastWriteTimeUtc(loose).AddMinutes(1));

        var report = await store.VerifyAsync(null, CancellationToken.None);

        Assert.Equal(VerifyOutcome.Changed, Assert.Single(report.Files).Outcome);
        Assert.Equal(other, File.ReadAllBytes(loose));
        Assert.Empty(Directory.GetFiles(store.Layout.Quarantine));
        Assert.Equal(StoredModelStatus.Ok, store.Find("tiny")!.Status);
        Assert.Equal(["tiny.gguf"], (await store.SyncLooseFilesAsync(null, CancellationToken.None)).Hashed);
        Assert.True((await store.VerifyAsync(null, CancellationToken.None)).AllOk);
    }

    [Fact]
    public async Task Verify_QuarantinesALooseFileWhoseBytesChangedUnderTheSameStamp()
    {
        var (store, loose) = await SyncedLooseFileAsync();
        var time = File.GetLastWriteTimeUtc(loose);
        using (var file = new FileStream(loose, FileMode.Open, FileAccess.Write))
        {
            file.Position = StoreTestData.Stories.Length / 2;
            file.WriteByte((byte)(StoreTestData.Stories[StoreTestData.Stories.Length / 2] ^ 0xFF)); // bit rot: one byte, same size
        }

        File.SetLastWriteTimeUtc(loose, time);

        var report = await store.VerifyAsync(null, CancellationToken.None);

        Assert.Equal(VerifyOutcome.Quarantined, Assert.Single(report.Files).Outcome);
        Assert.False(File.Exists(loose));
        Assert.Equal(StoredModelStatus.Quarantined, store.Find("tiny")!.Status);
    }

    [Fact]
    public async Task Verify_ReportsAMissingFile()
    {
        var store = Open(TestPaths.NewTempDir());
        await store.ImportAsync(new MemoryStream(StoreTestData.Stories), new ModelRegistration { Name = "a" }, CancellationToken.None);
        File.Delete(store.Find("a")!.Path);
        var report = await store.VerifyAsync(null, CancellationToken.None);
        Assert.Equal(VerifyOutcome.Missing, Assert.Single(report.Files).Outcome);
    }

    [Fact]
    public void AddModelStore_RegistersTheStoreAndTheDownloader()
    {
        var dir = TestPaths.NewTempDir();
        var services = new Microsoft.Extensions.DependencyInjection.ServiceCollection();
        services.AddModelStore(dir);
        using var provider = Microsoft.Extensions.DependencyInjection.ServiceCollectionContainerBuilderExtensions.BuildServiceProvider(services);
        var store = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<IModelStore>(provider);
        Assert.Equal(dir, store.Layout.Root);
        Assert.True(File.Exists(Path.Combine(dir, "manifest.db")));
        Assert.NotNull(Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<ModelCache.Downloads.IModelDownloader>(provider));
    }
}

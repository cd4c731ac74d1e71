using InferenceMesh.ContextStore.Rag.Files;

namespace InferenceMesh.ContextStore.Tests.Rag;

public sealed class RagFileStoreTests : IDisposable
{
    private readonly RagFixture _rag = new();

    public void Dispose() => _rag.Dispose();

    [Fact]
    public async Task Opening_the_store_removes_the_uploads_a_killed_process_left_and_keeps_live_ones()
    {
        var kept = await _rag.AddTextFileAsync("Tom has a red ball.");
        using var content = new MemoryStream("Sue has a blue cup."u8.ToArray());
        var live = (await _rag.Files.StageAsync(content, CancellationToken.None)).Value!;
        // What a gateway or files CLI killed in the middle of an upload leaves: a staged file no one holds.
        var abandoned = Path.Combine(_rag.Files.Folder, ".upload-" + Guid.NewGuid().ToString("N"));
        await File.WriteAllBytesAsync(abandoned, new byte[4096]);

        var reopened = new RagFileStore(_rag.Database, _rag.Options, TimeProvider.System);

        Assert.False(File.Exists(abandoned));
        Assert.True(File.Exists(live.TemporaryPath));
        var committed = reopened.Commit(live, "cup.txt", "assistants");
        Assert.True(committed.Succeeded, committed.Error?.Message);
        Assert.Equal("Sue has a blue cup.", await File.ReadAllTextAsync(reopened.PathOf(committed.Value!.Id)));
        Assert.Equal("Tom has a red ball.", await File.ReadAllTextAsync(reopened.PathOf(kept)));
        Assert.Equal(new[] { committed.Value.Id, kept }.Order(StringComparer.Ordinal),
            Directory.EnumerateFileSystemEntries(_rag.Files.Folder).Select(p => Path.GetFileName(p)).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Opening_the_store_removes_content_without_a_row_and_keeps_every_file_with_one_and_a_commit_in_progress()
    {
        var kept = await _rag.AddTextFileAsync("Tom has a red ball.");
        // What a process killed in Commit between the move and the insert leaves: content under a file id, no row.
        var orphan = _rag.Files.PathOf(RagFileStore.NewId());
        await File.WriteAllTextAsync(orphan, "Sue has a blue cup.");
        // A commit in progress (another process): moved into place, row not inserted yet, still held.
        using var content = new MemoryStream("Ann has a green hat."u8.ToArray());
        var live = (await _rag.Files.StageAsync(content, CancellationToken.None)).Value!;
        var moving = _rag.Files.PathOf(RagFileStore.NewId());
        File.Move(live.TemporaryPath, moving);
        // Not ours: another name in the folder is left alone.
        var other = Path.Combine(_rag.Files.Folder, "notes.txt");
        await File.WriteAllTextAsync(other, "x");

        _ = new RagFileStore(_rag.Database, _rag.Options, TimeProvider.System);

        Assert.False(File.Exists(orphan));
        Assert.True(File.Exists(moving));
        Assert.True(File.Exists(other));
        Assert.Equal("Tom has a red ball.", await File.ReadAllTextAsync(_rag.Files.PathOf(kept)));
        Assert.NotNull(_rag.Files.Find(kept));

        live.Lock.Dispose(); // the commit died before its insert: now an orphan too
        _ = new RagFileStore(_rag.Database, _rag.Options, TimeProvider.System);
        Assert.False(File.Exists(moving));
        Assert.True(File.Exists(_rag.Files.PathOf(kept)));
    }
}

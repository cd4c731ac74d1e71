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
}

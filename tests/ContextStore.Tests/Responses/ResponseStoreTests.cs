using InferenceMesh.ContextStore.Responses;
using InferenceMesh.ContextStore.Storage;

namespace InferenceMesh.ContextStore.Tests.Responses;

public sealed class ResponseStoreTests : IDisposable
{
    private static readonly DateTimeOffset At = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "im-resp-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private ResponseStore NewStore() => new(ContextDatabase.Open(new ContextStoreOptions { DataDirectory = _dir }, ResponseMigrations.All));

    private static StoredResponse Turn(string id, string? previous, int privacy) =>
        new(id, previous, At, privacy, $$"""[{"role":"user","content":"{{id}}"}]""", $$"""{"id":"{{id}}"}""");

    [Fact]
    public void A_chain_is_read_oldest_first_and_a_deleted_middle_response_ends_it_there()
    {
        var store = NewStore();
        store.Save(Turn("resp_1", null, 2));
        store.Save(Turn("resp_2", "resp_1", 0));
        store.Save(Turn("resp_3", "resp_2", 0));
        store.Save(Turn("resp_other", null, 0));

        Assert.Equal(["resp_1", "resp_2", "resp_3"], store.Chain("resp_3")!.Select(r => r.Id));
        Assert.Equal(2, store.Chain("resp_3")!.Max(r => r.Privacy));
        Assert.Equal(["resp_other"], store.Chain("resp_other")!.Select(r => r.Id));
        Assert.Null(store.Chain("resp_missing"));
        Assert.Equal("""{"id":"resp_2"}""", store.Get("resp_2")!.Response);

        Assert.True(store.Delete("resp_2"));
        Assert.False(store.Delete("resp_2"));
        Assert.Null(store.Get("resp_2"));
        Assert.Equal(["resp_3"], store.Chain("resp_3")!.Select(r => r.Id));
        Assert.Equal(["resp_1"], store.Chain("resp_1")!.Select(r => r.Id));
    }
}

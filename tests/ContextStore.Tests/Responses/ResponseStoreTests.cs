using InferenceMesh.ContextStore.Conversations;
using InferenceMesh.ContextStore.Responses;
using InferenceMesh.ContextStore.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace InferenceMesh.ContextStore.Tests.Responses;

public sealed class ResponseStoreTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "im-resp-" + Guid.NewGuid().ToString("N"));
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private ResponseStore NewStore(ResponseStoreOptions? options = null) =>
        new(ContextDatabase.Open(new ContextStoreOptions { DataDirectory = _dir }, ResponseMigrations.All), options ?? new ResponseStoreOptions(), _time);

    private StoredResponse Turn(string id, string? previous, int privacy) =>
        new(id, previous, _time.GetUtcNow(), privacy, $$"""[{"role":"user","content":"{{id}}"}]""", $$"""{"id":"{{id}}"}""", $$"""[{"id":"msg_{{id}}"}]""");

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
        Assert.Equal("""[{"id":"msg_resp_2"}]""", store.Get("resp_2")!.InputItems);

        Assert.True(store.Delete("resp_2"));
        Assert.False(store.Delete("resp_2"));
        Assert.Null(store.Get("resp_2"));
        Assert.Equal(["resp_3"], store.Chain("resp_3")!.Select(r => r.Id));
        Assert.Equal(["resp_1"], store.Chain("resp_1")!.Select(r => r.Id));
    }

    [Fact]
    public void A_response_is_never_returned_once_its_retention_has_passed_even_before_it_is_purged()
    {
        var store = NewStore(new ResponseStoreOptions { Retention = TimeSpan.FromDays(2) });
        store.Save(Turn("resp_1", null, 0));
        _time.Advance(TimeSpan.FromDays(1));
        store.Save(Turn("resp_2", "resp_1", 0));
        store.Save(Turn("resp_gone", null, 0));

        _time.Advance(TimeSpan.FromDays(1) - TimeSpan.FromMilliseconds(1)); // resp_1 is 1 ms short of 2 days old
        Assert.NotNull(store.Get("resp_1"));
        Assert.Equal(["resp_1", "resp_2"], store.Chain("resp_2")!.Select(r => r.Id));

        _time.Advance(TimeSpan.FromMilliseconds(2));
        Assert.Null(store.Get("resp_1"));
        Assert.Null(store.Chain("resp_1"));
        Assert.False(store.Delete("resp_1"));
        Assert.Equal(["resp_2"], store.Chain("resp_2")!.Select(r => r.Id)); // the expired turn ends the chain, as a deleted one does
        Assert.Equal(3, RowCount()); // still on disk until the purge

        Assert.Equal(1, store.PurgeExpired());
        Assert.Equal(2, RowCount());
        _time.Advance(TimeSpan.FromDays(1));
        Assert.Null(store.Get("resp_2"));
        Assert.Equal(2, store.PurgeExpired());
        Assert.Equal(0, RowCount());
    }

    [Fact]
    public async Task The_context_stores_retention_service_purges_expired_responses_at_start_and_on_each_interval()
    {
        NewStore().Save(Turn("resp_old", null, 0));
        _time.Advance(TimeSpan.FromDays(29));
        NewStore().Save(Turn("resp_new", null, 0));
        _time.Advance(TimeSpan.FromDays(1) + TimeSpan.FromMinutes(1)); // resp_old is past the default 30 days

        using var host = Host();
        await host.StartAsync(); // purges at start, history retention or not
        Assert.Equal(1, RowCount());

        _time.Advance(TimeSpan.FromDays(29) - TimeSpan.FromHours(2));
        Assert.Equal(1, RowCount());
        _time.Advance(TimeSpan.FromHours(2)); // the first hourly tick after resp_new turned 30 days old
        Assert.Equal(0, RowCount());
        await host.StopAsync();
    }

    [Fact]
    public void A_version_1_database_upgrades_and_its_responses_have_no_input_items()
    {
        using (var old = ContextDatabase.Open(new ContextStoreOptions { DataDirectory = _dir }, ResponseMigrations.All.Take(1)))
        {
            old.Write((connection, transaction) => connection.Execute(transaction,
                "INSERT INTO responses(id, previous_id, created_at, privacy, messages, response) VALUES('resp_v1', NULL, $at, 0, '[]', '{}');",
                ("$at", _time.GetUtcNow().ToUnixTimeMilliseconds())));
        }

        var store = NewStore();
        store.Save(Turn("resp_v2", "resp_v1", 0));

        Assert.Null(store.Get("resp_v1")!.InputItems);
        Assert.Equal([null, """[{"id":"msg_resp_v2"}]"""], store.Chain("resp_v2")!.Select(r => r.InputItems));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void Options_refuse_a_retention_that_is_not_positive(int days)
    {
        var ex = Assert.Throws<ArgumentException>(() => new ServiceCollection().AddResponseStore(new ResponseStoreOptions { Retention = TimeSpan.FromDays(days) }));
        Assert.StartsWith("The response retention must be positive.", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Option_defaults_keep_responses_30_days_as_openai()
    {
        Assert.Equal(TimeSpan.FromDays(30), new ResponseStoreOptions().Retention);
        Assert.Null(new ResponseStoreOptions().Validate());
    }

    private long RowCount()
    {
        using var database = ContextDatabase.Open(new ContextStoreOptions { DataDirectory = _dir }, ResponseMigrations.All);
        return database.Read(c => (long)new SqliteCommand("SELECT count(*) FROM responses;", c).ExecuteScalar()!);
    }

    private IHost Host()
    {
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSingleton<TimeProvider>(_time);
        builder.Services.AddContextStore(new ContextStoreOptions { DataDirectory = _dir });
        builder.Services.AddConversationStore(new ConversationStoreOptions()); // no history retention: responses expire all the same
        builder.Services.AddResponseStore();
        return builder.Build();
    }
}

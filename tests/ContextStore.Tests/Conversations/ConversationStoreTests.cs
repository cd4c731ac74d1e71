using InferenceMesh.ContextStore.Conversations;
using InferenceMesh.ContextStore.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace InferenceMesh.ContextStore.Tests.Conversations;

public sealed class ConversationStoreTests : IDisposable
{
    private static readonly Dictionary<string, string> NoMetadata = [];
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "im-conv-" + Guid.NewGuid().ToString("N"));
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private ConversationStore NewStore(ConversationStoreOptions? options = null) =>
        new(ContextDatabase.Open(new ContextStoreOptions { DataDirectory = _dir }, ConversationMigrations.All), options ?? new ConversationStoreOptions(), _time);

    private static NewConversationItem User(string text) => new("user", text);

    [Fact]
    public void Create_get_update_and_delete_a_conversation_with_its_items()
    {
        var store = NewStore();
        var created = store.Create(new Dictionary<string, string> { ["topic"] = "demo" }, [User("hello")], privacy: 1);

        Assert.True(ConversationDefaults.IsConversationId(created.Id), created.Id);
        Assert.Equal(_time.GetUtcNow(), created.CreatedAt);
        var read = store.Get(created.Id)!;
        Assert.Equal("demo", read.Metadata["topic"]);
        Assert.Equal(1, read.Privacy);
        Assert.Equal("hello", Assert.Single(store.History(created.Id)!.Items).Content);

        _time.Advance(TimeSpan.FromMinutes(1));
        var updated = store.UpdateMetadata(created.Id, new Dictionary<string, string> { ["topic"] = "changed", ["x"] = "y" })!;
        Assert.Equal(2, updated.Metadata.Count);
        Assert.Equal(_time.GetUtcNow(), updated.UpdatedAt);

        Assert.True(store.Delete(created.Id));
        Assert.Null(store.Get(created.Id));
        Assert.Null(store.History(created.Id));
        Assert.False(store.Delete(created.Id));
        Assert.Null(store.UpdateMetadata(created.Id, NoMetadata));
        Assert.Null(store.AddItems(created.Id, [User("late")], 0));
        Assert.Equal(0L, (long)ContextDatabase.Open(new ContextStoreOptions { DataDirectory = _dir }, ConversationMigrations.All)
            .Read(c => new SqliteCommand("SELECT count(*) FROM conversations_items;", c).ExecuteScalar()!));
    }

    [Fact]
    public void Items_page_like_openai_in_both_orders_with_after_and_has_more()
    {
        var store = NewStore();
        var conversation = store.Create(NoMetadata, [], 0);
        var added = Enumerable.Range(0, 5).SelectMany(i => store.AddItems(conversation.Id, [User($"m{i}")], 0)!).ToList();

        var firstAsc = store.ListItems(conversation.Id, new PageRequest(2, ListOrder.Ascending));
        Assert.Equal(["m0", "m1"], firstAsc.Data.Select(i => i.Content));
        Assert.True(firstAsc.HasMore);
        var nextAsc = store.ListItems(conversation.Id, new PageRequest(2, ListOrder.Ascending, firstAsc.Data[^1].Id));
        Assert.Equal(["m2", "m3"], nextAsc.Data.Select(i => i.Content));
        var lastAsc = store.ListItems(conversation.Id, new PageRequest(2, ListOrder.Ascending, nextAsc.Data[^1].Id));
        Assert.Equal(["m4"], lastAsc.Data.Select(i => i.Content));
        Assert.False(lastAsc.HasMore);

        var desc = store.ListItems(conversation.Id, new PageRequest(3, ListOrder.Descending, added[4].Id));
        Assert.Equal(["m3", "m2", "m1"], desc.Data.Select(i => i.Content));
        Assert.True(desc.HasMore);

        Assert.Equal(PageStatus.UnknownCursor, store.ListItems(conversation.Id, new PageRequest(After: "msg_" + new string('0', 32))).Status);
        Assert.Equal(PageStatus.NotFound, store.ListItems("conv_" + new string('0', 32), new PageRequest()).Status);

        // An item id of another conversation is no cursor here.
        var other = store.Create(NoMetadata, [User("elsewhere")], 0);
        var foreign = store.History(other.Id)!.Items[0].Id;
        Assert.Equal(PageStatus.UnknownCursor, store.ListItems(conversation.Id, new PageRequest(After: foreign)).Status);
        Assert.Null(store.GetItem(conversation.Id, foreign));
        Assert.False(store.DeleteItem(conversation.Id, foreign));
    }

    [Fact]
    public void Conversations_list_by_creation_with_paging()
    {
        var store = NewStore();
        var ids = Enumerable.Range(0, 3).Select(_ => store.Create(NoMetadata, [], 0).Id).ToList();

        var page = store.List(new PageRequest(2, ListOrder.Descending));
        Assert.Equal([ids[2], ids[1]], page.Data.Select(c => c.Id));
        Assert.True(page.HasMore);
        var rest = store.List(new PageRequest(2, ListOrder.Descending, page.Data[^1].Id));
        Assert.Equal([ids[0]], rest.Data.Select(c => c.Id));
        Assert.False(rest.HasMore);
    }

    [Fact]
    public void The_privacy_level_only_rises_and_survives_deleting_the_item_that_raised_it()
    {
        var store = NewStore();
        var conversation = store.Create(NoMetadata, [User("public")], 0);
        var secret = store.AddItems(conversation.Id, [User("secret")], privacy: 2)!.Single();
        store.AddItems(conversation.Id, [User("harmless")], privacy: 0);
        Assert.Equal(2, store.Get(conversation.Id)!.Privacy);

        Assert.True(store.DeleteItem(conversation.Id, secret.Id));
        Assert.Null(store.GetItem(conversation.Id, secret.Id));
        Assert.Equal(2, store.History(conversation.Id)!.Conversation.Privacy);
        Assert.Equal(["public", "harmless"], store.History(conversation.Id)!.Items.Select(i => i.Content));
    }

    [Fact]
    public async Task Retention_purges_old_items_and_idle_conversations_at_start_and_on_each_interval()
    {
        var options = new ConversationStoreOptions { Retention = TimeSpan.FromDays(7), PurgeInterval = TimeSpan.FromHours(1) };
        var old = NewStore(options).Create(NoMetadata, [User("old")], 0);
        var kept = NewStore(options).Create(NoMetadata, [User("kept-old")], 0);
        _time.Advance(TimeSpan.FromDays(6));
        NewStore(options).AddItems(kept.Id, [User("kept-new")], 0);
        _time.Advance(TimeSpan.FromDays(1) + TimeSpan.FromMinutes(1));

        using var host = Host(options);
        await host.StartAsync(); // purges at start
        var store = host.Services.GetRequiredService<IConversationStore>();
        Assert.Null(store.Get(old.Id));
        Assert.Equal(["kept-new"], store.History(kept.Id)!.Items.Select(i => i.Content));

        // Nothing more is due until the retention passes the newer item; then the next tick purges it and its conversation.
        _time.Advance(TimeSpan.FromDays(5));
        Assert.NotNull(store.Get(kept.Id));
        _time.Advance(TimeSpan.FromDays(1));
        Assert.Null(store.Get(kept.Id));
        await host.StopAsync();
    }

    [Fact]
    public void Without_a_retention_nothing_is_purged()
    {
        var store = NewStore();
        var conversation = store.Create(NoMetadata, [User("forever")], 0);
        _time.Advance(TimeSpan.FromDays(3650));
        Assert.Equal(default, store.PurgeExpired());
        Assert.NotNull(store.Get(conversation.Id));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void Options_refuse_a_retention_that_is_not_positive(int days)
    {
        var ex = Assert.Throws<ArgumentException>(() => new ServiceCollection().AddConversationStore(new ConversationStoreOptions { Retention = TimeSpan.FromDays(days) }));
        Assert.StartsWith("The history retention must be positive.", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_refuse_a_purge_interval_that_is_not_positive()
    {
        var ex = Assert.Throws<ArgumentException>(() => new ServiceCollection().AddConversationStore(new ConversationStoreOptions { PurgeInterval = TimeSpan.Zero }));
        Assert.StartsWith("The purge interval must be positive.", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Option_defaults_keep_history_forever_and_purge_hourly()
    {
        var options = new ConversationStoreOptions();
        Assert.True(options.Enabled);
        Assert.Null(options.Retention);
        Assert.Equal(TimeSpan.FromHours(1), options.PurgeInterval);
        Assert.Null(options.Validate());
    }

    [Fact]
    public void A_database_of_version_2_upgrades_with_its_items_as_messages_and_then_keeps_tool_calls()
    {
        string id;
        using (var old = ContextDatabase.Open(new ContextStoreOptions { DataDirectory = _dir }, ConversationMigrations.All.Take(2)))
        {
            id = ConversationStore.NewId(ConversationDefaults.ConversationIdPrefix);
            old.Write((connection, transaction) =>
            {
                var seq = (long)connection.Scalar(transaction,
                    "INSERT INTO conversations(id, created_at, updated_at, metadata, privacy) VALUES($id, 0, 0, '{}', 0) RETURNING seq;", ("$id", id))!;
                return connection.Execute(transaction,
                    "INSERT INTO conversations_items(id, conversation_seq, role, content, created_at, backend, privacy) VALUES('msg_old', $c, 'user', 'hello', 0, NULL, 0);",
                    ("$c", seq));
            });
        }

        var store = NewStore();
        store.AddItems(id,
            [NewConversationItem.FunctionCall("call_1", "get_weather", """{"city":"Paris"}""", "cloud-a"), NewConversationItem.FunctionCallOutput("call_1", "18 C")], privacy: 0);

        Assert.Equal(
            [
                ("user", "hello", ConversationItemTypes.Message, (string?)null, (string?)null, (string?)null),
                ("assistant", """{"city":"Paris"}""", ConversationItemTypes.FunctionCall, "call_1", "get_weather", "cloud-a"),
                ("tool", "18 C", ConversationItemTypes.FunctionCallOutput, "call_1", null, null),
            ],
            store.History(id)!.Items.Select(i => (i.Role, i.Content, i.Type, i.CallId, i.Name, i.Backend)));
    }

    [Fact]
    public async Task The_host_runs_the_migrations_at_start_and_records_the_version()
    {
        using var host = Host(new ConversationStoreOptions());
        await host.StartAsync();
        var database = host.Services.GetRequiredService<ContextDatabase>();
        Assert.Equal(3, database.SchemaVersion(ConversationDefaults.Module));
        Assert.True(File.Exists(Path.Combine(_dir, ContextDatabase.FileName)));
        await host.StopAsync();
    }

    private IHost Host(ConversationStoreOptions options)
    {
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSingleton<TimeProvider>(_time);
        builder.Services.AddContextStore(new ContextStoreOptions { DataDirectory = _dir });
        builder.Services.AddConversationStore(options);
        return builder.Build();
    }
}

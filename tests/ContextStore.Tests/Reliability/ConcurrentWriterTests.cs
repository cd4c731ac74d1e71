using InferenceMesh.ContextStore.Conversations;
using InferenceMesh.ContextStore.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;

namespace InferenceMesh.ContextStore.Tests.Reliability;

/// <summary>Many writers at once on one database file: none fails with "database is locked", none loses a row.</summary>
public sealed class ConcurrentWriterTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "im-writers-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void Fifty_concurrent_writers_each_on_its_own_connection_lose_no_row_and_never_see_a_locked_database()
    {
        const int writers = 50;
        const int itemsPerWriter = 20;
        var options = new ContextStoreOptions { DataDirectory = _dir };
        var time = new FakeTimeProvider();
        // Disposed (its pool cleared) only after every writer has finished: clearing a pool in use races in Microsoft.Data.Sqlite.
        using var database = ContextDatabase.Open(options, ConversationMigrations.All);
        var setup = new ConversationStore(database, new ConversationStoreOptions(), time);
        var conversation = setup.Create(new Dictionary<string, string>(), [], 0);

        var failures = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        using var start = new Barrier(writers);
        var threads = Enumerable.Range(0, writers).Select(w => new Thread(() =>
        {
            try
            {
                // Each writer opens the database itself (its own connections) and starts at the same moment as the others.
                var store = new ConversationStore(ContextDatabase.Open(options, ConversationMigrations.All), new ConversationStoreOptions(), time);
                start.SignalAndWait();
                for (var i = 0; i < itemsPerWriter; i++)
                {
                    store.AddItems(conversation.Id, [new NewConversationItem("user", $"w{w}-{i}")], privacy: i % 4);
                }
            }
            catch (Exception ex)
            {
                failures.Enqueue(ex);
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());

        Assert.True(failures.IsEmpty, string.Join("\n", failures.Select(f => f.Message)));
        var history = setup.History(conversation.Id)!;
        Assert.Equal(writers * itemsPerWriter, history.Items.Count);
        Assert.Equal(writers * itemsPerWriter, history.Items.Select(i => i.Content).Distinct().Count());
        Assert.Equal(3, history.Conversation.Privacy);
        Assert.Equal("ok", ContextDatabase.Open(options, ConversationMigrations.All).IntegrityCheck());
    }
}

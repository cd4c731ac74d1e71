using System.Diagnostics;
using InferenceMesh.ContextStore.Conversations;
using InferenceMesh.ContextStore.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;

namespace InferenceMesh.ContextStore.Tests.Reliability;

/// <summary>
/// A real writer process (tests/ContextStore.CrashWriter, copied beside the tests) killed with SIGKILL in the middle
/// of its writes, several times in a row on the same database: afterwards <c>PRAGMA integrity_check</c> is ok and every
/// write it acknowledged is there.
/// </summary>
public sealed class CrashTests : IDisposable
{
    private const int Rounds = 3;
    private const int AcksBeforeKill = 40;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "im-crash-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task A_writer_killed_mid_write_leaves_a_sound_database_with_every_acknowledged_item()
    {
        var acknowledged = new List<string>();
        for (var round = 0; round < Rounds; round++)
        {
            acknowledged.AddRange(await RunAndKillAsync());

            // Reopened after each kill, as the gateway would be: sound, and nothing acknowledged is missing.
            var database = ContextDatabase.Open(new ContextStoreOptions { DataDirectory = _dir }, ConversationMigrations.All);
            Assert.Equal("ok", database.IntegrityCheck());
            var present = database.Read(connection =>
            {
                using var command = new SqliteCommand("SELECT id FROM conversations_items;", connection);
                using var reader = command.ExecuteReader();
                var ids = new HashSet<string>(StringComparer.Ordinal);
                while (reader.Read()) ids.Add(reader.GetString(0));
                return ids;
            });
            var missing = acknowledged.Where(id => !present.Contains(id)).ToList();
            Assert.True(missing.Count == 0, $"round {round}: {missing.Count} acknowledged item(s) lost");
            database.Dispose();
        }

        // The store still works on the database the kills left behind.
        var store = new ConversationStore(
            ContextDatabase.Open(new ContextStoreOptions { DataDirectory = _dir }, ConversationMigrations.All), new ConversationStoreOptions(), new FakeTimeProvider());
        var conversation = store.Create(new Dictionary<string, string>(), [new NewConversationItem("user", "after the crashes")], 0);
        Assert.Single(store.History(conversation.Id)!.Items);
    }

    /// <summary>Starts the writer, reads acknowledgements until enough came, kills it with SIGKILL while it writes; returns the acknowledged ids.</summary>
    private async Task<List<string>> RunAndKillAsync()
    {
        var tool = Path.Combine(AppContext.BaseDirectory, "InferenceMesh.ContextStore.CrashWriter.dll");
        Assert.True(File.Exists(tool), tool);
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(tool);
        start.ArgumentList.Add(_dir);
        start.ArgumentList.Add("4");
        using var process = Process.Start(start)!;
        var acks = new List<string>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        try
        {
            while (acks.Count < AcksBeforeKill)
            {
                var line = await process.StandardOutput.ReadLineAsync(timeout.Token);
                if (line is null)
                {
                    Assert.Fail("The writer ended before it was killed: " + await process.StandardError.ReadToEndAsync());
                }

                if (line!.StartsWith("ack ", StringComparison.Ordinal))
                {
                    acks.Add(line[4..]);
                }
            }
        }
        finally
        {
            // Process.Kill is SIGKILL on Unix: no finally block, no flush, no checkpoint in the child.
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
        }

        // Acknowledgements written before the kill but not read yet also count.
        while (await process.StandardOutput.ReadLineAsync(CancellationToken.None) is { } rest)
        {
            if (rest.StartsWith("ack ", StringComparison.Ordinal) && rest.Length > 4)
            {
                acks.Add(rest[4..]);
            }
        }

        Assert.Equal(137, process.ExitCode); // 128 + SIGKILL
        return acks;
    }
}

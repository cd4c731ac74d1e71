using InferenceMesh.Gateway.Hosting;
using InferenceMesh.Gateway.Tests.Common;
using InferenceMesh.Tests;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace InferenceMesh.Gateway.Tests.Context;

/// <summary>The context store in the gateway's start-up: migrations run at start, a newer database is refused, and the history flags.</summary>
public sealed class ContextStoreHostingTests : IDisposable
{
    private readonly string _data = TestPaths.NewTempDir("im-ctxhost");

    public void Dispose()
    {
        Directory.Delete(_data, recursive: true);
    }

    private List<(string Module, long Version)> Versions()
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(_data, "context.db")};Pooling=False");
        connection.Open();
        using var command = new SqliteCommand("SELECT module, version FROM schema_migrations ORDER BY module, version;", connection);
        using var reader = command.ExecuteReader();
        var rows = new List<(string, long)>();
        while (reader.Read()) rows.Add((reader.GetString(0), reader.GetInt64(1)));
        return rows;
    }

    [Fact]
    public async Task The_gateway_runs_the_versioned_migrations_when_it_starts_and_only_once()
    {
        await using (await TestEnvironment.StartAsync(env => env.DataDirectory = _data))
        {
            // No request was made: the migrations ran at start.
            Assert.Contains(("conversations", 1L), Versions());
            Assert.Contains(("presets", 1L), Versions());
        }

        var before = Versions();
        await using (await TestEnvironment.StartAsync(env => env.DataDirectory = _data))
        {
            Assert.Equal(before, Versions());
        }
    }

    [Fact]
    public async Task A_database_from_a_newer_build_stops_the_start_with_a_clear_message()
    {
        await using (await TestEnvironment.StartAsync(env => env.DataDirectory = _data))
        {
        }

        using (var connection = new SqliteConnection($"Data Source={Path.Combine(_data, "context.db")};Pooling=False"))
        {
            connection.Open();
            using var insert = new SqliteCommand("INSERT INTO schema_migrations(module, version, applied_utc) VALUES('conversations', 99, 'later');", connection);
            insert.ExecuteNonQuery();
        }

        await using var app = GatewayApp.Build(["--models", TestPaths.ModelsDir, "--port", "0", "--data", _data]);
        var ex = await Assert.ThrowsAsync<InferenceMesh.ContextStore.Storage.ContextStoreOpenException>(() => app.StartAsync());
        Assert.Contains("conversations schema version 99", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message); // one line for the console (Program.cs prints it, exit code 2)
    }

    [Fact]
    public async Task A_models_manifest_that_is_not_a_database_stops_the_start_with_a_clear_message()
    {
        var models = TestPaths.NewTempDir("im-badmanifest");
        File.Copy(TestPaths.Stories260K, Path.Combine(models, "stories260K.gguf"));
        File.WriteAllText(Path.Combine(models, "manifest.db"), new string('x', 4096));

        // Was an unhandled SqliteException with its stack trace (exit 134).
        await using var app = GatewayApp.Build(["--models", models, "--port", "0", "--data", _data]);
        var ex = await Assert.ThrowsAsync<InferenceMesh.ModelCache.Store.ModelStoreOpenException>(() => app.StartAsync());
        Assert.Contains("'file is not a database'", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message); // one line for the console (Program.cs prints it, exit code 2)
    }

    [Theory]
    [InlineData("data", "context.db", "The context store '")]
    [InlineData("models", "manifest.db", "The models folder's manifest '")]
    public async Task A_database_the_gateway_cannot_open_is_one_line_from_the_process_and_no_stack_trace(string folder, string file, string says)
    {
        var models = TestPaths.NewTempDir("im-models");
        File.Copy(TestPaths.Stories260K, Path.Combine(models, "stories260K.gguf"));
        var damaged = Path.Combine(folder == "data" ? _data : models, file);
        File.WriteAllText(damaged, new string('x', 4096));

        // The real executable: the host used to log its start failure, with the exception's stack trace, above our line.
        var (exitCode, lines) = await GatewayProcess.RunToExitAsync(["--models", models, "--data", _data, "--port", "0"]);

        Assert.Equal(2, exitCode);
        Assert.StartsWith($"inference-mesh: {says}{damaged}' cannot be opened: SQLite Error 26", Assert.Single(lines), StringComparison.Ordinal);
    }

    [Fact]
    public async Task History_older_than_the_retention_flag_is_purged_on_the_gateways_clock()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var gateway = await TestEnvironment.StartAsync(env =>
        {
            env.DataDirectory = _data;
            env.ExtraArgs.AddRange(["--history-retention-days", "2"]);
            env.ConfigureBuilder = builder => builder.Services.AddSingleton<TimeProvider>(time);
        });
        var old = await ContextHttp.CreateConversationAsync(gateway.Http, """{"items":[{"role":"user","content":"old"}]}""");
        time.Advance(TimeSpan.FromDays(1));
        var recent = await ContextHttp.CreateConversationAsync(gateway.Http, """{"items":[{"role":"user","content":"recent"}]}""");

        time.Advance(TimeSpan.FromDays(1) + TimeSpan.FromHours(1)); // the hourly purge runs on the way
        await ContextHttp.ErrorAsync(gateway.Http, HttpMethod.Get, $"/v1/conversations/{old}", null, System.Net.HttpStatusCode.NotFound);
        Assert.Equal("recent", Assert.Single(await ContextHttp.ItemsAsync(gateway.Http, recent)).Text);
    }

    [Fact]
    public void History_flags_parse_validate_and_are_documented()
    {
        var defaults = GatewayCommandLine.Parse([]).Options!;
        Assert.True(defaults.HistoryEnabled);
        Assert.Null(defaults.HistoryRetentionDays);

        var parsed = GatewayCommandLine.Parse(["--no-history", "--history-retention-days", "30", "--port", "0"]).Options!;
        Assert.False(parsed.HistoryEnabled);
        Assert.Equal(30, parsed.HistoryRetentionDays);
        Assert.Equal(0, parsed.Port);

        Assert.Equal("--history-retention-days must be from 1 to 36500 (got 0).", GatewayCommandLine.Parse(["--history-retention-days", "0"]).Error);
        Assert.Equal("--history-retention-days must be an integer (got 'week').", GatewayCommandLine.Parse(["--history-retention-days=week"]).Error);
        Assert.Contains("--no-history", GatewayCommandLine.Usage, StringComparison.Ordinal);
        Assert.Contains("--history-retention-days N", GatewayCommandLine.Usage, StringComparison.Ordinal);
    }
}

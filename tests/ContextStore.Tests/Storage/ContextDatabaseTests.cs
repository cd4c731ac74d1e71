using InferenceMesh.ContextStore.Storage;
using Microsoft.Data.Sqlite;

namespace InferenceMesh.ContextStore.Tests.Storage;

public sealed class ContextDatabaseTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "im-ctxdb-" + Guid.NewGuid().ToString("N"));

    private ContextStoreOptions Options => new() { DataDirectory = _dir };

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void Open_applies_each_modules_migrations_once_and_records_versions()
    {
        ContextMigration[] v1 = [new("a", 1, "CREATE TABLE a1(x INTEGER) STRICT;"), new("b", 1, "CREATE TABLE b1(x INTEGER) STRICT;")];
        var db = ContextDatabase.Open(Options, v1);
        Assert.Equal(1, db.SchemaVersion("a"));
        Assert.Equal(1, db.SchemaVersion("b"));

        // A second open with one more step for module a applies only that step (a1 would fail to be created twice).
        ContextMigration[] v2 = [.. v1, new("a", 2, "ALTER TABLE a1 ADD COLUMN y TEXT;")];
        db = ContextDatabase.Open(Options, v2);
        Assert.Equal(2, db.SchemaVersion("a"));
        Assert.Equal(1, db.SchemaVersion("b"));
        db.Write((c, t) =>
        {
            using var insert = c.CreateCommand();
            insert.Transaction = t;
            insert.CommandText = "INSERT INTO a1(x, y) VALUES(1, 'one');";
            return insert.ExecuteNonQuery();
        });
        Assert.Equal("one", db.Read(c =>
        {
            using var select = c.CreateCommand();
            select.CommandText = "SELECT y FROM a1;";
            return (string?)select.ExecuteScalar();
        }));
        Assert.Equal("ok", db.IntegrityCheck());
    }

    [Fact]
    public void Open_refuses_a_database_from_a_newer_build()
    {
        ContextDatabase.Open(Options, [new("a", 1, "CREATE TABLE a1(x INTEGER);"), new("a", 2, "CREATE TABLE a2(x INTEGER);")]);
        var ex = Assert.Throws<InvalidOperationException>(() => ContextDatabase.Open(Options, [new("a", 1, "CREATE TABLE a1(x INTEGER);")]));
        Assert.Contains("schema version 2", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_failing_migration_rolls_back_and_leaves_the_version()
    {
        Assert.ThrowsAny<SqliteException>(() => ContextDatabase.Open(Options, [new("a", 1, "CREATE TABLE a1(x INTEGER); CREATE TABLE a1(x INTEGER);")]));
        var db = ContextDatabase.Open(Options, [new("a", 1, "CREATE TABLE a1(x INTEGER);")]);
        Assert.Equal(1, db.SchemaVersion("a"));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(0)]
    public void Migration_numbers_must_start_at_one_without_gaps(int version)
    {
        Assert.Throws<ArgumentException>(() => ContextDatabase.Open(Options, [new("a", version, "SELECT 1;")]));
    }

    [Fact]
    public void A_failed_write_is_rolled_back()
    {
        var db = ContextDatabase.Open(Options, [new("a", 1, "CREATE TABLE a1(x INTEGER NOT NULL) STRICT;")]);
        Assert.ThrowsAny<InvalidOperationException>(() => db.Write<int>((c, t) =>
        {
            using var insert = c.CreateCommand();
            insert.Transaction = t;
            insert.CommandText = "INSERT INTO a1(x) VALUES(1);";
            insert.ExecuteNonQuery();
            throw new InvalidOperationException("abort");
        }));
        Assert.Equal(0L, db.Read(c =>
        {
            using var count = c.CreateCommand();
            count.CommandText = "SELECT count(*) FROM a1;";
            return (long)count.ExecuteScalar()!;
        }));
    }
}

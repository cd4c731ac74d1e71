using InferenceMesh.ContextStore.Conversations;
using InferenceMesh.ContextStore.Storage;
using Microsoft.Data.Sqlite;

namespace InferenceMesh.ContextStore.Presets;

/// <summary><see cref="IPresetStore"/> on the context database (table <c>presets</c>).</summary>
internal sealed class PresetStore(ContextDatabase database, TimeProvider time) : IPresetStore
{
    private const string Columns = "name, instructions, model, temperature, top_p, max_tokens, metadata, created_at, updated_at";

    public Preset? Create(string name, PresetDefinition definition)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        return database.Write((connection, transaction) =>
        {
            var inserted = connection.Execute(transaction,
                $"INSERT INTO presets({Columns}) VALUES($name, $instructions, $model, $temperature, $top_p, $max_tokens, $metadata, $now, $now) ON CONFLICT(name) DO NOTHING;",
                [("$name", name), ("$now", now), .. Parameters(definition)]);
            return inserted == 0 ? null : new Preset(name, definition, FromMs(now), FromMs(now));
        });
    }

    public Preset? Get(string name) => database.Read(connection =>
        connection.Query(null, $"SELECT {Columns} FROM presets WHERE name = $name;", Read, ("$name", name)).FirstOrDefault());

    public IReadOnlyList<Preset> List() => database.Read(connection =>
        connection.Query(null, $"SELECT {Columns} FROM presets ORDER BY name;", Read));

    public Preset? Update(string name, PresetDefinition definition)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        return database.Write((connection, transaction) =>
        {
            var changed = connection.Execute(transaction,
                "UPDATE presets SET instructions = $instructions, model = $model, temperature = $temperature, top_p = $top_p, max_tokens = $max_tokens, metadata = $metadata, updated_at = $now WHERE name = $name;",
                [("$name", name), ("$now", now), .. Parameters(definition)]);
            return changed == 0 ? null : connection.Query(transaction, $"SELECT {Columns} FROM presets WHERE name = $name;", Read, ("$name", name)).Single();
        });
    }

    public bool Delete(string name) =>
        database.Write((connection, transaction) => connection.Execute(transaction, "DELETE FROM presets WHERE name = $name;", ("$name", name)) > 0);

    private static (string, object?)[] Parameters(PresetDefinition d) =>
    [
        ("$instructions", d.Instructions), ("$model", d.Model), ("$temperature", d.Temperature), ("$top_p", d.TopP),
        ("$max_tokens", d.MaxTokens), ("$metadata", MetadataJson.Write(d.Metadata)),
    ];

    private static Preset Read(SqliteDataReader r) => new(
        r.GetString(0),
        new PresetDefinition(
            r.IsDBNull(1) ? null : r.GetString(1), r.GetString(2), r.IsDBNull(3) ? null : r.GetDouble(3), r.IsDBNull(4) ? null : r.GetDouble(4),
            r.IsDBNull(5) ? null : r.GetInt32(5), MetadataJson.Read(r.GetString(6))),
        FromMs(r.GetInt64(7)), FromMs(r.GetInt64(8)));

    private static DateTimeOffset FromMs(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);
}

/// <summary>The preset module's schema, version by version.</summary>
internal static class PresetMigrations
{
    public static IReadOnlyList<ContextMigration> All { get; } =
    [
        new(PresetDefaults.Module, 1, """
            CREATE TABLE presets(
                name TEXT PRIMARY KEY,
                instructions TEXT,
                model TEXT NOT NULL,
                temperature REAL,
                top_p REAL,
                max_tokens INTEGER,
                metadata TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL) STRICT;
            """),
    ];
}

namespace InferenceMesh.ContextStore.Storage;

/// <summary>Where and how the context store keeps its data.</summary>
public sealed record ContextStoreOptions
{
    /// <summary>The data folder; <c>context.db</c> lives in it. Required.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>How long SQLite waits for a competing writer before giving up. The default value is 30 s.</summary>
    public TimeSpan BusyTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// SQLite extension libraries (paths) loaded on every connection, e.g. sqlite-vec. One that cannot be loaded does not
    /// stop the database: it is left out and <see cref="ContextDatabase.ExtensionError"/> says why, so only the module
    /// that needs it fails (at first use, with that message). The default value is empty.
    /// </summary>
    public IReadOnlyList<string> Extensions { get; init; } = [];

    /// <summary>The database file's path.</summary>
    public string DatabasePath => Path.Combine(DataDirectory, ContextDatabase.FileName);
}

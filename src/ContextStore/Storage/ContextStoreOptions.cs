namespace InferenceMesh.ContextStore.Storage;

/// <summary>Where and how the context store keeps its data.</summary>
public sealed record ContextStoreOptions
{
    /// <summary>The data folder; <c>context.db</c> lives in it. Required.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>How long SQLite waits for a competing writer before giving up. The default value is 30 s.</summary>
    public TimeSpan BusyTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The database file's path.</summary>
    public string DatabasePath => Path.Combine(DataDirectory, ContextDatabase.FileName);
}

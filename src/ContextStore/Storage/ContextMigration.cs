namespace InferenceMesh.ContextStore.Storage;

/// <summary>
/// One schema step of one module (conversations, files, vector stores, …). Versions of a module start at 1 and
/// grow by one; a database records the last version applied per module, so modules migrate independently.
/// </summary>
/// <param name="Module">A short lowercase name, e.g. "conversations".</param>
/// <param name="Version">1, 2, 3, … within the module.</param>
/// <param name="Sql">Statements run in the migration's transaction.</param>
public sealed record ContextMigration(string Module, int Version, string Sql);

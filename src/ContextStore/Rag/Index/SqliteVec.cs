namespace InferenceMesh.ContextStore.Rag.Index;

/// <summary>Where the sqlite-vec extension (vec0.so, v0.1.9, fetched from npm by the build) is placed beside the program.</summary>
public static class SqliteVec
{
    public const string Version = "0.1.9";

    /// <summary><c>{app}/native/linux-x64/vec0.so</c>; <c>INFERENCE_MESH_SQLITE_VEC</c> overrides it.</summary>
    public static string LibraryPath =>
        Environment.GetEnvironmentVariable("INFERENCE_MESH_SQLITE_VEC") is { Length: > 0 } path
            ? path
            : Path.Combine(AppContext.BaseDirectory, "native", "linux-x64", "vec0.so");
}

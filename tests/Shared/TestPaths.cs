namespace InferenceMesh.Tests;

/// <summary>Finds the repository root, the shared test models and the pinned llama.cpp source.</summary>
internal static class TestPaths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The shared models folder: $INFERENCE_MESH_TEST_MODELS, else ../shared/models from the repository root.</summary>
    public static string ModelsDir =>
        Environment.GetEnvironmentVariable("INFERENCE_MESH_TEST_MODELS") is { Length: > 0 } dir
            ? dir
            : Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "models"));

    /// <summary>The path of a shared test model; fails (never skips) with a clear message when it is missing.</summary>
    public static string Model(string fileName)
    {
        var path = Path.Combine(ModelsDir, fileName);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException(
                $"Test model '{fileName}' not found in '{ModelsDir}'. Tests need ../shared/models beside the repository (or INFERENCE_MESH_TEST_MODELS).",
                path);
        }

        return path;
    }

    public static string Stories260K => Model("stories260K.gguf");

    /// <summary>The greedy continuation of "Once upon a time" by stories260K with llama.cpp v0.5.0 (from shared/models/README.md).</summary>
    public const string Stories260KGreedyContinuation =
        ", there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball.";

    /// <summary>A fresh folder under the system temp folder, owned by one test.</summary>
    public static string NewTempDir(string prefix = "im-test")
    {
        var dir = Path.Combine(Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "InferenceMesh.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"InferenceMesh.sln not found above {AppContext.BaseDirectory}");
    }
}

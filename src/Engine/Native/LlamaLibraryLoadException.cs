namespace InferenceMesh.Engine.Native;

/// <summary>
/// The llama.cpp native libraries could not be loaded or initialised. The message lists every path tried
/// and why it failed; <see cref="Exception.InnerException"/> is the original error when there is one.
/// </summary>
public sealed class LlamaLibraryLoadException : Exception
{
    public LlamaLibraryLoadException(string message)
        : base(message)
    {
        Directory = string.Empty;
        PathsTried = [];
    }

    public LlamaLibraryLoadException(string message, Exception? innerException)
        : base(message, innerException)
    {
        Directory = string.Empty;
        PathsTried = [];
    }

    internal LlamaLibraryLoadException(string message, string directory, IReadOnlyList<string> pathsTried, Exception? innerException)
        : base(message, innerException)
    {
        Directory = directory;
        PathsTried = pathsTried;
    }

    /// <summary>The folder the libraries were looked for in.</summary>
    public string Directory { get; }

    /// <summary>Every path that was tried, in order.</summary>
    public IReadOnlyList<string> PathsTried { get; }
}

namespace InferenceMesh.Engine;

/// <summary>A model file the host may load. The catalog validates the GGUF before it hands one over.</summary>
public sealed record ModelSource(string Id, string Path, long SizeBytes);

/// <summary>
/// Loads models on first use and unloads the least recently used idle model when the memory budget
/// would be exceeded. Thread-safe.
/// </summary>
public interface IModelHost : IAsyncDisposable
{
    /// <summary>Returns the loaded model, loading it first when needed. Concurrent callers share one load.</summary>
    ValueTask<EngineResult<ILoadedModel>> GetOrLoadAsync(ModelSource source, CancellationToken cancellationToken = default);

    /// <summary>Models currently loaded, with their scheduler state.</summary>
    IReadOnlyList<SchedulerStatus> GetLoadedStatus();
}

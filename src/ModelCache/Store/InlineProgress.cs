namespace InferenceMesh.ModelCache.Store;

/// <summary>An <see cref="IProgress{T}"/> that reports on the calling thread, in order (Progress&lt;T&gt; posts to the pool).</summary>
internal sealed class InlineProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}

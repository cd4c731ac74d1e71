using System.Collections.Concurrent;
using InferenceMesh.Engine.Native;
using Microsoft.Extensions.Logging;

namespace InferenceMesh.Engine.Hosting;

/// <summary>
/// Loads models on first use (one load per model, shared by concurrent callers) and unloads the least
/// recently used idle model when the next one would not fit the memory budget.
/// </summary>
internal sealed partial class LocalModelHost : IModelHost
{
    private readonly EngineOptions _options;
    private readonly ILogger<LocalModelHost> _logger;
    private readonly ConcurrentDictionary<string, Lazy<Task<EngineResult<LlamaLoadedModel>>>> _models = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _loadLock = new(1, 1);
    private readonly Lazy<LlamaLibraryInfo> _library;
    private int _disposed;

    public LocalModelHost(EngineOptions options, ILogger<LocalModelHost> logger, ILoggerFactory loggerFactory)
    {
        _options = options;
        _logger = logger;
        var nativeLogger = loggerFactory.CreateLogger("InferenceMesh.Engine.LlamaCpp");
        _library = new Lazy<LlamaLibraryInfo>(() => LlamaLibrary.Initialize(nativeLogger, options.NativeDirectory), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>Loads the native libraries now (at start-up) so a broken install shows at once, not on the first request.</summary>
    public LlamaLibraryInfo InitializeNative() => _library.Value;

    public async ValueTask<EngineResult<ILoadedModel>> GetOrLoadAsync(ModelSource source, CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return EngineResult<ILoadedModel>.Fail(EngineError.ShuttingDown, "The engine is shutting down.");
        }

        var entry = _models.GetOrAdd(source.Id, _ => new Lazy<Task<EngineResult<LlamaLoadedModel>>>(() => LoadAsync(source)));
        var result = await entry.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            // A failed load is not cached: the file may be replaced.
            _models.TryRemove(new KeyValuePair<string, Lazy<Task<EngineResult<LlamaLoadedModel>>>>(source.Id, entry));
            return EngineResult<ILoadedModel>.Fail(result.Failure!);
        }

        var model = result.Value!;
        if (!string.Equals(model.Source.Path, source.Path, StringComparison.Ordinal) || model.Source.SizeBytes != source.SizeBytes)
        {
            // The file behind this id changed: serve the new one once the old one is idle.
            if (model.IsIdle && _models.TryRemove(new KeyValuePair<string, Lazy<Task<EngineResult<LlamaLoadedModel>>>>(source.Id, entry)))
            {
                model.Dispose();
                return await GetOrLoadAsync(source, cancellationToken).ConfigureAwait(false);
            }
        }

        return EngineResult<ILoadedModel>.Ok(model);
    }

    public IReadOnlyList<SchedulerStatus> GetLoadedStatus()
        => LoadedModels().Select(m => m.GetStatus()).ToArray();

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return ValueTask.CompletedTask;
        }

        foreach (var model in LoadedModels())
        {
            model.Dispose();
        }

        _models.Clear();
        _loadLock.Dispose();
        return ValueTask.CompletedTask;
    }

    private IEnumerable<LlamaLoadedModel> LoadedModels()
        => _models.Values
            .Where(l => l.IsValueCreated && l.Value.IsCompletedSuccessfully && l.Value.Result.Succeeded)
            .Select(l => l.Value.Result.Value!);

    private async Task<EngineResult<LlamaLoadedModel>> LoadAsync(ModelSource source)
    {
        await _loadLock.WaitAsync().ConfigureAwait(false);
        try
        {
            try
            {
                _library.Value.ToString();
            }
            catch (LlamaLibraryLoadException ex)
            {
                LogNativeUnavailable(_logger, ex);
                return EngineResult<LlamaLoadedModel>.Fail(EngineError.ModelLoadFailed, "The local engine's native libraries could not be loaded; see the gateway log.");
            }

            if (_options.FileCheck?.Invoke(source.Path) is { } invalid)
            {
                LogFileRefused(_logger, source.Id, invalid);
                return EngineResult<LlamaLoadedModel>.Fail(EngineError.ModelLoadFailed, $"The model file failed validation: {invalid}.");
            }

            MakeRoomFor(source);
            LogLoading(_logger, source.Id, source.SizeBytes / (1024 * 1024));
            return await Task.Run(() => LlamaLoadedModel.Load(source, _options, _logger)).ConfigureAwait(false);
        }
        finally
        {
            _loadLock.Release();
        }
    }

    /// <summary>Unloads idle models, least recently used first, until the new one fits the budget.</summary>
    private void MakeRoomFor(ModelSource source)
    {
        var budget = _options.ResolveMemoryBudget();
        var loaded = LoadedModels().OrderBy(m => m.LastUseTimestamp).ToList();
        var used = loaded.Sum(m => m.EstimatedBytes);
        foreach (var model in loaded)
        {
            if (used + source.SizeBytes <= budget)
            {
                return;
            }

            if (!model.IsIdle)
            {
                continue;
            }

            if (_models.TryGetValue(model.Id, out var entry) && _models.TryRemove(new KeyValuePair<string, Lazy<Task<EngineResult<LlamaLoadedModel>>>>(model.Id, entry)))
            {
                LogUnloading(_logger, model.Id, model.EstimatedBytes / (1024 * 1024));
                used -= model.EstimatedBytes;
                model.Dispose();
            }
        }
    }

    [LoggerMessage(EventId = 2201, Level = LogLevel.Information, Message = "Loading model {ModelId} ({MiB} MiB)")]
    private static partial void LogLoading(ILogger logger, string modelId, long miB);

    [LoggerMessage(EventId = 2202, Level = LogLevel.Information, Message = "Unloading idle model {ModelId} ({MiB} MiB) to stay within the memory budget")]
    private static partial void LogUnloading(ILogger logger, string modelId, long miB);

    [LoggerMessage(EventId = 2203, Level = LogLevel.Error, Message = "The native llama.cpp libraries could not be loaded")]
    private static partial void LogNativeUnavailable(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 2204, Level = LogLevel.Error, Message = "Model {ModelId} was not loaded: its file failed validation ({Reason})")]
    private static partial void LogFileRefused(ILogger logger, string modelId, string reason);
}

using System.Threading.Channels;
using InferenceMesh.ContextStore.Rag;
using InferenceMesh.ContextStore.Rag.Ingestion;

namespace InferenceMesh.Gateway.Rag;

/// <summary>
/// Ingests vector store files in the background, one at a time (the engine batches the embeddings of each file).
/// At start it takes up every file left "in_progress" by an earlier run (a crash or a stop), so nothing stays pending.
/// Stopping the gateway stops the current file; it stays "in_progress" and is ingested again at the next start.
/// </summary>
internal sealed partial class RagIngestionWorker(IServiceProvider services, ILogger<RagIngestionWorker> logger) : BackgroundService, IRagIngestionQueue
{
    private readonly Channel<(string StoreId, string FileId)> _queue =
        Channel.CreateUnbounded<(string, string)>(new UnboundedChannelOptions { SingleReader = true });

    public void Enqueue(string storeId, string fileId) => _queue.Writer.TryWrite((storeId, fileId));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        RagService rag;
        try
        {
            rag = services.GetRequiredService<RagService>();
            foreach (var (storeId, fileId) in rag.Stores.ListInProgress())
            {
                Enqueue(storeId, fileId);
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or Microsoft.Data.Sqlite.SqliteException or IOException or UnauthorizedAccessException)
        {
            Log.CannotStart(logger, ex.GetType().Name, ex);
            return;
        }

        try
        {
            await foreach (var (storeId, fileId) in _queue.Reader.ReadAllAsync(stoppingToken))
            {
                try
                {
                    await rag.IngestAsync(storeId, fileId, null, stoppingToken);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex)
                {
                    // A bug: logged (ids and exception type only), the file stays in_progress, the worker goes on.
                    Log.IngestCrashed(logger, storeId, fileId, ex.GetType().Name, ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // stopping
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3200, Level = LogLevel.Error, Message = "The RAG ingestion worker could not start ({ExceptionType}); vector store files will not be indexed")]
        public static partial void CannotStart(ILogger logger, string exceptionType, Exception exception);

        [LoggerMessage(EventId = 3201, Level = LogLevel.Error, Message = "Ingesting file {FileId} into vector store {StoreId} failed unexpectedly ({ExceptionType})")]
        public static partial void IngestCrashed(ILogger logger, string storeId, string fileId, string exceptionType, Exception exception);
    }
}

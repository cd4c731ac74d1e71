using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using InferenceMesh.ContextStore.Rag;
using InferenceMesh.ContextStore.Rag.Embedding;
using InferenceMesh.ContextStore.Rag.Index;
using InferenceMesh.ContextStore.Rag.Ingestion;
using InferenceMesh.ContextStore.Rag.Stores;
using InferenceMesh.ContextStore.Storage;
using InferenceMesh.Engine.Hosting;
using InferenceMesh.Gateway.Hosting;
using InferenceMesh.Gateway.Rag;
using InferenceMesh.ModelCache.Catalog;
using InferenceMesh.ModelCache.Store;
using Spectre.Console;

namespace InferenceMesh.Gateway.Cli;

/// <summary>
/// <c>inference-mesh files …</c>: files and vector stores from the command line, working offline on the data folder
/// (the same <c>context.db</c> and files a gateway with the same <c>--data</c> serves; SQLite's WAL and locking let
/// both run at once) with the local engine for embeddings. Progress on stderr, results on stdout.
/// <list type="bullet">
/// <item><c>files add PATH... --store NAME</c>: upload, add to the store (created when missing), ingest with a progress bar.
/// A directory, FIFO, device or a file over <c>--max-file-bytes</c> is refused (exit 2) before anything is read.</item>
/// <item><c>files search STORE QUERY</c>: hybrid search, like <c>POST /v1/vector_stores/{id}/search</c>.</item>
/// <item><c>files stores</c>: the vector stores and their file counts.</item>
/// </list>
/// Exit codes: 0 done, 1 a file failed or the search failed, 2 bad arguments, 130 cancelled (the file stays
/// "in_progress"; running the command again resumes it).
/// </summary>
internal static class FilesCli
{
    public static bool Matches(IReadOnlyList<string> args) => args is ["files", ..];

    public static Task<int> RunAsync(string[] args, TextWriter output, TextWriter error) =>
        RunAsync(args, output, error, CancellationToken.None);

    internal static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var root = new RootCommand("inference-mesh") { Create() };
        var parsed = root.Parse(args);
        if (CliUsage.Errors(parsed, args) is { Count: > 0 } usageErrors)
        {
            return CliUsage.Report(parsed, usageErrors, error);
        }

        var configuration = new InvocationConfiguration { Output = output, Error = error, ProcessTerminationTimeout = TimeSpan.FromSeconds(10), EnableDefaultExceptionHandler = false };
        try
        {
            return await parsed.InvokeAsync(configuration, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // Ctrl-C cancels System.CommandLine's own token, not the caller's: a filter on the caller's missed it (a
            // TaskCanceledException stack trace, exit 1).
            await error.WriteLineAsync("inference-mesh: cancelled.");
            return ModelsCliExit.Cancelled;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A --data that is a file, an unwritable folder: one line, not System.CommandLine's stack trace.
            await error.WriteLineAsync($"inference-mesh: {ModelsProgress.Printable(ex.Message)}");
            return ModelsCliExit.Failed;
        }
        catch (Exception ex)
        {
            // What System.CommandLine's default handler printed: a bug, so the stack trace helps.
            await error.WriteLineAsync($"Unhandled exception: {ex}");
            return ModelsCliExit.Failed;
        }
    }

    internal static Command Create() => new("files", "Files and vector stores for retrieval (offline, on the data folder).")
    {
        AddCommand(),
        SearchCommand(),
        StoresCommand(),
    };

    private static Option<string> DataOption() => new("--data")
    {
        Description = "The data folder (default: the gateway's, $XDG_DATA_HOME/inference-mesh/data).",
        DefaultValueFactory = _ => GatewayDefaults.DataDirectory(),
    };

    /// <summary>--rag-index, --rag-postgres-env, --rag-postgres-schema: the same index the gateway uses (see its --help).</summary>
    private sealed record IndexOptions(Option<string> Kind, Option<string> Variable, Option<string> Schema)
    {
        public static IndexOptions Create() => new(
            new Option<string>("--rag-index") { Description = "Where chunks and vectors live: sqlite (default) or postgres, as the gateway's --rag-index.", DefaultValueFactory = _ => RagIndexSelection.Sqlite },
            new Option<string>("--rag-postgres-env") { Description = "Environment variable with the PostgreSQL connection string.", DefaultValueFactory = _ => PgVectorDefaults.ConnectionStringVariable },
            new Option<string>("--rag-postgres-schema") { Description = "PostgreSQL schema of the index.", DefaultValueFactory = _ => PgVectorDefaults.Schema });

        public void AddTo(Command command)
        {
            command.Options.Add(Kind);
            command.Options.Add(Variable);
            command.Options.Add(Schema);
        }

        public (PgVectorRagIndexOptions? Options, string? Error) Resolve(ParseResult parse) =>
            RagIndexSelection.Resolve(parse.GetRequiredValue(Kind), parse.GetRequiredValue(Variable), parse.GetRequiredValue(Schema));
    }

    private static Option<int?> ThreadsOption() => new("--threads") { Description = "Engine threads for embeddings (default: all cores)." };

    private static Command AddCommand()
    {
        var paths = new Argument<string[]>("paths") { Description = "Text (.txt, .md, …) or PDF files.", Arity = ArgumentArity.OneOrMore };
        var store = new Option<string>("--store") { Description = "The vector store's name or id; created when no store has that name.", Required = true };
        var privacy = new Option<string>("--privacy") { Description = "A new store's privacy: public, internal, confidential (default) or restricted.", DefaultValueFactory = _ => "confidential" };
        var chunkTokens = new Option<int>("--chunk-tokens") { Description = "A new store's chunk size in tokens (100-4096).", DefaultValueFactory = _ => RagDefaults.MaxChunkTokens };
        var overlapTokens = new Option<int>("--overlap-tokens") { Description = "A new store's chunk overlap in tokens (at most half the chunk size).", DefaultValueFactory = _ => RagDefaults.ChunkOverlapTokens };
        var data = DataOption();
        var models = ModelsCliEnvironment.ModelsOption();
        var embeddingModel = new Option<string?>("--embedding-model") { Description = "A new store's embedding model (default: the first model of the models folder)." };
        var threads = ThreadsOption();
        var maxFileBytes = new Option<long>("--max-file-bytes") { Description = "Largest file accepted, in bytes, as the gateway's --max-file-bytes.", DefaultValueFactory = _ => RagDefaults.MaxFileBytes };
        var command = new Command("add", "Add files to a vector store and index them (progress on stderr).")
        {
            paths, store, privacy, chunkTokens, overlapTokens, data, models, embeddingModel, threads, maxFileBytes,
        };
        var index = IndexOptions.Create();
        index.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            if (!RagPrivacyNames.TryParse(parse.GetValue(privacy), out var level))
            {
                await error.WriteLineAsync("inference-mesh: --privacy must be public, internal, confidential or restricted.");
                return ModelsCliExit.Usage;
            }

            var limit = parse.GetValue(maxFileBytes);
            if (limit < 1)
            {
                await error.WriteLineAsync($"inference-mesh: --max-file-bytes must be at least 1 (got {limit}).");
                return ModelsCliExit.Usage;
            }

            var files = parse.GetRequiredValue(paths).Select(Path.GetFullPath).ToList();
            if (files.Select(p => UploadProblem(p, limit)).FirstOrDefault(p => p is not null) is { } problem)
            {
                await error.WriteLineAsync($"inference-mesh: {problem}");
                return ModelsCliExit.Usage;
            }

            var (postgres, indexError) = index.Resolve(parse);
            if (indexError is not null)
            {
                await error.WriteLineAsync($"inference-mesh: {indexError}");
                return ModelsCliExit.Usage;
            }

            await using var host = RagCliHost.Open(parse.GetRequiredValue(data), parse.GetRequiredValue(models), parse.GetValue(embeddingModel), parse.GetValue(threads), postgres, limit);
            var rag = host.Rag;
            var name = parse.GetRequiredValue(store);
            var target = rag.FindStore(name) ?? rag.Stores.FindByName(name);
            if (target is null)
            {
                var created = await rag.CreateStoreAsync(new CreateVectorStore
                {
                    Name = name,
                    Privacy = level,
                    Chunking = new ChunkingStrategy(parse.GetValue(chunkTokens), parse.GetValue(overlapTokens)),
                }, ct);
                if (created.Error is { } createError)
                {
                    await error.WriteLineAsync($"inference-mesh: {createError.Message}");
                    return createError.Kind == RagErrorKind.Invalid ? ModelsCliExit.Usage : ModelsCliExit.Failed;
                }

                target = created.Value!;
                await error.WriteLineAsync($"Created vector store {target.Id} ({name}, {RagPrivacyNames.Format(level)}, embeddings: {target.EmbeddingModel}).");
            }

            var results = await IngestAllAsync(ModelsCliEnvironment.ProgressConsole(error), rag, target, files, ct);
            var failed = 0;
            foreach (var (path, result) in results)
            {
                if (result.Error is { Kind: RagErrorKind.Cancelled })
                {
                    await error.WriteLineAsync("inference-mesh: cancelled; run the command again to resume.");
                    return ModelsCliExit.Cancelled;
                }

                if (result.Error is { } ingestError || result.Value!.Status != VectorStoreFileStatus.Completed)
                {
                    failed++;
                    await error.WriteLineAsync($"inference-mesh: {ModelsProgress.Printable(Path.GetFileName(path))}: {result.Error?.Message ?? result.Value!.ErrorMessage}");
                    continue;
                }

                await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"{result.Value.FileId}\t{result.Value.Chunks} chunks\t{ModelsProgress.Printable(path)}"));
            }

            // A gateway running on the same data folder may delete the store meanwhile.
            if (rag.FindStore(target.Id) is not { } finished)
            {
                await error.WriteLineAsync($"inference-mesh: vector store {target.Id} ({ModelsProgress.Printable(name)}) was deleted while the files were added.");
                return ModelsCliExit.Failed;
            }

            await output.WriteLineAsync($"Vector store {target.Id} ({ModelsProgress.Printable(name)}): {finished.FileCounts.Completed} files indexed.");
            return failed == 0 ? ModelsCliExit.Ok : ModelsCliExit.Failed;
        });
        return command;
    }

    /// <summary>
    /// Why a path cannot be uploaded, found without reading it: hashing /dev/zero never ended, a FIFO waited for a
    /// writer, and a file over the limit was read in full before the upload refused it. Null when it can be.
    /// </summary>
    private static string? UploadProblem(string path, long maxBytes)
    {
        var printable = ModelsProgress.Printable(path);
        if (Directory.Exists(path))
        {
            return $"{printable} is a directory, not a file.";
        }

        if (!File.Exists(path))
        {
            return $"no such file: {printable}";
        }

        if (FileIdentity.IsRegularFile(path) == false)
        {
            return $"{printable} is not a regular file (a FIFO, a device or a socket).";
        }

        return new FileInfo(path).Length > maxBytes
            ? string.Create(CultureInfo.InvariantCulture, $"{printable} is larger than the upload limit of {maxBytes} bytes (--max-file-bytes).")
            : null;
    }

    /// <summary>Uploads (unless the same content under the same name is already in the store) and ingests each file under a progress bar.</summary>
    private static Task<List<(string Path, RagResult<VectorStoreFile> Result)>> IngestAllAsync(IAnsiConsole console, RagService rag, VectorStore store, List<string> paths, CancellationToken ct) =>
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .StartAsync(async context =>
            {
                var results = new List<(string, RagResult<VectorStoreFile>)>();
                foreach (var path in paths)
                {
                    var task = context.AddTask(Markup.Escape(ModelsProgress.Printable(Path.GetFileName(path))), maxValue: 1);
                    task.IsIndeterminate = true;
                    var result = await IngestOneAsync(rag, store, path, new SyncProgress<IngestProgress>(p =>
                    {
                        if (p.ChunksTotal > 0)
                        {
                            task.IsIndeterminate = false;
                            task.MaxValue = p.ChunksTotal;
                            task.Value = p.ChunksEmbedded;
                        }
                    }), ct);
                    task.IsIndeterminate = false;
                    task.Value = task.MaxValue;
                    task.StopTask();
                    results.Add((path, result));
                    if (result.Error is { Kind: RagErrorKind.Cancelled })
                    {
                        break;
                    }
                }

                return results;
            });

    private static async Task<RagResult<VectorStoreFile>> IngestOneAsync(RagService rag, VectorStore store, string path, IProgress<IngestProgress> progress, CancellationToken ct)
    {
        var name = Path.GetFileName(path);
        var sha256 = await Sha256Async(path, ct);
        var fileId = rag.Stores.FindFileByContent(new RagStoreRef(store.Seq, store.Id), name, sha256);
        if (fileId is null)
        {
            await using var stream = File.OpenRead(path);
            var uploaded = await rag.AddFileAsync(stream, name, "assistants", ct);
            if (uploaded.Error is { } uploadError)
            {
                return uploadError;
            }

            fileId = uploaded.Value!.Id;
            var added = rag.AddFileToStore(store.Id, fileId, null, "{}");
            if (added.Error is { } addError)
            {
                return addError;
            }
        }

        return await rag.IngestAsync(store.Id, fileId, progress, ct);
    }

    private static async Task<string> Sha256Async(string path, CancellationToken ct)
    {
        await using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(await System.Security.Cryptography.SHA256.HashDataAsync(stream, ct));
    }

    private static Command SearchCommand()
    {
        var store = new Argument<string>("store") { Description = "The vector store's name or id." };
        var query = new Argument<string>("query") { Description = "What to search for." };
        var count = new Option<int>("--max-results", "-n") { Description = "Results to show (1-50).", DefaultValueFactory = _ => RagDefaults.SearchResults };
        var json = new Option<bool>("--json") { Description = "Print the results page as the API returns it." };
        var data = DataOption();
        var models = ModelsCliEnvironment.ModelsOption();
        var threads = ThreadsOption();
        var command = new Command("search", "Hybrid search (vectors + full text) in a vector store.") { store, query, count, json, data, models, threads };
        var index = IndexOptions.Create();
        index.AddTo(command);
        command.SetAction(async (parse, ct) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            var (postgres, indexError) = index.Resolve(parse);
            if (indexError is not null)
            {
                await error.WriteLineAsync($"inference-mesh: {indexError}");
                return ModelsCliExit.Usage;
            }

            await using var host = RagCliHost.Open(parse.GetRequiredValue(data), parse.GetRequiredValue(models), null, parse.GetValue(threads), postgres);
            var name = parse.GetRequiredValue(store);
            if ((host.Rag.FindStore(name) ?? host.Rag.Stores.FindByName(name)) is not { } target)
            {
                await error.WriteLineAsync($"inference-mesh: no vector store named '{ModelsProgress.Printable(name)}' (see 'files stores').");
                return ModelsCliExit.Usage;
            }

            var text = parse.GetRequiredValue(query);
            var hits = await host.Rag.SearchAsync([target.Id], text, parse.GetValue(count), null, ct);
            if (hits.Error is { } searchError)
            {
                await error.WriteLineAsync($"inference-mesh: {searchError.Message}");
                return searchError.Kind == RagErrorKind.Invalid ? ModelsCliExit.Usage : ModelsCliExit.Failed;
            }

            if (parse.GetValue(json))
            {
                var page = new SearchResultsPage([text], [.. hits.Value!.Select(VectorStoresApi.ToWire)]);
                await output.WriteLineAsync(JsonSerializer.Serialize(page, RagJsonContext.Default.SearchResultsPage));
                return ModelsCliExit.Ok;
            }

            var rank = 0;
            foreach (var hit in hits.Value!)
            {
                rank++;
                var snippet = string.Join(' ', hit.Text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
                await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"{rank}. {hit.Score:0.000}  {ModelsProgress.Printable(hit.FileName)} #{hit.ChunkIndex} ({hit.FileId})\n   {ModelsProgress.Printable(snippet)}"));
            }

            if (rank == 0)
            {
                await output.WriteLineAsync("No results.");
            }

            return ModelsCliExit.Ok;
        });
        return command;
    }

    private static Command StoresCommand()
    {
        var data = DataOption();
        var command = new Command("stores", "List the vector stores.") { data };
        command.SetAction(async (parse, ct) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var options = new ContextStoreOptions { DataDirectory = Path.GetFullPath(parse.GetRequiredValue(data)), Extensions = [SqliteVec.LibraryPath] };
            var repository = new VectorStoreRepository(ContextDatabase.Open(options, RagMigrations.All));
            foreach (var store in repository.List(ascending: true, limit: 1000, after: null) ?? [])
            {
                await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"{store.Id}\t{ModelsProgress.Printable(store.Name ?? "")}\t{RagPrivacyNames.Format(store.Privacy)}\t{store.EmbeddingModel}\t{store.FileCounts.Completed}/{store.FileCounts.Total} files\t{store.Status}"));
            }

            return ModelsCliExit.Ok;
        });
        return command;
    }
}

/// <summary>The services the offline commands need: the context database with sqlite-vec, the RAG module and the local engine.</summary>
public sealed class RagCliHost : IAsyncDisposable
{
    private readonly ServiceProvider _services;

    private RagCliHost(ServiceProvider services) => _services = services;

    public RagService Rag => _services.GetRequiredService<RagService>();

    /// <param name="postgres">The PostgreSQL + pgvector index; null: sqlite-vec in the data folder.</param>
    /// <param name="maxFileBytes">The largest upload; null: <see cref="RagDefaults.MaxFileBytes"/>.</param>
    public static RagCliHost Open(string dataDirectory, string modelsDirectory, string? embeddingModel, int? threads, PgVectorRagIndexOptions? postgres = null, long? maxFileBytes = null)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddLocalEngine(new EngineOptions { Threads = threads });
        services.AddModelCatalog(Path.GetFullPath(modelsDirectory));
        services.AddContextStore(new ContextStoreOptions { DataDirectory = Path.GetFullPath(dataDirectory), Extensions = [SqliteVec.LibraryPath] });
        var options = new RagOptions { EmbeddingModel = embeddingModel, Postgres = postgres, MaxFileBytes = maxFileBytes ?? RagDefaults.MaxFileBytes };
        services.AddRag(options);
        services.AddSingleton<IRagEmbedderSource, EngineRagEmbedderSource>();
        return new RagCliHost(services.BuildServiceProvider());
    }

    public ValueTask DisposeAsync() => _services.DisposeAsync();
}

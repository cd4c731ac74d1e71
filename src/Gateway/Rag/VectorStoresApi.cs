using System.Text.Json;
using InferenceMesh.ContextStore.Rag;
using InferenceMesh.ContextStore.Rag.Files;
using InferenceMesh.ContextStore.Rag.Search;
using InferenceMesh.ContextStore.Rag.Stores;
using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.Inference;
using InferenceMesh.Gateway.OpenAi;
using Microsoft.AspNetCore.Mvc;

namespace InferenceMesh.Gateway.Rag;

/// <summary>
/// OpenAI's Vector Stores API: stores (create with <c>file_ids</c>, list, get, delete), their files (add, list, get,
/// remove; ingested in the background: <c>in_progress</c> → <c>completed</c> | <c>failed</c> with <c>last_error</c>)
/// and hybrid search. Our fields: <c>privacy</c> and <c>embedding_model</c> on create (docs/rag.md).
/// </summary>
internal static class VectorStoresApi
{
    private const int DefaultListLimit = 20;
    private const int MaxListLimit = 100;

    public static IEndpointRouteBuilder MapVectorStoresApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/vector_stores", CreateAsync);
        app.MapGet("/v1/vector_stores", List);
        app.MapGet("/v1/vector_stores/{storeId}", Get);
        app.MapDelete("/v1/vector_stores/{storeId}", Delete);
        app.MapPost("/v1/vector_stores/{storeId}/files", AddFileAsync);
        app.MapGet("/v1/vector_stores/{storeId}/files", ListFiles);
        app.MapGet("/v1/vector_stores/{storeId}/files/{fileId}", GetFile);
        app.MapDelete("/v1/vector_stores/{storeId}/files/{fileId}", RemoveFile);
        app.MapPost("/v1/vector_stores/{storeId}/search", SearchAsync);
        return app;
    }

    public static async Task<IResult> CreateAsync(HttpContext http, [FromServices] RagService rag)
    {
        var body = await InferenceService.ReadBodyAsync(http.Request, RagJsonContext.Default.CreateVectorStoreRequest, http.RequestAborted);
        if (body.Error is { } bodyError) return bodyError;
        var request = body.Value!;

        if (request.ExpiresAfter is { ValueKind: not JsonValueKind.Null })
        {
            return Unsupported("expires_after", "'expires_after' is not supported: local vector stores do not expire.");
        }

        var privacy = RagDefaults.Privacy;
        if (request.Privacy is { } privacyText && !RagPrivacyNames.TryParse(privacyText, out privacy))
        {
            return ApiErrors.InvalidParameter("privacy", "'privacy' must be one of public, internal, confidential, restricted.");
        }

        if (request.FileIds?.Contains(null!) is true) return ApiErrors.InvalidParameter("file_ids", "'file_ids' must be an array of file ids.");
        if (ValidateMetadata(request.Metadata) is { } metadataError) return metadataError;
        var chunking = ParseChunking(request.ChunkingStrategy, "chunking_strategy");
        if (chunking.Error is { } chunkingError) return chunkingError.ToApiError();

        var created = await rag.CreateStoreAsync(new CreateVectorStore
        {
            Name = request.Name,
            FileIds = request.FileIds ?? [],
            Metadata = request.Metadata ?? [],
            Chunking = chunking.Value ?? ChunkingStrategy.Default,
            Privacy = privacy,
            EmbeddingModel = request.EmbeddingModel,
        }, http.RequestAborted);
        return created.Error is { } error ? error.ToApiError() : Ok(ToWire(created.Value!));
    }

    public static IResult List(HttpContext http, [FromServices] RagService rag)
    {
        var read = ListQuery.Read(http.Request.Query, DefaultListLimit, MaxListLimit, VectorStoreRepository.IsWellFormedId, "'vs_' and 24 lowercase hex digits");
        if (read.Error is { } readError) return readError;
        var page = read.Value!;
        if (rag.Stores.List(page.Ascending, page.Limit + 1, page.After) is not { } stores) return ListQuery.UnknownCursor();
        var data = stores.Take(page.Limit).Select(ToWire).ToList();
        return new JsonOk<VectorStoreList>(new VectorStoreList(data, data.FirstOrDefault()?.Id, data.LastOrDefault()?.Id, stores.Count > page.Limit),
            RagJsonContext.Default.VectorStoreList);
    }

    public static IResult Get(string storeId, [FromServices] RagService rag) =>
        rag.FindStore(storeId) is { } store ? Ok(ToWire(store)) : RagError.NotFound("vector store", storeId, "vector_store_id").ToApiError();

    public static IResult Delete(string storeId, [FromServices] RagService rag)
    {
        var deleted = rag.DeleteStore(storeId);
        return deleted.Error is { } error
            ? error.ToApiError()
            : new JsonOk<DeletionResult>(new DeletionResult(deleted.Value!.Id, "vector_store.deleted", true), RagJsonContext.Default.DeletionResult);
    }

    public static async Task<IResult> AddFileAsync(string storeId, HttpContext http, [FromServices] RagService rag)
    {
        var body = await InferenceService.ReadBodyAsync(http.Request, RagJsonContext.Default.CreateVectorStoreFileRequest, http.RequestAborted);
        if (body.Error is { } bodyError) return bodyError;
        var request = body.Value!;
        if (string.IsNullOrEmpty(request.FileId)) return ApiErrors.MissingParameter("file_id");

        var attributes = ValidateAttributes(request.Attributes);
        if (attributes.Error is { } attributesError) return attributesError.ToApiError();
        var chunking = ParseChunking(request.ChunkingStrategy, "chunking_strategy");
        if (chunking.Error is { } chunkingError) return chunkingError.ToApiError();

        var added = rag.AddFileToStore(storeId, request.FileId, chunking.Value, attributes.Value!);
        return added.Error is { } error ? error.ToApiError() : Ok(ToWire(added.Value!));
    }

    public static IResult ListFiles(string storeId, HttpContext http, [FromServices] RagService rag)
    {
        var read = ListQuery.Read(http.Request.Query, DefaultListLimit, MaxListLimit, RagFileStore.IsWellFormedId, FilesApi.FileIdShape);
        if (read.Error is { } readError) return readError;
        var page = read.Value!;
        var filter = http.Request.Query["filter"].ToString() is { Length: > 0 } f ? f : null;
        if (filter is not null && !VectorStoreFileStatus.IsKnown(filter))
        {
            return ApiErrors.InvalidParameter("filter", "'filter' must be one of in_progress, completed, failed, cancelled.");
        }

        if (rag.FindStore(storeId) is not { } store) return RagError.NotFound("vector store", storeId, "vector_store_id").ToApiError();
        if (rag.Stores.ListFiles(new(store.Seq, store.Id), filter, page.Ascending, page.Limit + 1, page.After) is not { } files) return ListQuery.UnknownCursor();
        var data = files.Take(page.Limit).Select(ToWire).ToList();
        return new JsonOk<VectorStoreFileList>(new VectorStoreFileList(data, data.FirstOrDefault()?.Id, data.LastOrDefault()?.Id, files.Count > page.Limit),
            RagJsonContext.Default.VectorStoreFileList);
    }

    public static IResult GetFile(string storeId, string fileId, [FromServices] RagService rag)
    {
        var found = rag.FindStoreFile(storeId, fileId);
        return found.Error is { } error ? error.ToApiError() : Ok(ToWire(found.Value!));
    }

    public static IResult RemoveFile(string storeId, string fileId, [FromServices] RagService rag)
    {
        var removed = rag.RemoveFileFromStore(storeId, fileId);
        return removed.Error is { } error
            ? error.ToApiError()
            : new JsonOk<DeletionResult>(new DeletionResult(fileId, "vector_store.file.deleted", true), RagJsonContext.Default.DeletionResult);
    }

    public static async Task<IResult> SearchAsync(string storeId, HttpContext http, [FromServices] RagService rag)
    {
        var body = await InferenceService.ReadBodyAsync(http.Request, RagJsonContext.Default.VectorStoreSearchRequest, http.RequestAborted);
        if (body.Error is { } bodyError) return bodyError;
        var request = body.Value!;

        var queries = new List<string>();
        switch (request.Query)
        {
            case { ValueKind: JsonValueKind.String } single:
                queries.Add(single.GetString()!);
                break;
            case { ValueKind: JsonValueKind.Array } many when many.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String):
                queries.AddRange(many.EnumerateArray().Select(e => e.GetString()!));
                break;
            case null or { ValueKind: JsonValueKind.Null }:
                return ApiErrors.MissingParameter("query");
            default:
                return ApiErrors.InvalidParameter("query", "'query' must be a string or an array of strings.");
        }

        if (request.Filters is { ValueKind: not JsonValueKind.Null }) return Unsupported("filters", "'filters' is not supported yet: search a store without attribute filters.");
        if (request.RewriteQuery is true) return Unsupported("rewrite_query", "'rewrite_query' is not supported: queries are searched as given.");
        if (request.RankingOptions?.ScoreThreshold is < 0 or > 1)
        {
            return ApiErrors.InvalidParameter("ranking_options.score_threshold", "'score_threshold' must be from 0 to 1.");
        }

        // OpenAI's rankers; every one is served by the same hybrid fusion here, but a misspelt one is no ranker at all.
        if (request.RankingOptions?.Ranker is { } ranker && ranker is not ("auto" or "none" or "default-2024-11-15"))
        {
            return ApiErrors.InvalidParameter("ranking_options.ranker", "'ranker' must be one of auto, none, default-2024-11-15.");
        }

        var hits = await rag.SearchAsync([storeId], string.Join('\n', queries), request.MaxNumResults ?? RagDefaults.SearchResults,
            request.RankingOptions?.ScoreThreshold, http.RequestAborted);
        if (hits.Error is { } error) return error.ToApiError();

        var data = hits.Value!.Select(ToWire).ToList();
        return new JsonOk<SearchResultsPage>(new SearchResultsPage(queries, data), RagJsonContext.Default.SearchResultsPage);
    }

    internal static SearchResultItem ToWire(RagSearchHit hit) =>
        new(hit.FileId, hit.FileName, Math.Round(hit.Score, 6), ParseJson(hit.AttributesJson), [new SearchContent(hit.Text)], hit.ChunkIndex, hit.StoreId);

    internal static VectorStoreObject ToWire(VectorStore store) => new(
        store.Id, store.CreatedAt, store.Name, store.UsageBytes,
        new FileCountsWire(store.FileCounts.InProgress, store.FileCounts.Completed, store.FileCounts.Failed, store.FileCounts.Cancelled, store.FileCounts.Total),
        store.Status, store.LastActiveAt, store.Metadata, RagPrivacyNames.Format(store.Privacy), store.EmbeddingModel, store.Dimensions,
        Chunking(store.MaxChunkTokens, store.ChunkOverlapTokens));

    internal static VectorStoreFileObject ToWire(VectorStoreFile file) => new(
        file.FileId, file.UsageBytes, file.CreatedAt, file.StoreId, file.Status,
        file.Status == VectorStoreFileStatus.Failed ? new LastErrorWire(WireErrorCode(file.ErrorCode), file.ErrorMessage ?? "The file could not be indexed.") : null,
        Chunking(file.MaxChunkTokens, file.ChunkOverlapTokens), ParseJson(file.AttributesJson));

    /// <summary>OpenAI's last_error codes are server_error, unsupported_file and invalid_file; clients parse no others.</summary>
    private static string WireErrorCode(string? code) => code is "unsupported_file" or "invalid_file" ? code : "server_error";

    private static ChunkingStrategyWire Chunking(int max, int overlap) => new("static", new StaticChunkingWire(max, overlap));

    private static JsonElement ParseJson(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }

    /// <summary>OpenAI's <c>chunking_strategy</c>: absent or "auto" (null: the default), or "static" with both sizes.</summary>
    internal static RagResult<ChunkingStrategy?> ParseChunking(JsonElement? element, string param)
    {
        if (element is not { ValueKind: not JsonValueKind.Null } value)
        {
            return new RagResult<ChunkingStrategy?>(null, null);
        }

        if (value.ValueKind != JsonValueKind.Object || !value.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
        {
            return RagError.Invalid(param, "'chunking_strategy' must be {\"type\":\"auto\"} or {\"type\":\"static\",\"static\":{…}}.");
        }

        if (type.GetString() == "auto")
        {
            return ChunkingStrategy.Default;
        }

        if (type.GetString() != "static" || !value.TryGetProperty("static", out var sizes) || sizes.ValueKind != JsonValueKind.Object
            || !sizes.TryGetProperty("max_chunk_size_tokens", out var max) || max.ValueKind != JsonValueKind.Number || !max.TryGetInt32(out var maxTokens)
            || !sizes.TryGetProperty("chunk_overlap_tokens", out var overlap) || overlap.ValueKind != JsonValueKind.Number || !overlap.TryGetInt32(out var overlapTokens))
        {
            return RagError.Invalid(param, "A static 'chunking_strategy' needs integer 'max_chunk_size_tokens' and 'chunk_overlap_tokens'.");
        }

        var strategy = new ChunkingStrategy(maxTokens, overlapTokens);
        return strategy.Validate(param) is { } error ? error : strategy;
    }

    /// <summary>OpenAI's attributes: an object of at most 16 keys (64 characters) whose values are strings (512), numbers or booleans.</summary>
    internal static RagResult<string> ValidateAttributes(JsonElement? element)
    {
        if (element is not { ValueKind: not JsonValueKind.Null } value)
        {
            return "{}";
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            return RagError.Invalid("attributes", "'attributes' must be an object.");
        }

        var count = 0;
        foreach (var property in value.EnumerateObject())
        {
            count++;
            var ok = property.Name.Length <= RagDefaults.MaxMetadataKeyLength && property.Value.ValueKind switch
            {
                JsonValueKind.String => property.Value.GetString()!.Length <= RagDefaults.MaxMetadataValueLength,
                JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => true,
                _ => false,
            };
            if (!ok || count > RagDefaults.MaxMetadataPairs)
            {
                return RagError.Invalid("attributes", "'attributes' takes at most 16 keys of up to 64 characters; values are strings (up to 512 characters), numbers or booleans.");
            }
        }

        return value.GetRawText();
    }

    private static ApiError? ValidateMetadata(Dictionary<string, string>? metadata)
    {
        if (metadata is null)
        {
            return null;
        }

        return metadata.Count > RagDefaults.MaxMetadataPairs
               || metadata.Any(p => p.Key.Length > RagDefaults.MaxMetadataKeyLength || p.Value is null || p.Value.Length > RagDefaults.MaxMetadataValueLength)
            ? ApiErrors.InvalidParameter("metadata", "'metadata' takes at most 16 keys of up to 64 characters with string values of up to 512 characters.")
            : null;
    }

    private static ApiError Unsupported(string param, string message) => ApiErrors.UnsupportedParameter(param, message);

    private static JsonOk<VectorStoreObject> Ok(VectorStoreObject store) => new(store, RagJsonContext.Default.VectorStoreObject);

    private static JsonOk<VectorStoreFileObject> Ok(VectorStoreFileObject file) => new(file, RagJsonContext.Default.VectorStoreFileObject);
}

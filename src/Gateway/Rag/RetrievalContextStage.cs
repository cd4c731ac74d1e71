using System.Globalization;
using System.Text;
using System.Text.Json;
using InferenceMesh.Classifier;
using InferenceMesh.ContextStore.Rag;
using InferenceMesh.ContextStore.Rag.Search;
using InferenceMesh.Engine;
using InferenceMesh.Gateway.Context;
using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.OpenAi;

namespace InferenceMesh.Gateway.Rag;

/// <summary>The chat extension field <c>"retrieval"</c> (docs/rag.md).</summary>
public sealed class RetrievalRequest
{
    public List<string>? VectorStoreIds { get; set; }

    public int? MaxNumResults { get; set; }
}

/// <summary>
/// Retrieval for chat: a request with <c>"retrieval": {"vector_store_ids": [...], "max_num_results": 5}</c> gets the
/// hybrid-search passages for its last user message inserted as a system message, before classification, so the
/// passages are classified with the prompt. The request's privacy floor is raised to the highest privacy level of
/// the stores named — before searching, so a failing search cannot lower it — and so a confidential store's
/// passages never leave this machine whatever the prompt looks like. The answer names its sources in
/// <c>X-InferenceMesh-Citations</c> (set before the body starts: any backend, streamed or not).
/// </summary>
internal sealed class RetrievalContextStage(RagService rag) : IChatContextStage
{
    public const string Field = "retrieval";
    public const string CitationsHeader = "X-InferenceMesh-Citations";
    public const int DefaultResults = 5;
    public const int MaxResults = 20;

    public bool AppliesTo(ChatCompletionRequest request) => request.Extensions?.ContainsKey(Field) ?? false;

    public async ValueTask<ApiError?> PrepareAsync(ChatContextFrame frame, CancellationToken cancellationToken)
    {
        if (frame.TakeExtension(Field) is not { } element)
        {
            return null;
        }

        RetrievalRequest? request;
        try
        {
            request = element.ValueKind == JsonValueKind.Object ? element.Deserialize(RagJsonContext.Default.RetrievalRequest) : null;
        }
        catch (JsonException ex) when (ex.Path is { Length: > 2 } path && path.StartsWith("$.", StringComparison.Ordinal))
        {
            return ApiErrors.InvalidJson($"{Field}.{path[2..]}"); // e.g. a max_num_results that is not an integer
        }
        catch (JsonException)
        {
            request = null;
        }

        if (request?.VectorStoreIds is not { Count: > 0 } storeIds || storeIds.Contains(null!))
        {
            return ApiErrors.InvalidParameter("retrieval.vector_store_ids", "'retrieval' must be an object with a non-empty 'vector_store_ids' array of strings.");
        }

        var results = request.MaxNumResults ?? DefaultResults;
        if (results is < 1 or > MaxResults)
        {
            return ApiErrors.InvalidParameter("retrieval.max_num_results", $"'retrieval.max_num_results' must be from 1 to {MaxResults}.");
        }

        // The floor first: the stores' privacy holds even if the search below fails or finds nothing.
        foreach (var storeId in storeIds)
        {
            if (rag.FindStore(storeId) is not { } store)
            {
                return (RagError.NotFound("vector store", storeId, "retrieval.vector_store_ids")).ToApiError();
            }

            frame.RaisePrivacyFloor(ToPrivacyLevel(store.Privacy));
        }

        var query = frame.Messages.LastOrDefault(m => m.Role == "user")?.Content;
        if (string.IsNullOrWhiteSpace(query))
        {
            return ApiErrors.InvalidParameter("messages", "Retrieval searches with the last user message; the request has none with text.");
        }

        if (query.Length > RagDefaults.MaxQueryLength)
        {
            query = query[..RagDefaults.MaxQueryLength];
        }

        var hits = await rag.SearchAsync(storeIds, query, results, null, cancellationToken, truncateQuery: true);
        if (hits.Error is { } error)
        {
            return (error with { Param = error.Param is null ? Field : $"{Field}.{error.Param}" }).ToApiError();
        }

        if (hits.Value!.Count == 0)
        {
            return null;
        }

        frame.InsertMessages(LeadingSystemMessages(frame.Messages), [new ChatMessage("system", Passages(hits.Value!))]);
        var citations = Citations(hits.Value!);
        var http = frame.Http;
        http.Response.OnStarting(() =>
        {
            if (http.Response.StatusCode < StatusCodes.Status400BadRequest)
            {
                http.Response.Headers[CitationsHeader] = citations;
            }

            return Task.CompletedTask;
        });
        return null;
    }

    /// <summary>"file-…;chunk=3, file-…;chunk=0": the passages' sources in the order of their [n] markers.</summary>
    public static string Citations(IReadOnlyList<RagSearchHit> hits) =>
        string.Join(", ", hits.Select(h => string.Create(CultureInfo.InvariantCulture, $"{h.FileId};chunk={h.ChunkIndex}")));

    public static PrivacyLevel ToPrivacyLevel(RagPrivacy privacy) => privacy switch
    {
        RagPrivacy.Public => PrivacyLevel.Public,
        RagPrivacy.Internal => PrivacyLevel.Internal,
        RagPrivacy.Confidential => PrivacyLevel.Confidential,
        _ => PrivacyLevel.Restricted,
    };

    private static string Passages(IReadOnlyList<RagSearchHit> hits)
    {
        var text = new StringBuilder("Use the following passages from the user's documents when they help to answer; cite them as [n].\n");
        for (var i = 0; i < hits.Count; i++)
        {
            text.Append(CultureInfo.InvariantCulture, $"\n[{i + 1}] {hits[i].FileName} (chunk {hits[i].ChunkIndex}):\n{hits[i].Text}\n");
        }

        return text.ToString();
    }

    private static int LeadingSystemMessages(IReadOnlyList<ChatMessage> messages)
    {
        var index = 0;
        while (index < messages.Count && messages[index].Role is "system" or "developer")
        {
            index++;
        }

        return index;
    }
}

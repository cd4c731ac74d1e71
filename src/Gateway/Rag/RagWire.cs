using System.Text.Json;
using System.Text.Json.Serialization;

namespace InferenceMesh.Gateway.Rag;

// OpenAI's Files and Vector Stores wire types, plus our fields: "sha256" on files; "privacy", "embedding_model" and
// "dimensions" on vector stores; "chunk_index" and "vector_store_id" on search results. Clients ignore extra fields.

public sealed record FileObject(
    string Id, long Bytes, long CreatedAt, string Filename, string Purpose, string Sha256)
{
    public string Object => "file";

    /// <summary>Always "processed": a file is stored whole or not at all.</summary>
    public string Status => "processed";
}

public sealed record FileList(IReadOnlyList<FileObject> Data, string? FirstId, string? LastId, bool HasMore)
{
    public string Object => "list";
}

public sealed record DeletionResult(string Id, string Object, bool Deleted);

public sealed record FileCountsWire(int InProgress, int Completed, int Failed, int Cancelled, int Total);

public sealed record VectorStoreObject(
    string Id,
    long CreatedAt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Name,
    long UsageBytes,
    FileCountsWire FileCounts,
    string Status,
    long LastActiveAt,
    IReadOnlyDictionary<string, string> Metadata,
    string Privacy,
    string EmbeddingModel,
    int? Dimensions,
    ChunkingStrategyWire ChunkingStrategy)
{
    public string Object => "vector_store";

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public JsonElement? ExpiresAfter => null;

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public long? ExpiresAt => null;
}

public sealed record VectorStoreList(IReadOnlyList<VectorStoreObject> Data, string? FirstId, string? LastId, bool HasMore)
{
    public string Object => "list";
}

public sealed record StaticChunkingWire(int MaxChunkSizeTokens, int ChunkOverlapTokens);

public sealed record ChunkingStrategyWire(string Type, StaticChunkingWire Static);

public sealed record LastErrorWire(string Code, string Message);

public sealed record VectorStoreFileObject(
    string Id,
    long UsageBytes,
    long CreatedAt,
    string VectorStoreId,
    string Status,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] LastErrorWire? LastError,
    ChunkingStrategyWire ChunkingStrategy,
    JsonElement Attributes)
{
    public string Object => "vector_store.file";
}

public sealed record VectorStoreFileList(IReadOnlyList<VectorStoreFileObject> Data, string? FirstId, string? LastId, bool HasMore)
{
    public string Object => "list";
}

public sealed record SearchContent(string Text)
{
    public string Type => "text";
}

public sealed record SearchResultItem(string FileId, string Filename, double Score, JsonElement Attributes, IReadOnlyList<SearchContent> Content, int ChunkIndex, string VectorStoreId);

public sealed record SearchResultsPage(IReadOnlyList<string> SearchQuery, IReadOnlyList<SearchResultItem> Data)
{
    public string Object => "vector_store.search_results.page";

    public bool HasMore => false;

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? NextPage => null;
}

public sealed class CreateVectorStoreRequest
{
    public string? Name { get; set; }

    public List<string>? FileIds { get; set; }

    public Dictionary<string, string>? Metadata { get; set; }

    public JsonElement? ChunkingStrategy { get; set; }

    public JsonElement? ExpiresAfter { get; set; }

    /// <summary>Ours: public, internal, confidential (the default) or restricted.</summary>
    public string? Privacy { get; set; }

    /// <summary>Ours: a local model id; default <c>--embedding-model</c>, else the first local model.</summary>
    public string? EmbeddingModel { get; set; }
}

public sealed class CreateVectorStoreFileRequest
{
    public string? FileId { get; set; }

    public JsonElement? Attributes { get; set; }

    public JsonElement? ChunkingStrategy { get; set; }
}

public sealed class VectorStoreSearchRequest
{
    /// <summary>A string or an array of strings (joined with newlines).</summary>
    public JsonElement? Query { get; set; }

    public int? MaxNumResults { get; set; }

    public JsonElement? Filters { get; set; }

    public RankingOptionsWire? RankingOptions { get; set; }

    public bool? RewriteQuery { get; set; }
}

public sealed class RankingOptionsWire
{
    public string? Ranker { get; set; }

    public double? ScoreThreshold { get; set; }
}

/// <summary>
/// Source-generated serialisation of the RAG wire types (snake_case, nulls omitted unless marked). A key given twice in
/// one object is refused, as on the OpenAI endpoints.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.Strict,
    AllowDuplicateProperties = false)]
[JsonSerializable(typeof(FileObject))]
[JsonSerializable(typeof(FileList))]
[JsonSerializable(typeof(DeletionResult))]
[JsonSerializable(typeof(VectorStoreObject))]
[JsonSerializable(typeof(VectorStoreList))]
[JsonSerializable(typeof(VectorStoreFileObject))]
[JsonSerializable(typeof(VectorStoreFileList))]
[JsonSerializable(typeof(SearchResultsPage))]
[JsonSerializable(typeof(CreateVectorStoreRequest))]
[JsonSerializable(typeof(CreateVectorStoreFileRequest))]
[JsonSerializable(typeof(VectorStoreSearchRequest))]
[JsonSerializable(typeof(RetrievalRequest))]
public sealed partial class RagJsonContext : JsonSerializerContext;

using System.Text.Json.Serialization;

namespace InferenceMesh.Gateway.Torrents;

/// <summary><c>POST /v1/models/share</c> body.</summary>
public sealed record ShareRequest(string? Name);

/// <summary>A model this gateway seeds.</summary>
public sealed record ShareResponse(string Name, string Sha256, long Size, string Infohash, string Magnet);

/// <summary>
/// <c>POST /v1/models/pull</c> body: <c>source</c> is a magnet link, an http(s) URL of a .torrent file, or a .torrent
/// file in base64; <c>name</c> and <c>sha256</c> are optional.
/// </summary>
public sealed record PullRequestBody(string? Source, string? Name, string? Sha256);

/// <summary>The state of a pull job (<c>GET /v1/models/pulls/{id}</c>).</summary>
public sealed record PullJobResponse(
    string Id,
    string State,
    string? Name,
    string? Infohash,
    string? Sha256,
    long BytesDone,
    long? BytesTotal,
    long BytesPerSecond,
    int Peers,
    PullJobError? Error);

public sealed record PullJobError(string Code, string Message);

public sealed record SharedList(IReadOnlyList<ShareResponse> Data);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, AllowDuplicateProperties = false)]
[JsonSerializable(typeof(ShareRequest))]
[JsonSerializable(typeof(ShareResponse))]
[JsonSerializable(typeof(PullRequestBody))]
[JsonSerializable(typeof(PullJobResponse))]
[JsonSerializable(typeof(SharedList))]
public sealed partial class TorrentsJsonContext : JsonSerializerContext;

using System.Net;
using System.Text.Json;
using InferenceMesh.Gateway.Errors;
using InferenceMesh.Gateway.Inference;
using InferenceMesh.Gateway.OpenAi;
using InferenceMesh.ModelCache.Store;
using InferenceMesh.ModelCache.Torrents;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace InferenceMesh.Gateway.Torrents;

/// <summary>
/// BitTorrent endpoints (ours; see docs/torrents.md): <c>POST /v1/models/share</c>, <c>GET /v1/models/shared</c>,
/// <c>POST /v1/models/pull</c>, <c>GET /v1/models/pulls/{id}</c>, and the tracker's <c>GET /announce</c>.
/// </summary>
internal static class TorrentsApi
{
    public const string AnnouncePath = "/announce";

    public static IEndpointRouteBuilder MapTorrentsApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/models/share", ShareAsync);
        app.MapGet("/v1/models/shared", Shared);
        app.MapPost("/v1/models/pull", PullAsync);
        app.MapGet("/v1/models/pulls/{id}", GetPull);
        app.MapGet(ModelTorrents.TorrentFilePath + "{infohash}", TorrentFile);
        app.MapGet(AnnouncePath, Announce);
        return app;
    }

    public static async Task<Results<JsonOk<ShareResponse>, ApiError>> ShareAsync(HttpRequest request, [FromServices] ModelTorrents torrents, CancellationToken cancellationToken)
    {
        var body = await ReadAsync(request, TorrentsJsonContext.Default.ShareRequest, cancellationToken);
        if (body.Error is { } bad)
        {
            return bad;
        }

        if (body.Value?.Name is not { } name)
        {
            return ApiErrors.MissingParameter("name");
        }

        if (InvalidName(name) is { } invalid)
        {
            return invalid;
        }

        var result = await torrents.ShareAsync(name, cancellationToken);
        if (result.Shared is not { } shared)
        {
            return ToApiError(result.Error, result.Message, "name");
        }

        return new JsonOk<ShareResponse>(ToWire(shared), TorrentsJsonContext.Default.ShareResponse);
    }

    public static JsonOk<SharedList> Shared([FromServices] ModelTorrents torrents) =>
        new(new SharedList([.. torrents.Shared.Select(ToWire)]), TorrentsJsonContext.Default.SharedList);

    public static async Task<Results<JsonOk<PullJobResponse>, ApiError>> PullAsync(
        HttpRequest request, [FromServices] ModelTorrents torrents, [FromServices] ITorrentEngine engine, CancellationToken cancellationToken)
    {
        var body = await ReadAsync(request, TorrentsJsonContext.Default.PullRequestBody, cancellationToken);
        if (body.Error is { } bad)
        {
            return bad;
        }

        if (body.Value?.Source is not { Length: > 0 } source)
        {
            return ApiErrors.MissingParameter("source");
        }

        if (body.Value.Name is { } name && InvalidName(name) is { } invalid)
        {
            return invalid;
        }

        Sha256Digest? expected = null;
        if (body.Value.Sha256 is { } hex)
        {
            if (!Sha256Digest.TryParse(hex, out var digest))
            {
                return ApiErrors.InvalidParameter("sha256", "'sha256' must be exactly 64 lowercase hex characters.");
            }

            expected = digest;
        }

        var pull = new TorrentPullRequest { Name = body.Value.Name, ExpectedSha256 = expected };
        if (source.StartsWith(MagnetLink.Scheme, StringComparison.Ordinal))
        {
            if (MagnetLink.TryParse(source, out var magnet, out _)
                && magnet.Trackers.FirstOrDefault(t => Uri.TryCreate(t, UriKind.Absolute, out var tracker)
                    && IPAddress.TryParse(tracker.IdnHost, out var ip) && !TorrentUrlFetcher.Allowed(ip, callerIsLocal: true)) is { } linkLocal)
            {
                // The engine announces to a magnet's trackers and the gateway asks them for the .torrent: not a metadata service.
                return ApiErrors.InvalidParameter("source", $"The magnet names a tracker at a link-local address ('{linkLocal}'), which the gateway never contacts.");
            }

            pull = pull with { Magnet = source };
        }
        else if (Uri.TryCreate(source, UriKind.Absolute, out var url) && (url.Scheme == Uri.UriSchemeHttp || url.Scheme == Uri.UriSchemeHttps))
        {
            try
            {
                var local = request.HttpContext.Connection.RemoteIpAddress is { } caller && IPAddress.IsLoopback(caller);
                pull = pull with { Torrent = await TorrentUrlFetcher.FetchAsync(url, local, cancellationToken) };
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                return ApiErrors.InvalidParameter("source", $"The .torrent file could not be fetched from the URL ({e.Message}).");
            }
        }
        else
        {
            var bytes = new byte[source.Length];
            if (!Convert.TryFromBase64String(source, bytes, out var written))
            {
                return ApiErrors.InvalidParameter("source", "'source' must be a magnet link, an http(s) URL of a .torrent file, or a .torrent file in base64.");
            }

            pull = pull with { Torrent = bytes[..written] };
        }

        try
        {
            await engine.EnsureStartedAsync(cancellationToken);
        }
        catch (TorrentEngineException e)
        {
            return ToApiError(TorrentError.EngineUnavailable, e.Message, "source");
        }

        var started = torrents.StartPull(pull);
        if (started.JobId is not { } id || torrents.GetPull(id) is not { } status)
        {
            return ToApiError(started.Error, started.Message, "source");
        }

        return new JsonOk<PullJobResponse>(ToWire(status), TorrentsJsonContext.Default.PullJobResponse);
    }

    public static Results<JsonOk<PullJobResponse>, ApiError> GetPull(string id, [FromServices] ModelTorrents torrents) =>
        torrents.GetPull(id) is { } status
            ? new JsonOk<PullJobResponse>(ToWire(status), TorrentsJsonContext.Default.PullJobResponse)
            : new ApiError(StatusCodes.Status404NotFound, "No pull job with this id.", ApiError.NotFound, "id", "pull_not_found");

    /// <summary>The .torrent of a model this gateway seeds (what a magnet's puller fetches before asking peers).</summary>
    public static IResult TorrentFile(string infohash, [FromServices] ModelTorrents torrents) =>
        torrents.FindSharedTorrent(infohash) is { } bytes
            ? Results.Bytes(bytes, "application/x-bittorrent")
            : new ApiError(StatusCodes.Status404NotFound, "This gateway does not share that torrent.", ApiError.NotFound, "infohash", "torrent_not_found");

    /// <summary>The tracker (BEP 3 / BEP 23). The query is parsed by hand: info_hash and peer_id are raw bytes, not UTF-8.</summary>
    public static IResult Announce(HttpContext context, [FromServices] TorrentTracker tracker)
    {
        var query = ParseRawQuery(context.Request.QueryString.Value);
        byte[] body;
        if (!query.TryGetValue("info_hash", out var infoHash) || infoHash.Length != 20
            || !query.TryGetValue("peer_id", out var peerId) || peerId.Length != 20
            || !TryNumber(query, "port", out var port) || port is < 1 or > 65535
            || context.Connection.RemoteIpAddress is not { } remote)
        {
            body = TorrentTracker.Failure("invalid announce: info_hash, peer_id (20 bytes each) and port are required");
        }
        else
        {
            var address = remote.IsIPv4MappedToIPv6 ? remote.MapToIPv4() : remote;
            body = tracker.Announce(new AnnounceRequest(
                Convert.ToHexStringLower(infoHash),
                peerId,
                address,
                (int)port,
                query.TryGetValue("event", out var e) ? System.Text.Encoding.ASCII.GetString(e) : string.Empty,
                TryNumber(query, "numwant", out var numWant) ? (int)Math.Min(numWant, TorrentTracker.MaxPeersPerAnswer) : TorrentTracker.MaxPeersPerAnswer,
                !query.TryGetValue("compact", out var compact) || compact is not [(byte)'0'],
                TryNumber(query, "left", out var left) ? left : 1));
        }

        return Results.Bytes(body, "text/plain");
    }

    private static Dictionary<string, byte[]> ParseRawQuery(string? query)
    {
        var result = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        if (string.IsNullOrEmpty(query))
        {
            return result;
        }

        foreach (var pair in query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var key = equals < 0 ? pair : pair[..equals];
            var value = equals < 0 ? [] : WebUtility.UrlDecodeToBytes(System.Text.Encoding.ASCII.GetBytes(pair[(equals + 1)..]), 0, pair.Length - equals - 1);
            result.TryAdd(key, value ?? []);
        }

        return result;
    }

    private static bool TryNumber(Dictionary<string, byte[]> query, string key, out long value)
    {
        value = 0;
        return query.TryGetValue(key, out var bytes)
            && long.TryParse(System.Text.Encoding.ASCII.GetString(bytes), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out value);
    }

    private static async Task<(T? Value, ApiError? Error)> ReadAsync<T>(HttpRequest request, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, CancellationToken cancellationToken)
        where T : class
    {
        var body = await InferenceService.ReadBodyAsync(request, type, cancellationToken);
        return (body.Value, body.Error);
    }

    private static ApiError? InvalidName(string name) =>
        ModelName.Validate(name) is { } reason ? ApiErrors.InvalidParameter("name", $"'name' is not a valid model name: {reason}.") : null;

    private static ApiError ToApiError(TorrentError error, string? message, string param) => error switch
    {
        TorrentError.NotFound => new ApiError(StatusCodes.Status404NotFound, message ?? "Not found.", ApiError.InvalidRequest, param, "model_not_found"),
        TorrentError.EngineUnavailable => new ApiError(StatusCodes.Status503ServiceUnavailable, "BitTorrent is unavailable: " + message, ApiError.ServerError, null, "torrent_engine_unavailable"),
        TorrentError.DigestMismatch => new ApiError(StatusCodes.Status409Conflict, message ?? "Digest mismatch.", ApiError.InvalidRequest, param, "digest_mismatch"),
        TorrentError.Cancelled => new ApiError(StatusCodes.Status503ServiceUnavailable, message ?? "Stopping.", ApiError.ServerError, null, "stopping"),
        _ => ApiErrors.InvalidParameter(param, "The torrent source was refused: " + message + "."),
    };

    private static ShareResponse ToWire(SharedModel shared) =>
        new(shared.Name, shared.Sha256.Hex, shared.SizeBytes, shared.InfoHash, shared.Magnet);

    internal static string StateName(TorrentPullState state) => state switch
    {
        TorrentPullState.Metadata => "metadata",
        TorrentPullState.Downloading => "downloading",
        TorrentPullState.Verifying => "verifying",
        TorrentPullState.Done => "done",
        _ => "failed",
    };

    internal static string ErrorCode(TorrentError error) => error switch
    {
        TorrentError.InvalidSource => "invalid_source",
        TorrentError.NotFound => "not_found",
        TorrentError.EngineUnavailable => "torrent_engine_unavailable",
        TorrentError.DigestMismatch => "digest_mismatch",
        TorrentError.InvalidGguf => "invalid_gguf",
        TorrentError.NameTaken => "name_taken",
        TorrentError.Cancelled => "cancelled",
        TorrentError.InsufficientSpace => "insufficient_space",
        _ => "transfer_failed",
    };

    private static PullJobResponse ToWire(TorrentPullStatus s) => new(
        s.Id, StateName(s.State), s.Name, s.InfoHash, s.Sha256?.Hex, s.BytesDone, s.BytesTotal, s.BytesPerSecond, s.Peers,
        s.State == TorrentPullState.Failed ? new PullJobError(ErrorCode(s.Error), s.Message ?? "failed") : null);
}

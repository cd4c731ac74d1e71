namespace InferenceMesh.Gateway.Tests.Fuzz;

/// <summary>One request whose path or query is hostile (ids, list parameters), with the body it carries, if any.</summary>
internal sealed record RouteCase(HttpMethod Method, string Url, string? Json)
{
    /// <summary>A <c>%00</c> in the request line is refused by Kestrel with a bare 400 before the gateway runs.</summary>
    public bool KestrelMayRefuse => Url.Contains("%00", StringComparison.Ordinal);

    /// <summary><c>/health</c> shows the models folder by design (the operator's diagnosis, README "Endpoints").</summary>
    public bool ShowsFolders => Url.StartsWith("/health", StringComparison.Ordinal);
}

/// <summary>
/// Every route the gateway maps with a path parameter or list query (grep MapGet/MapDelete/MapPost in src/Gateway), given
/// hostile ids and query values. The ids never name what the run made, so nothing of it may be deleted.
/// </summary>
internal static class FuzzRoutes
{
    private static readonly string[] Segments =
    [
        "a", new('x', 4000), "%FF", "%C0%AF", "%ED%A0%80", "%00", "%2e", "%2e%2e%2Fx", "%2F", "%5C", "%20", "%0A", "%E2%80%AE", "%F0%9F%98%80",
        "conv_" + new string('0', 32), "conv_" + new string('G', 32), "CONV_" + new string('a', 32), "resp_" + new string('f', 64), "file-%FF",
        "vs_%22", "%27%20OR%201=1", "%25", "null", "-1", "1e309", "stories260K", "stories260K%2Bx", "*", "preset:x", "0123456789abcdef0123456789abcdef01234567",
    ];

    private static readonly string[] Queries =
    [
        "limit=0", "limit=-1", "limit=1e309", "limit=99999999999999999999", "limit=abc", "limit=", "limit=1&limit=2", "order=sideways", "order=",
        "after=%FF", "after=conv_zzz", "after=" + new string('x', 4000), "after=%00", "%FF=1", "limit=%00", "purpose=%ED%A0%80", "order=asc&order=desc",
        "info_hash=%FF&peer_id=%00&port=99999999999", "info_hash=" + string.Concat(Enumerable.Repeat("%FF", 20)) + "&peer_id=" + new string('p', 20) + "&port=6881&numwant=-5&left=-1",
    ];

    public static IEnumerable<RouteCase> All(FuzzResources r)
    {
        string[] gets =
        [
            "/v1/models/{x}", "/v1/conversations/{x}", "/v1/conversations/{x}/items", $"/v1/conversations/{r.KeeperConversation}/items/{{x}}",
            "/v1/presets/{x}", "/v1/responses/{x}", "/v1/responses/{x}/input_items", "/v1/files/{x}", "/v1/files/{x}/content",
            "/v1/vector_stores/{x}", "/v1/vector_stores/{x}/files", $"/v1/vector_stores/{r.VectorStore}/files/{{x}}", "/v1/models/pulls/{x}",
            "/v1/models/torrents/{x}",
        ];
        string[] deletes =
        [
            "/v1/conversations/{x}", $"/v1/conversations/{r.KeeperConversation}/items/{{x}}", "/v1/presets/{x}", "/v1/responses/{x}",
            "/v1/files/{x}", "/v1/vector_stores/{x}", $"/v1/vector_stores/{r.VectorStore}/files/{{x}}",
        ];
        (string Path, string Json)[] posts =
        [
            ("/v1/conversations/{x}", """{"metadata":{"a":"b"}}"""), ("/v1/conversations/{x}/items", """{"items":[{"role":"user","content":"hi"}]}"""),
            ("/v1/presets/{x}", """{"model":"stories260K"}"""), ("/v1/responses/{x}/cancel", "{}"),
            ("/v1/vector_stores/{x}/files", """{"file_id":"file-0"}"""), ("/v1/vector_stores/{x}/search", """{"query":"ball"}"""),
        ];
        string[] lists =
        [
            "/v1/conversations", $"/v1/conversations/{r.KeeperConversation}/items", "/v1/files", "/v1/vector_stores", $"/v1/vector_stores/{r.VectorStore}/files",
            $"/v1/responses/{r.ResponseId}/input_items", "/v1/models", "/v1/presets", "/v1/models/shared", "/v1/mesh/peers", "/announce", "/health", "/metrics",
        ];

        foreach (var segment in Segments)
        {
            foreach (var path in gets) yield return new(HttpMethod.Get, path.Replace("{x}", segment, StringComparison.Ordinal), null);
            foreach (var path in deletes) yield return new(HttpMethod.Delete, path.Replace("{x}", segment, StringComparison.Ordinal), null);
            foreach (var (path, json) in posts) yield return new(HttpMethod.Post, path.Replace("{x}", segment, StringComparison.Ordinal), json);
        }

        foreach (var query in Queries)
        {
            foreach (var path in lists) yield return new(HttpMethod.Get, path + "?" + query, null);
        }
    }
}

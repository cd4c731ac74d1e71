using InferenceMesh.Mesh.Identity;
using InferenceMesh.Mesh.Trust;
using Microsoft.AspNetCore.Http;

namespace InferenceMesh.Mesh.Serving;

/// <summary>The peer that sent a request, proven by its client certificate, with the trust this node gives it.</summary>
public sealed record PeerCaller(NodeId Id, TrustLevel Trust);

/// <summary>
/// Serves a chat request that arrived from a peer on the mesh listener (<c>POST /mesh/v1/chat/completions</c>).
/// Implemented by the host (the gateway: local engine only, quotas, privacy check, receipt). Thread-safe.
/// </summary>
public interface IPeerRequestHandler
{
    Task HandleChatAsync(HttpContext http, PeerCaller caller);
}

/// <summary>The headers a forwarded request carries.</summary>
public static class PeerHeaders
{
    /// <summary>The origin's privacy level (public | internal | confidential | restricted). Required.</summary>
    public const string Privacy = "X-InferenceMesh-Privacy";

    /// <summary>Hops the request may still take including this one; a peer request is served locally only, so 1 is enough. Required, at least 1.</summary>
    public const string Hops = "X-InferenceMesh-Hops";

    /// <summary>The hop limit a node sends: serve it yourself, never forward.</summary>
    public const int HopLimit = 1;
}

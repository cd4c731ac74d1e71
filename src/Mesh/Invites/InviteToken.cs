using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization;
using InferenceMesh.Mesh.Configuration;
using InferenceMesh.Mesh.Identity;

namespace InferenceMesh.Mesh.Invites;

/// <summary>
/// <c>mesh invite</c>'s token: <c>imesh1.</c> + base64url of a small JSON object
/// <c>{"id": printed node id (with its check characters), "gossip": [host:port], "https": [host:port]}</c>.
/// Parsing checks the id's check characters, so a damaged token naming a different node is refused.
/// </summary>
public sealed record InviteToken(NodeId Id, IReadOnlyList<string> Gossip, IReadOnlyList<string> Https)
{
    public const string Prefix = "imesh1.";

    public string Encode()
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(new InviteWire { Id = Id.ToString(), Gossip = [.. Gossip], Https = [.. Https] }, InviteJsonContext.Default.InviteWire);
        return Prefix + Base64Url.EncodeToString(json);
    }

    public static bool TryParse(string? token, [NotNullWhen(true)] out InviteToken? invite, [NotNullWhen(false)] out string? error)
    {
        invite = null;
        if (string.IsNullOrWhiteSpace(token) || !token.Trim().StartsWith(Prefix, StringComparison.Ordinal))
        {
            error = $"an invite token starts with '{Prefix}'";
            return false;
        }

        InviteWire? wire;
        try
        {
            var bytes = Base64Url.DecodeFromChars(token.Trim().AsSpan(Prefix.Length));
            wire = JsonSerializer.Deserialize(bytes, InviteJsonContext.Default.InviteWire);
        }
        catch (Exception ex) when (ex is FormatException or JsonException)
        {
            error = "the invite token is damaged (not base64url JSON)";
            return false;
        }

        if (wire is null || !NodeId.TryParse(wire.Id, out var id, out var idError))
        {
            error = $"the invite's node id is invalid: {(wire is null ? "missing" : NodeIdError(wire.Id))}";
            return false;
        }

        if (wire.Gossip is not { Length: > 0 } gossip || gossip.Any(a => !MeshConfigReader.IsHostPort(a)) || (wire.Https ?? []).Any(a => !MeshConfigReader.IsHostPort(a)))
        {
            error = "the invite needs at least one gossip address, every address as host:port";
            return false;
        }

        invite = new InviteToken(id, gossip, wire.Https ?? []);
        error = null;
        return true;

        static string NodeIdError(string? text) => NodeId.TryParse(text, out _, out var e) ? "" : e;
    }
}

internal sealed class InviteWire
{
    [JsonPropertyName("id")] public string? Id { get; set; }
    [JsonPropertyName("gossip")] public string[]? Gossip { get; set; }
    [JsonPropertyName("https")] public string[]? Https { get; set; }
}

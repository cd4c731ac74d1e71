using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using InferenceMesh.Mesh.Identity;

namespace InferenceMesh.Mesh.Receipts;

/// <summary>
/// What a serving node signs for each request it served for a peer: the hook for a later payment layer.
/// The signature (ECDSA P-256, SHA-256, IEEE P1363 r‖s, base64url) covers <see cref="CanonicalBytes"/>: the UTF-8 of
/// <c>imesh-receipt-v1</c> and then each field on its own line, in this order, each ending in <c>\n</c>:
/// server id, client id, request SHA-256 (lower hex of the request body as received), model name, model SHA-256
/// (lower hex), prompt tokens, completion tokens, time (Unix milliseconds), all integers in invariant decimal.
/// <see cref="ServerKey"/> (the server's SubjectPublicKeyInfo, base64) travels with it; a verifier checks that it
/// hashes to the server id it expected, then the signature.
/// </summary>
public sealed record UsageReceipt
{
    public const string Version = "imesh-receipt-v1";

    [JsonPropertyName("server")] public required string Server { get; init; }
    [JsonPropertyName("client")] public required string Client { get; init; }
    [JsonPropertyName("request_sha256")] public required string RequestSha256 { get; init; }
    [JsonPropertyName("model")] public required string Model { get; init; }
    [JsonPropertyName("model_sha256")] public required string ModelSha256 { get; init; }
    [JsonPropertyName("prompt_tokens")] public int PromptTokens { get; init; }
    [JsonPropertyName("completion_tokens")] public int CompletionTokens { get; init; }
    [JsonPropertyName("time_ms")] public long TimeMs { get; init; }
    [JsonPropertyName("server_key")] public string ServerKey { get; init; } = string.Empty;
    [JsonPropertyName("signature")] public string Signature { get; init; } = string.Empty;

    public byte[] CanonicalBytes() => Encoding.UTF8.GetBytes(string.Join("", new[]
    {
        Version, Server, Client, RequestSha256, Model, ModelSha256,
        PromptTokens.ToString(CultureInfo.InvariantCulture),
        CompletionTokens.ToString(CultureInfo.InvariantCulture),
        TimeMs.ToString(CultureInfo.InvariantCulture),
    }.Select(field => field + "\n")));

    /// <summary>This receipt signed with the serving node's key.</summary>
    public UsageReceipt Sign(NodeIdentity server) => this with
    {
        ServerKey = Convert.ToBase64String(server.Key.ExportSubjectPublicKeyInfo()),
        Signature = Base64Url(server.Key.SignData(CanonicalBytes(), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation)),
    };

    /// <summary>Checks that the receipt is from <paramref name="expectedServer"/>, for <paramref name="expectedClient"/> and this request, and that the signature holds.</summary>
    public ReceiptError Verify(NodeId expectedServer, NodeId expectedClient, string requestSha256)
    {
        if (!NodeId.TryParse(Server, out var server) || !server.Equals(expectedServer)) return ReceiptError.WrongServer;
        if (!NodeId.TryParse(Client, out var client) || !client.Equals(expectedClient)) return ReceiptError.WrongClient;
        if (!string.Equals(RequestSha256, requestSha256, StringComparison.Ordinal)) return ReceiptError.WrongRequest;
        try
        {
            var spki = Convert.FromBase64String(ServerKey);
            if (!NodeId.FromPublicKey(spki).Equals(expectedServer)) return ReceiptError.WrongKey;
            using var key = ECDsa.Create();
            key.ImportSubjectPublicKeyInfo(spki, out _);
            return key.VerifyData(CanonicalBytes(), FromBase64Url(Signature), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation)
                ? ReceiptError.None
                : ReceiptError.BadSignature;
        }
        catch (Exception ex) when (ex is FormatException or CryptographicException)
        {
            return ReceiptError.BadSignature;
        }
    }

    /// <summary>The wire form: base64url of the JSON (one header value, or one SSE comment line).</summary>
    public string ToWire() => Base64Url(JsonSerializer.SerializeToUtf8Bytes(this, ReceiptJsonContext.Default.UsageReceipt));

    public static UsageReceipt? FromWire(string? text)
    {
        if (string.IsNullOrWhiteSpace(text) || text.Length > 8192) return null;
        try
        {
            return JsonSerializer.Deserialize(FromBase64Url(text.Trim()), ReceiptJsonContext.Default.UsageReceipt);
        }
        catch (Exception ex) when (ex is FormatException or JsonException)
        {
            return null;
        }
    }

    public static string Sha256Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static byte[] FromBase64Url(string text)
    {
        var s = text.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(s.PadRight(s.Length + ((4 - (s.Length % 4)) % 4), '='));
    }
}

/// <summary>Why a receipt was refused (<see cref="None"/> when it holds).</summary>
public enum ReceiptError
{
    None,
    Missing,
    Malformed,
    WrongServer,
    WrongClient,
    WrongRequest,
    WrongKey,
    BadSignature,
}

/// <summary>Where receipts travel: a response header (non-streamed), an SSE comment line before <c>[DONE]</c> (streamed).</summary>
public static class ReceiptWire
{
    public const string Header = "X-InferenceMesh-Receipt";

    /// <summary>The SSE comment prefix: <c>: imesh-receipt {wire}</c>. Comments are ignored by SSE clients; ours strip it.</summary>
    public const string CommentPrefix = ": imesh-receipt ";
}

[JsonSerializable(typeof(UsageReceipt))]
[JsonSerializable(typeof(List<StoredReceipt>))]
[JsonSourceGenerationOptions(WriteIndented = false)]
internal sealed partial class ReceiptJsonContext : JsonSerializerContext;

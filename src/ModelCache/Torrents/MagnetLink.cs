using System.Text;
using InferenceMesh.ModelCache.Store;

namespace InferenceMesh.ModelCache.Torrents;

/// <summary>
/// <c>magnet:?xt=urn:btih:&lt;40 hex&gt;&amp;dn=&lt;name&gt;&amp;tr=&lt;announce&gt;…&amp;x.sha256=&lt;64 hex&gt;</c> (v1), or
/// <c>xt=urn:btmh:1220&lt;64 hex&gt;</c> for a v2 torrent (BEP 52: a multihash, 0x12 SHA-256 of 0x20 bytes). The infohash is
/// what the puller trusts: the metadata it receives must hash to it, and that metadata carries the model's SHA-256
/// and name. <c>x.sha256</c> repeats the digest so a puller can refuse mismatching metadata and say so clearly; when
/// both are present they must agree. <c>dn</c> is only a display name.
/// </summary>
public sealed record MagnetLink(string InfoHash, string? DisplayName, IReadOnlyList<string> Trackers, Sha256Digest? Sha256)
{
    public const string Scheme = "magnet:";

    /// <summary>The longest magnet link accepted.</summary>
    public const int MaxLength = 8192;

    public override string ToString()
    {
        var text = new StringBuilder(InfoHash.Length == 40 ? "magnet:?xt=urn:btih:" : "magnet:?xt=urn:btmh:1220").Append(InfoHash);
        if (DisplayName is not null)
        {
            text.Append("&dn=").Append(Uri.EscapeDataString(DisplayName));
        }

        foreach (var tracker in Trackers)
        {
            text.Append("&tr=").Append(Uri.EscapeDataString(tracker));
        }

        if (Sha256 is { } digest)
        {
            text.Append("&x.sha256=").Append(digest.Hex);
        }

        return text.ToString();
    }

    /// <summary>
    /// Parses and validates a magnet link (a v1 hex infohash or a v2 SHA-256 multihash; a hybrid link with both is
    /// taken as v2; trackers http(s); digest and name validated).
    /// </summary>
    public static bool TryParse(string? text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out MagnetLink? magnet, out string? error)
    {
        magnet = null;
        if (text is null || !text.StartsWith("magnet:?", StringComparison.Ordinal) || text.Length > MaxLength)
        {
            error = "not a magnet link (magnet:?xt=urn:btih:…)";
            return false;
        }

        string? infoHash = null;
        string? infoHashV2 = null;
        string? name = null;
        Sha256Digest? digest = null;
        var trackers = new List<string>();
        foreach (var pair in text["magnet:?".Length..].Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                error = "a magnet parameter has no value";
                return false;
            }

            var key = pair[..equals];
            string value;
            try
            {
                value = Uri.UnescapeDataString(pair[(equals + 1)..].Replace('+', ' '));
            }
            catch (UriFormatException)
            {
                error = $"magnet parameter '{key}' is not URL-encoded correctly";
                return false;
            }

            switch (key)
            {
                case "xt" when value.StartsWith("urn:btih:", StringComparison.Ordinal):
                    var hex = value["urn:btih:".Length..];
                    if (infoHash is not null || hex.Length != 40 || !IsInfoHash(hex))
                    {
                        error = "the magnet's infohash must be one urn:btih: of 40 lowercase hex characters";
                        return false;
                    }

                    infoHash = hex;
                    break;
                case "xt" when value.StartsWith("urn:btmh:", StringComparison.Ordinal):
                    var multihash = value["urn:btmh:".Length..];
                    if (infoHashV2 is not null || !multihash.StartsWith("1220", StringComparison.Ordinal) || !IsInfoHash(multihash[4..]) || multihash.Length != 68)
                    {
                        error = "the magnet's v2 infohash must be one urn:btmh:1220 followed by 64 lowercase hex characters";
                        return false;
                    }

                    infoHashV2 = multihash[4..];
                    break;
                case "xt":
                    break; // other hash types are not torrents
                case "dn":
                    if (ModelName.Validate(value) is { } nameError)
                    {
                        error = $"the magnet's name (dn) is not a valid model name: {nameError}";
                        return false;
                    }

                    name = value;
                    break;
                case "tr":
                    if (!TorrentMetainfo.IsHttpUrl(value))
                    {
                        error = $"the magnet's tracker '{TorrentMetainfo.Printable(value)}' is not an http(s) URL";
                        return false;
                    }

                    trackers.Add(value);
                    break;
                case "x.sha256":
                    if (!Sha256Digest.TryParse(value, out var parsed))
                    {
                        error = "the magnet's x.sha256 must be exactly 64 lowercase hex characters";
                        return false;
                    }

                    digest = parsed;
                    break;
                default:
                    break;
            }
        }

        if ((infoHashV2 ?? infoHash) is not { } hash)
        {
            error = "the magnet link has no xt=urn:btih: or xt=urn:btmh: infohash";
            return false;
        }

        magnet = new MagnetLink(hash, name, trackers, digest);
        error = null;
        return true;
    }

    /// <summary>A v1 (40) or v2 (64) infohash: lowercase hex characters.</summary>
    public static bool IsInfoHash(string? text) =>
        text is { Length: 40 or 64 } && text.All(c => c is (>= '0' and <= '9') or (>= 'a' and <= 'f'));
}
